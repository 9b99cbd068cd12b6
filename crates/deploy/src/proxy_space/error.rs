//! The one error type of proxy provisioning, with the exit code it maps to.

use std::fmt;

/// Why provisioning the proxy Space failed. `Display` never contains a token: messages are built from
/// repo ids, URLs and Hub error texts, which the hub crate already redacts.
#[derive(Debug)]
pub enum ProvisionError {
    /// Bad input or configuration; nothing remote was changed (exit 2).
    Input(String),
    /// The namespace's plan does not allow a Docker Space (exit 3).
    Plan(String),
    /// A token problem: invalid proxy token, no write access (exit 3).
    Permission(String),
    /// A Hub call failed (exit 1, or 3 for 401/402/403).
    Hub {
        doing: String,
        source: hub::HubError,
    },
    /// The proxy Space failed to build or start, or did not in time (exit 1).
    Failed(String),
}

impl ProvisionError {
    /// The process exit code, per docs/contracts.md.
    pub fn exit_code(&self) -> i32 {
        match self {
            ProvisionError::Input(_) => 2,
            ProvisionError::Plan(_) | ProvisionError::Permission(_) => 3,
            ProvisionError::Hub { source, .. } => match source.status() {
                Some(401..=403) => 3,
                _ => 1,
            },
            ProvisionError::Failed(_) => 1,
        }
    }

    /// Wraps a Hub error with what we were doing, for a message that says where it failed.
    pub(crate) fn hub(doing: impl Into<String>) -> impl FnOnce(hub::HubError) -> ProvisionError {
        let doing = doing.into();
        move |source| ProvisionError::Hub { doing, source }
    }
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvisionError::Input(m)
            | ProvisionError::Plan(m)
            | ProvisionError::Permission(m)
            | ProvisionError::Failed(m) => f.write_str(m),
            ProvisionError::Hub { doing, source } => write!(f, "proxy Space: {doing}: {source}"),
        }
    }
}

impl std::error::Error for ProvisionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProvisionError::Hub { source, .. } => Some(source),
            _ => None,
        }
    }
}
