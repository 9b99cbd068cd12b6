//! The proxy Space's state, read before the target is touched: the proxy token's permissions, the Space's
//! variables, secret and files, refusing a Space that is someone else's app.

use std::collections::BTreeMap;

use hub::{HubError, RepoId, RepoRef, Token, WhoAmI};

use crate::context::Ctx;
use crate::failure::Failure;
use crate::plan::files;
use crate::plan::proxy::ProxyState;
use crate::proxy_space::{settings, template};
use crate::report::Report;
use crate::source::LocalFile;
use crate::tree_cache;

/// Files a freshly created Space holds before we write the template.
const FRESH_SPACE_FILES: &[&str] = &[".gitattributes", "README.md"];

/// The proxy token, and whether it is the deploy token because none was given.
pub struct ProxyToken<'a> {
    pub token: &'a Token,
    pub is_fallback: bool,
}

/// Remote reads only: the proxy token's permissions, and the proxy Space if it exists.
pub async fn read(
    ctx: &Ctx<'_>,
    who: &WhoAmI,
    target: &RepoId,
    id: RepoId,
    token: &ProxyToken<'_>,
) -> Result<ProxyState, Failure> {
    template::check_complete()?;
    check_proxy_token(ctx, who, target, token).await?;
    let hub_err = |doing: &str| {
        let doing = format!("proxy Space: {doing} {id}");
        move |e: HubError| Failure::hub(&doing, e)
    };
    let proxy_ref = RepoRef::space(id.clone());
    let Some(info) = ctx
        .client
        .repo_info(&proxy_ref, None)
        .await
        .map_err(hub_err("reading"))?
    else {
        return Ok(ProxyState {
            id,
            existing: None,
            variables: BTreeMap::new(),
            secret_present: false,
            tree: Vec::new(),
        });
    };
    let (variables, tree, secrets) = tokio::join!(
        ctx.client.space_variables(&id),
        tree_cache::tree_at(ctx, &proxy_ref, &info.sha),
        ctx.client.list_space_secrets(&id),
    );
    let variables = variables.map_err(hub_err("reading the variables of"))?;
    let mut tree = tree.map_err(hub_err("listing"))?;
    if !variables.contains_key(settings::TARGET_URL) {
        // Right after someone's commit the Hub's CDN may still serve the Space's first commit, which looks like
        // a proxy whose first run stopped early: judge by the current head (preupload's answer, never cached).
        let target = files::Target {
            client: &ctx.client,
            repo: &proxy_ref,
            revision: "main",
            create_pr: false,
            git_ignore: None,
        };
        let probe = LocalFile::from_bytes("README.md", b"---\n---\n".to_vec());
        if let Some(head) = files::current_head(&target, &probe)
            .await?
            .filter(|h| *h != info.sha)
        {
            tree = tree_cache::tree_at(ctx, &proxy_ref, &head)
                .await
                .map_err(hub_err("listing"))?;
        }
        // Not (yet) ours. A Space that still holds only what the Hub writes on creation is a proxy whose first
        // run stopped early; anything else is someone's app, which we must not overwrite.
        if let Some(other) = tree
            .iter()
            .find(|e| !FRESH_SPACE_FILES.contains(&e.path.as_str()))
        {
            return Err(Failure::input(format!(
                "Space {id} already exists and is not an hf-deploy proxy (it has {} and no {} variable); choose \
                 another proxy_space_suffix or delete that Space",
                other.path,
                settings::TARGET_URL
            )));
        }
    }
    if info.private {
        ctx.reporter.warn(&format!(
            "proxy Space {id} is private, so callers cannot reach it; make it public in its settings"
        ));
    }
    let secret_present = secrets
        .map_err(hub_err("listing the secrets of"))?
        .iter()
        .any(|k| k == settings::TOKEN_SECRET);
    Ok(ProxyState {
        id,
        existing: Some(info),
        variables,
        secret_present,
        tree,
    })
}

/// Warns when the proxy token can write; fails (exit 3) when it is not a valid token.
async fn check_proxy_token(
    ctx: &Ctx<'_>,
    who: &WhoAmI,
    target: &RepoId,
    token: &ProxyToken<'_>,
) -> Result<(), Failure> {
    let fetched;
    let who = if token.is_fallback {
        who
    } else {
        // Same endpoint and retry policy as the deploy client, the proxy token instead.
        let client = ctx.client.with_token(Some(token.token.clone()));
        fetched = client.whoami().await.map_err(|e| match e {
            HubError::Unauthorized { .. } => Failure::auth(
                "the Hub refused HF_DEPLOY_PROXY_HF_TOKEN (proxy_hf_token) as invalid; create a fine-grained read \
                 token with access to the private Space",
            ),
            other => Failure::hub("proxy Space: checking the proxy token (whoami)", other),
        })?;
        &fetched
    };
    let writes = who.token_role.as_deref() == Some("write")
        || !who.fine_grained_write_namespaces.is_empty()
        || !who.fine_grained_write_repos.is_empty();
    if writes {
        let which = if token.is_fallback {
            "proxy_hf_token is not set, so the proxy uses hf_token, which can write"
        } else {
            "proxy_hf_token can write"
        };
        ctx.reporter.warn(&format!(
            "{which}: anyone who can call the proxy acts with this token on the private Space. Use a fine-grained \
             read-only token with access to {target} as proxy_hf_token."
        ));
    }
    Ok(())
}
