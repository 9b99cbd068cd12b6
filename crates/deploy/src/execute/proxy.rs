//! The proxy Space's writes, after the target is deployed: create it, write the settings that differ, sync the
//! template through the same path as the deployed repo, then wait for it and probe it.

use hub::{CreateRepo, HubClient, HubError, RepoId, RepoRef, SpaceSdk, Token};

use super::probe::wait_and_probe;
use super::space_wait::WaitOptions;
use super::sync::Syncer;
use crate::access::{plan_refusal, SpaceRole};
use crate::context::Ctx;
use crate::failure::Failure;
use crate::plan::proxy::{app_origin, settings_for, ProxyPlan};
use crate::proxy_space::settings::{fingerprint, SettingsPlan, TOKEN_FINGERPRINT, TOKEN_SECRET};
use crate::report::Report;

/// The proxy's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOutputs {
    /// `proxy_repo_id`.
    pub repo_id: String,
    /// `proxy_url`: the proxy Space's app URL.
    pub url: String,
}

/// Carries out the proxy's part of the plan. Writes nothing that already has the wanted value.
pub async fn apply(
    ctx: &Ctx<'_>,
    plan: ProxyPlan,
    target: &RepoId,
    token: &Token,
) -> Result<ProxyOutputs, Failure> {
    let id = plan.state.id.clone();
    let proxy_ref = RepoRef::space(id.clone());
    let existed = !plan.creates();
    let mut url = plan.url.clone();
    if !existed {
        create(ctx, &proxy_ref).await?;
        url = ctx
            .client
            .repo_info(&proxy_ref, None)
            .await
            .map_err(|e| Failure::hub(&format!("proxy Space: reading {id}"), e))?
            .and_then(|i| i.host)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
    }
    // Settings before the template, so the first build already runs with them.
    let settings = match plan.settings.clone() {
        Some(settings) => settings,
        None => {
            let target_url = target_url(ctx, target).await?;
            settings_for(&plan.state, &plan.config, &target_url, token)
        }
    };
    write_settings(&ctx.client, &id, &settings, token, ctx.reporter).await?;
    let committed = sync_template(ctx, &proxy_ref, &plan, existed).await?;
    // No restart call: on the Hub every secret or variable write restarts the Space itself, and a commit
    // rebuilds it; one more restart would only build it twice.
    if ctx.cfg.wait {
        let changed = !existed || committed || !settings.is_empty();
        // After a write the Hub may still report the previous build's stage for a while (a new Space's
        // NO_APP_FILE, the old RUNNING): the same grace as the target Space's wait.
        let opts = if changed {
            WaitOptions::after_commit(ctx.cfg.wait_timeout, ctx.tuning)
        } else {
            WaitOptions::settled(ctx.cfg.wait_timeout, ctx.tuning)
        };
        wait_and_probe(&ctx.client, &id, &url, &opts, changed, ctx.reporter).await?;
    }
    Ok(ProxyOutputs {
        repo_id: id.to_string(),
        url,
    })
}

/// Makes the Space hold the template; returns whether a commit was made. An unchanged template against an
/// existing Space needs no round trip; a new Space is planned again against what the Hub created.
async fn sync_template(
    ctx: &Ctx<'_>,
    proxy_ref: &RepoRef,
    plan: &ProxyPlan,
    existed: bool,
) -> Result<bool, Failure> {
    let id = &proxy_ref.id;
    // The plan already said "template up to date".
    if existed && plan.template.is_empty() {
        return Ok(false);
    }
    let first = existed.then(|| plan.template.clone());
    let synced = Syncer::for_proxy(ctx, proxy_ref)
        .run(&plan.files, first)
        .await?;
    if let Some(last) = synced.commits.last() {
        let c = synced.plan.counts();
        ctx.reporter.info(&format!(
            "proxy Space {id}: template {} added, {} updated, {} deleted, {} unchanged (commit {})",
            c.added, c.updated, c.deleted, c.unchanged, last.commit_oid
        ));
    }
    Ok(!synced.commits.is_empty())
}

/// The target Space's own app URL, once it exists.
async fn target_url(ctx: &Ctx<'_>, target: &RepoId) -> Result<String, Failure> {
    let info = ctx
        .client
        .repo_info(&RepoRef::space(target.clone()), None)
        .await
        .map_err(|e| Failure::hub(&format!("proxy Space: reading target Space {target}"), e))?;
    if info.as_ref().is_some_and(|i| !i.private) {
        ctx.reporter.info(&format!(
            "target Space {target} is public, so callers can also reach it directly; the proxy still adds its \
             CORS policy and limits"
        ));
    }
    let Some(host) = info.and_then(|i| i.host) else {
        return Err(Failure::runtime(format!(
            "target Space {target} has no app URL (host) yet; set proxy_target_url or rerun once it exists"
        )));
    };
    app_origin(&host).ok_or_else(|| {
        Failure::runtime(format!(
            "target Space {target} reports an unusable app URL {host:?}; set proxy_target_url"
        ))
    })
}

async fn create(ctx: &Ctx<'_>, proxy_ref: &RepoRef) -> Result<(), Failure> {
    let id = &proxy_ref.id;
    let opts = CreateRepo {
        visibility: Some(hub::Visibility::Public),
        space_sdk: Some(SpaceSdk::Docker),
        hardware: None,
    };
    match ctx.client.create_repo(proxy_ref, &opts).await {
        Ok(created) if created.already_existed => {
            ctx.reporter
                .info(&format!("proxy Space {id} appeared meanwhile; reusing it"));
            Ok(())
        }
        Ok(_) => {
            ctx.reporter
                .info(&format!("proxy Space {id}: created (public, docker)"));
            Ok(())
        }
        Err(HubError::PaymentRequired { .. }) => Err(plan_refusal(
            &id.namespace,
            SpaceSdk::Docker,
            SpaceRole::Proxy,
        )),
        Err(e) => Err(Failure::hub(&format!("proxy Space: creating {id}"), e)),
    }
}

/// Writes what `planned` says: the secret first, then its fingerprint, so a failure in between leaves a
/// stale fingerprint and the next run writes the secret again.
async fn write_settings(
    client: &HubClient,
    repo: &RepoId,
    planned: &SettingsPlan,
    token: &Token,
    report: &dyn Report,
) -> Result<(), Failure> {
    let failed = |doing: String| move |e| Failure::hub(&format!("proxy Space: {doing}"), e);
    for (key, value) in &planned.variables {
        client
            .add_space_variable(repo, key, value)
            .await
            .map_err(failed(format!("setting variable {key} on {repo}")))?;
        report.info(&format!("proxy Space {repo}: variable {key} = {value}"));
    }
    if planned.secret {
        client
            .add_space_secret(repo, TOKEN_SECRET, token)
            .await
            .map_err(failed(format!("setting secret {TOKEN_SECRET} on {repo}")))?;
        client
            .add_space_variable(repo, TOKEN_FINGERPRINT, &fingerprint(token))
            .await
            .map_err(failed(format!(
                "setting variable {TOKEN_FINGERPRINT} on {repo}"
            )))?;
        report.info(&format!("proxy Space {repo}: secret {TOKEN_SECRET} set"));
    }
    Ok(())
}
