//! The remote reads done before the target is touched: the proxy token's permissions and the state of the
//! proxy Space, refusing a Space that is someone else's app.

use std::collections::BTreeMap;

use hub::{HubError, RepoRef};

use super::{settings, template, Prepared, ProvisionContext, ProvisionError};

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
