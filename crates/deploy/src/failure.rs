//! The one error type of the crate, and the process exit codes it maps to (docs/contracts.md): 1 runtime,
//! 2 bad input, 3 authentication or permission. Rendered in one place: `commands::render_failure`.

use std::fmt;

/// What kind of failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Network, Hub error, the Space failed to build or start (exit 1).
    Runtime,
    /// Bad input or configuration; nothing remote was changed (exit 2).
    Input,
    /// Missing or insufficient token, or a plan that does not allow it (exit 3).
    Auth,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Runtime => 1,
            ExitKind::Input => 2,
            ExitKind::Auth => 3,
        }
    }
}

/// A failure with a message in the user's terms (never a token).
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitKind,
    pub message: String,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            kind: ExitKind::Input,
            message: message.into(),
        }
    }

    pub fn auth(message: impl Into<String>) -> Failure {
        Failure {
            kind: ExitKind::Auth,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            kind: ExitKind::Runtime,
            message: message.into(),
        }
    }

    /// A Hub error met while `doing` something: 401/402/403 are permission problems, the rest runtime.
    pub fn hub(doing: &str, err: hub::HubError) -> Failure {
        let kind = match err.status() {
            Some(401..=403) => ExitKind::Auth,
            _ => ExitKind::Runtime,
        };
        let hint = match err.status() {
            Some(401) => " (is HF_TOKEN valid?)",
            Some(403) => " (does the token have write access to this repo?)",
            _ => "",
        };
        Failure {
            kind,
            message: format!("{doing}: {err}{hint}"),
        }
    }

    pub fn code(&self) -> i32 {
        self.kind.code()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Failure::input("x").code(), 2);
        assert_eq!(Failure::auth("x").code(), 3);
        assert_eq!(Failure::runtime("x").code(), 1);
        let forbidden = hub::HubError::Forbidden {
            message: "no".into(),
        };
        assert_eq!(Failure::hub("committing", forbidden).code(), 3);
        let net = hub::HubError::Network {
            message: "reset".into(),
        };
        assert_eq!(Failure::hub("committing", net).code(), 1);
    }
}
