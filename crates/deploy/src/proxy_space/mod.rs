//! Provisioning of the public proxy Space in front of a private Space (`create_proxy: true`).
//!
//! The deploy command calls, in order: [`preflight`] (pure, during validation), [`prepare`] (remote reads
//! only, before the target is touched, so every 2/3 exit still means "nothing changed"), then, after the
//! target is deployed, [`apply`]: create the public Docker Space, set its variables and token secret when
//! they differ, sync the embedded template (no commit when unchanged), wait for it and probe it.
//!
//! ```text
//! let proxy = proxy_space::preflight(&Preflight { whoami, target, suffix: "-proxy", .. })?; // alice/app-proxy
//! let prepared = proxy_space::prepare(&ctx).await?;
//! /* deploy the target */
//! let out = proxy_space::apply(&ctx, prepared).await?;  // out.url = https://alice-app-proxy.hf.space
//! ```

mod error;
pub mod naming;
pub mod probe;
pub mod settings;
pub mod template;

use std::collections::BTreeMap;
use std::time::Duration;

use hub::{CreateRepo, HubClient, HubError, RepoId, RepoInfo, RepoRef, RepoType, Token, WhoAmI};

pub use crate::report::Report;
pub use error::ProvisionError;
pub use naming::proxy_repo_id;

/// Inputs of the pure pre-flight check.
pub struct Preflight<'a> {
    pub whoami: &'a WhoAmI,
    pub target: &'a RepoRef,
    pub suffix: &'a str,
    pub target_url_override: Option<&'a str>,
    pub allow_origins: &'a str,
}

/// Checks everything about the proxy that needs no remote call and returns the proxy's repo id.
/// Order: repo type, proxy id, `proxy_target_url`, `proxy_allow_origins` (exit 2), then the plan (exit 3).
pub fn preflight(p: &Preflight<'_>) -> Result<RepoId, ProvisionError> {
    if p.target.repo_type != RepoType::Space {
        return Err(ProvisionError::Input(format!(
            "create_proxy works only for Spaces, and {} is a {}; drop create_proxy or use repo_type space",
            p.target.id, p.target.repo_type
        )));
    }
    let proxy = proxy_repo_id(&p.target.id, p.suffix)?;
    if let Some(url) = p.target_url_override {
        naming::validate_target_url(url)?;
    }
    naming::validate_allow_origins(p.allow_origins)?;
    naming::check_plan(p.whoami, &proxy.namespace)?;
    Ok(proxy)
}

/// Everything provisioning needs from the deploy command.
pub struct ProvisionContext<'a> {
    /// The deploy client (HF_TOKEN).
    pub client: &'a HubClient,
    pub whoami: &'a WhoAmI,
    pub target: &'a RepoId,
    /// From [`preflight`].
    pub proxy: &'a RepoId,
    pub target_url_override: Option<&'a str>,
    pub allow_origins: &'a str,
    /// HF_DEPLOY_PROXY_HF_TOKEN, else HF_TOKEN.
    pub proxy_token: &'a Token,
    /// True when `proxy_token` is HF_TOKEN because no proxy token was given.
    pub proxy_token_is_fallback: bool,
    pub wait: bool,
    pub wait_timeout: Duration,
    pub dry_run: bool,
    pub report: &'a (dyn Report + Send + Sync),
}

/// What the deploy command writes to its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOutputs {
    /// `proxy_repo_id`.
    pub repo_id: String,
    /// `proxy_url`: the proxy Space's app URL (empty in a dry run when the Space does not exist yet).
    pub url: String,
    /// The template commit, when one was made.
    pub commit: Option<String>,
    /// Whether anything on the proxy Space was written.
    pub changed: bool,
}

/// What [`prepare`] learnt; handed to [`apply`].
#[derive(Debug, Clone)]
pub struct Prepared {
    existing: Option<RepoInfo>,
    variables: BTreeMap<String, String>,
    secret_present: bool,
}

/// Files a freshly created Space holds before we write the template.
const FRESH_SPACE_FILES: &[&str] = &[".gitattributes", "README.md"];

