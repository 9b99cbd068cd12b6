//! The validated inputs of a deploy: what `validate` produces and every later step consumes.

use std::path::PathBuf;
use std::time::Duration;

use hub::{RepoId, RepoType, SpaceSdk, Token, Visibility};

use crate::source::filter::PathFilter;

/// The target repo as given: complete, or a bare name under the token's owner (resolved after whoami).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoTarget {
    Full(RepoId),
    UnderTokenOwner(String),
}

impl RepoTarget {
    /// The repo id once the token's owner is known.
    pub fn resolve(&self, owner: &str) -> Result<RepoId, hub::RepoIdError> {
        match self {
            RepoTarget::Full(id) => Ok(id.clone()),
            RepoTarget::UnderTokenOwner(name) => RepoId::new(owner, name),
        }
    }

    /// The repo name (known before whoami).
    pub fn name(&self) -> &str {
        match self {
            RepoTarget::Full(id) => &id.name,
            RepoTarget::UnderTokenOwner(name) => name,
        }
    }
}

/// Who may call the proxy from a browser: `PROXY_ALLOW_ORIGINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOrigins {
    Any,
    /// Parsed origins (`scheme://host[:port]`), in the order given.
    Only(Vec<String>),
}

impl AllowOrigins {
    /// The value of the proxy Space's variable.
    pub fn to_variable(&self) -> String {
        match self {
            AllowOrigins::Any => "*".to_string(),
            AllowOrigins::Only(origins) => origins.join(","),
        }
    }
}

/// Proxy inputs, present only when `create_proxy` is true. Checked once, in `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Appended to the target's name; the proxy Space's name is known valid.
    pub suffix: String,
    /// `proxy_target_url` as an origin without a trailing slash; `None`: the target Space's own app URL.
    pub target_url: Option<String>,
    pub allow_origins: AllowOrigins,
}

/// Every input of `hf-deploy deploy`, validated.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    pub target: RepoTarget,
    pub repo_type: RepoType,
    pub space_sdk: SpaceSdk,
    /// From `visibility`, else `private`; `None`: the account's default (nothing is sent).
    pub visibility: Option<Visibility>,
    /// Hardware of a Space created now; `None`: the Hub's default.
    pub space_hardware: Option<String>,
    /// Canonical absolute path of the folder to deploy.
    pub source_dir: PathBuf,
    /// Commit title and optional body (lines after the first).
    pub commit_summary: String,
    pub commit_description: String,
    pub filter: PathFilter,
    pub delete_stale: bool,
    pub revision: String,
    pub create_pr: bool,
    pub dry_run: bool,
    pub wait: bool,
    pub wait_timeout: Duration,
    pub proxy: Option<ProxyConfig>,
    pub json: bool,
    /// Where the hash cache lives; `None` when it is off (or no cache folder is known).
    pub hash_cache_dir: Option<PathBuf>,
    /// Hub base URL without a trailing slash.
    pub endpoint: String,
}

/// Tokens, from the environment only.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub token: Option<Token>,
    /// `HF_DEPLOY_PROXY_HF_TOKEN`, when set.
    pub proxy_token: Option<Token>,
}

impl Secrets {
    /// Reads `HF_TOKEN` and `HF_DEPLOY_PROXY_HF_TOKEN` (empty values count as unset).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Secrets {
        Secrets {
            token: env("HF_TOKEN").and_then(Token::new),
            proxy_token: env("HF_DEPLOY_PROXY_HF_TOKEN").and_then(Token::new),
        }
    }

    /// Every token, for masking.
    pub fn all(&self) -> impl Iterator<Item = &Token> {
        self.token.iter().chain(self.proxy_token.iter())
    }
}
