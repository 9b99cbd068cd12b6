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

mod apply;
mod error;
pub mod naming;
mod prepare;
pub mod probe;
pub mod settings;
pub mod template;

use std::collections::BTreeMap;
use std::time::Duration;

use hub::{HubClient, RepoId, RepoInfo, RepoRef, RepoType, Token, WhoAmI};

pub use crate::report::Report;
pub use apply::apply;
pub use error::ProvisionError;
pub use naming::proxy_repo_id;
pub use prepare::prepare;

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
    pub(crate) existing: Option<RepoInfo>,
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) secret_present: bool,
}

/// Prepare + apply in one call.
pub async fn provision(ctx: &ProvisionContext<'_>) -> Result<ProxyOutputs, ProvisionError> {
    let prepared = prepare(ctx).await?;
    apply(ctx, prepared).await
}