/// Remote reads only: the proxy token's permissions, and the proxy Space if it exists.
pub async fn prepare(ctx: &ProvisionContext<'_>) -> Result<Prepared, ProvisionError> {
    template::check_complete()?;
    check_proxy_token(ctx).await?;
    let proxy_ref = RepoRef::space(ctx.proxy.clone());
    let existing = ctx
        .client
        .repo_info(&proxy_ref, None)
        .await
        .map_err(ProvisionError::hub(format!(
            "reading proxy Space {}",
            ctx.proxy
        )))?;
    let Some(info) = existing else {
        return Ok(Prepared {
            existing: None,
            variables: BTreeMap::new(),
            secret_present: false,
        });
    };
    let variables = ctx
        .client
        .space_variables(ctx.proxy)
        .await
        .map_err(ProvisionError::hub(format!(
            "reading the variables of {}",
            ctx.proxy
        )))?;
    if !variables.contains_key(settings::TARGET_URL) {
        // Not (yet) ours. A Space that still holds only what the Hub writes on creation is a proxy whose first
        // run stopped early; anything else is someone's app, which we must not overwrite.
        let tree =
            ctx.client
                .list_tree(&proxy_ref, &info.sha)
                .await
                .map_err(ProvisionError::hub(format!(
                    "listing proxy Space {}",
                    ctx.proxy
                )))?;
        if let Some(other) = tree
            .iter()
            .find(|e| !FRESH_SPACE_FILES.contains(&e.path.as_str()))
        {
            return Err(ProvisionError::Input(format!(
                "Space {} already exists and is not an hf-deploy proxy (it has {} and no {} variable); \
                 choose another proxy_space_suffix or delete that Space",
                ctx.proxy,
                other.path,
                settings::TARGET_URL
            )));
        }
    }
    if info.private {
        ctx.report.warn(&format!(
            "proxy Space {} is private, so callers cannot reach it; make it public in its settings",
            ctx.proxy
        ));
    }
    let secret_present = ctx
        .client
        .list_space_secrets(ctx.proxy)
        .await
        .map_err(ProvisionError::hub(format!(
            "listing the secrets of {}",
            ctx.proxy
        )))?
        .iter()
        .any(|k| k == settings::TOKEN_SECRET);
    Ok(Prepared {
        existing: Some(info),
        variables,
        secret_present,
    })
}

/// Warns when the proxy token can write; fails (exit 3) when it is not a valid token.
async fn check_proxy_token(ctx: &ProvisionContext<'_>) -> Result<(), ProvisionError> {
    let fetched;
    let who = if ctx.proxy_token_is_fallback {
        ctx.whoami
    } else {
        // Same endpoint and retry policy as the deploy client, the proxy token instead.
        let client = ctx.client.with_token(Some(ctx.proxy_token.clone()));
        fetched = client.whoami().await.map_err(|e| match e {
            HubError::Unauthorized { .. } => ProvisionError::Permission(
                "the Hub refused HF_DEPLOY_PROXY_HF_TOKEN (proxy_hf_token) as invalid; create a fine-grained \
                 read token with access to the private Space"
                    .into(),
            ),
            other => ProvisionError::hub("checking the proxy token (whoami)")(other),
        })?;
        &fetched
    };
    let writes = who.token_role.as_deref() == Some("write")
        || !who.fine_grained_write_namespaces.is_empty()
        || !who.fine_grained_write_repos.is_empty();
    if writes {
        let which = if ctx.proxy_token_is_fallback {
            "proxy_hf_token is not set, so the proxy uses hf_token, which can write"
        } else {
            "proxy_hf_token can write"
        };
        ctx.report.warn(&format!(
            "{which}: anyone who can call the proxy acts with this token on the private Space. Use a \
             fine-grained read-only token with access to {} as proxy_hf_token.",
            ctx.target
        ));
    }
    Ok(())
}

