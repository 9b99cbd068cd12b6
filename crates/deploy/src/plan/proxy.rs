//! The proxy Space's part of the plan: create it or not, which settings to write, which template files change.

use std::collections::BTreeMap;
use std::sync::Arc;

use hub::{RepoId, RepoInfo, Token, TreeEntry};

use super::files::{diff, FilePlan};
use crate::config::ProxyConfig;
use crate::proxy_space::settings::{self, SettingsPlan};
use crate::source::LocalFile;

/// The proxy Space as the engine found it (remote reads only).
#[derive(Debug, Clone)]
pub struct ProxyState {
    pub id: RepoId,
    /// `None`: it does not exist yet.
    pub existing: Option<RepoInfo>,
    pub variables: BTreeMap<String, String>,
    pub secret_present: bool,
    /// Its files (empty when it does not exist).
    pub tree: Vec<TreeEntry>,
}

/// What the deploy will do to the proxy Space.
#[derive(Debug, Clone)]
pub struct ProxyPlan {
    pub state: ProxyState,
    pub config: ProxyConfig,
    /// The template, rendered for this target.
    pub files: Vec<Arc<LocalFile>>,
    /// Against the Space's current files (modes estimated: the template is small text).
    pub template: FilePlan,
    /// `None` when the upstream is not known yet (a new target Space): decided once the target exists.
    pub settings: Option<SettingsPlan>,
    /// The proxy's app URL, when the Space exists.
    pub url: String,
}

impl ProxyPlan {
    pub fn creates(&self) -> bool {
        self.state.existing.is_none()
    }
}

/// The settings to write for `target_url`, compared with what the Space holds.
pub fn settings_for(
    state: &ProxyState,
    config: &ProxyConfig,
    target_url: &str,
    token: &Token,
) -> SettingsPlan {
    let wanted = settings::wanted_variables(target_url, &config.allow_origins.to_variable());
    settings::plan(&state.variables, state.secret_present, &wanted, token)
}

/// A Space's app URL (`host`) as the origin the proxy forwards to; `None` when it is not an http(s) URL.
pub fn app_origin(host: &str) -> Option<String> {
    let url = url::Url::parse(host.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .then(|| url.origin().ascii_serialization())
}

/// Compares the wanted proxy Space with `state`.
pub fn plan(
    state: ProxyState,
    config: &ProxyConfig,
    files: Vec<Arc<LocalFile>>,
    target_url: Option<String>,
    token: &Token,
) -> ProxyPlan {
    let template = diff(&files, &state.tree, true).estimated();
    let settings = target_url
        .as_deref()
        .map(|url| settings_for(&state, config, url, token));
    let url = state
        .existing
        .as_ref()
        .and_then(|i| i.host.clone())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    ProxyPlan {
        state,
        config: config.clone(),
        files,
        template,
        settings,
        url,
    }
}
