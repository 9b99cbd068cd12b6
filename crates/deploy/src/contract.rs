//! The validated inputs of a deploy: what `validate` produces and every later step consumes.

use std::path::PathBuf;
use std::time::Duration;

use hub::{RepoId, RepoType, Token};

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

/// The Space SDKs the Hub accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceSdk {
    Gradio,
    Streamlit,
    Docker,
    Static,
}

impl SpaceSdk {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceSdk::Gradio => "gradio",
            SpaceSdk::Streamlit => "streamlit",
            SpaceSdk::Docker => "docker",
            SpaceSdk::Static => "static",
        }
    }

    pub fn parse(text: &str) -> Option<SpaceSdk> {
        match text.trim().to_ascii_lowercase().as_str() {
            "gradio" => Some(SpaceSdk::Gradio),
            "streamlit" => Some(SpaceSdk::Streamlit),
            "docker" => Some(SpaceSdk::Docker),
            "static" => Some(SpaceSdk::Static),
            _ => None,
        }
    }

    /// Since July 2026 only static Spaces can be created on a free plan.
    pub fn needs_paid_plan(self) -> bool {
        self != SpaceSdk::Static
    }
}

/// Proxy inputs, present only when `create_proxy` is true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInputs {
    pub suffix: String,
    pub target_url: Option<String>,
    pub allow_origins: String,
}

/// Every input of `hf-deploy deploy`, validated.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    pub target: RepoTarget,
    pub repo_type: RepoType,
    pub space_sdk: SpaceSdk,
    pub private: bool,
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
    pub proxy: Option<ProxyInputs>,
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