/// Creates or updates the proxy Space. Writes nothing that already has the wanted value.
pub async fn apply(
    ctx: &ProvisionContext<'_>,
    prepared: Prepared,
) -> Result<ProxyOutputs, ProvisionError> {
    let report = ctx.report;
    let proxy_ref = RepoRef::space(ctx.proxy.clone());
    let target_url = target_url(ctx).await?;
    let mut changed = false;

    let existed_before = prepared.existing.is_some();
    let mut info = prepared.existing;
    if info.is_none() {
        if ctx.dry_run {
            report.info(&format!(
                "proxy Space {}: would create it (public, docker)",
                ctx.proxy
            ));
        } else {
            create(ctx, &proxy_ref).await?;
            changed = true;
            info = ctx
                .client
                .repo_info(&proxy_ref, None)
                .await
                .map_err(ProvisionError::hub(format!(
                    "reading proxy Space {}",
                    ctx.proxy
                )))?;
        }
    }

    // Settings before the template, so the first build already runs with them.
    let settings_plan = match &target_url {
        Some(url) => {
            let wanted = settings::wanted_variables(
                url,
                &naming::validate_allow_origins(ctx.allow_origins)?,
            );
            settings::plan(
                &prepared.variables,
                prepared.secret_present,
                &wanted,
                ctx.proxy_token,
            )
        }
        None => {
            report.info(&format!(
                "proxy Space {}: would set {} and {} once the target Space exists",
                ctx.proxy,
                settings::TARGET_URL,
                settings::ALLOW_ORIGINS
            ));
            settings::SettingsPlan::default()
        }
    };
    if ctx.dry_run {
        for (key, value) in &settings_plan.variables {
            report.info(&format!(
                "proxy Space {}: would set variable {key} = {value}",
                ctx.proxy
            ));
        }
        if settings_plan.secret {
            report.info(&format!(
                "proxy Space {}: would set secret {}",
                ctx.proxy,
                settings::TOKEN_SECRET
            ));
        }
    } else if !settings_plan.is_empty() {
        settings::apply(
            ctx.client,
            ctx.proxy,
            &settings_plan,
            ctx.proxy_token,
            report,
        )
        .await?;
        changed = true;
    }

    let files = template::render(ctx.target, ctx.proxy);
    let commit = if info.is_some() {
        let (planned, commit) =
            template::sync(ctx.client, &proxy_ref, &files, ctx.dry_run, report).await?;
        match (&commit, ctx.dry_run) {
            (Some(oid), _) => report.info(&format!(
                "proxy Space {}: template {} (commit {oid})",
                ctx.proxy,
                planned.summary()
            )),
            (None, true) if !planned.is_empty() => report.info(&format!(
                "proxy Space {}: would update template: {}",
                ctx.proxy,
                planned.summary()
            )),
            (None, _) => report.info(&format!("proxy Space {}: template up to date", ctx.proxy)),
        }
        commit
    } else if ctx.dry_run {
        report.info(&format!(
            "proxy Space {}: would upload the template ({} files)",
            ctx.proxy,
            files.len()
        ));
        None
    } else {
        return Err(ProvisionError::Failed(format!(
            "proxy Space {} was created but the Hub does not show it; rerun the deploy",
            ctx.proxy
        )));
    };
    changed |= commit.is_some();

    // A commit rebuilds the Space; settings alone need a restart to reach the running proxy.
    if !ctx.dry_run && existed_before && commit.is_none() && !settings_plan.is_empty() {
        ctx.client
            .restart_space(ctx.proxy)
            .await
            .map_err(ProvisionError::hub(format!(
                "restarting {} to apply its new settings",
                ctx.proxy
            )))?;
        report.info(&format!(
            "proxy Space {}: restarted to apply the new settings",
            ctx.proxy
        ));
    }

    let url = info
        .as_ref()
        .and_then(|i| i.host.clone())
        .unwrap_or_default();
    if ctx.wait && !ctx.dry_run {
        probe::wait_and_probe(
            ctx.client,
            ctx.proxy,
            &url,
            ctx.wait_timeout,
            changed,
            report,
        )
        .await?;
    }
    Ok(ProxyOutputs {
        repo_id: ctx.proxy.to_string(),
        url: url.trim_end_matches('/').to_string(),
        commit,
        changed,
    })
}

/// Prepare + apply in one call.
pub async fn provision(ctx: &ProvisionContext<'_>) -> Result<ProxyOutputs, ProvisionError> {
    let prepared = prepare(ctx).await?;
    apply(ctx, prepared).await
}

/// The upstream: `proxy_target_url`, else the target Space's own app URL. `None` only in a dry run whose
/// target does not exist yet.
async fn target_url(ctx: &ProvisionContext<'_>) -> Result<Option<String>, ProvisionError> {
    if let Some(url) = ctx.target_url_override {
        return naming::validate_target_url(url).map(Some);
    }
    let info = ctx
        .client
        .repo_info(&RepoRef::space(ctx.target.clone()), None)
        .await
        .map_err(ProvisionError::hub(format!(
            "reading target Space {}",
            ctx.target
        )))?;
    if info.as_ref().is_some_and(|i| !i.private) {
        ctx.report.info(&format!(
            "target Space {} is public, so callers can also reach it directly; the proxy still adds its \
             CORS policy and limits",
            ctx.target
        ));
    }
    match info.and_then(|i| i.host) {
        Some(host) => naming::validate_target_url(&host).map(Some).map_err(|_| {
            ProvisionError::Failed(format!(
                "target Space {} reports an unusable app URL {host:?}; set proxy_target_url",
                ctx.target
            ))
        }),
        None if ctx.dry_run => Ok(None),
        None => Err(ProvisionError::Failed(format!(
            "target Space {} has no app URL (host) yet; set proxy_target_url or rerun once it exists",
            ctx.target
        ))),
    }
}

async fn create(ctx: &ProvisionContext<'_>, proxy_ref: &RepoRef) -> Result<(), ProvisionError> {
    let opts = CreateRepo {
        private: false,
        space_sdk: Some("docker".to_string()),
    };
    match ctx.client.create_repo(proxy_ref, &opts).await {
        Ok(created) if created.already_existed => {
            ctx.report.info(&format!(
                "proxy Space {} appeared meanwhile; reusing it",
                ctx.proxy
            ));
            Ok(())
        }
        Ok(_) => {
            ctx.report.info(&format!(
                "proxy Space {}: created (public, docker)",
                ctx.proxy
            ));
            Ok(())
        }
        Err(HubError::PaymentRequired { .. }) => {
            Err(naming::check_plan_message(&ctx.proxy.namespace))
        }
        Err(e) => Err(ProvisionError::hub(format!(
            "creating proxy Space {}",
            ctx.proxy
        ))(e)),
    }
}
