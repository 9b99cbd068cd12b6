//! Repository identifiers: type, `namespace/name`, and the Hub's naming rules (2.x client rules).

use std::fmt;
use std::str::FromStr;

/// Longest namespace or name the Hub accepts.
pub const MAX_NAME_LEN: usize = 96;

/// The kind of repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RepoType {
    Model,
    Dataset,
    Space,
}

impl RepoType {
    /// All types, in the order the janitor walks them.
    pub const ALL: [RepoType; 3] = [RepoType::Space, RepoType::Model, RepoType::Dataset];

    /// The wire value in JSON bodies: `model`, `dataset`, `space`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }

    /// The plural used in `/api/{types}/…` paths.
    pub(crate) fn api_plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// The prefix of web, git and LFS URLs: `""`, `datasets/`, `spaces/`.
    pub(crate) fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repo type string that is not `model`, `dataset` or `space`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown repo type {0:?}: use one of space, model, dataset")]
pub struct UnknownRepoType(pub String);

impl FromStr for RepoType {
    type Err = UnknownRepoType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "model" => Ok(RepoType::Model),
            "dataset" => Ok(RepoType::Dataset),
            "space" => Ok(RepoType::Space),
            _ => Err(UnknownRepoType(s.to_string())),
        }
    }
}

/// Why a repo id or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoIdError {
    #[error("repo id {0:?} must have the form owner/name (exactly one '/')")]
    Shape(String),
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} is {len} characters long; the Hub allows at most {MAX_NAME_LEN}")]
    TooLong {
        what: &'static str,
        value: String,
        len: usize,
    },
    #[error(
        "{what} {value:?} contains {ch:?}; only letters, digits, '-', '_' and '.' are allowed"
    )]
    BadChar {
        what: &'static str,
        value: String,
        ch: char,
    },
    #[error("{what} {value:?} must not start or end with '-' or '.'")]
    BadEdge { what: &'static str, value: String },
    #[error("{what} {value:?} must not contain '--' or '..'")]
    DoubleSeparator { what: &'static str, value: String },
    #[error("{what} {value:?} must not end with '.git'")]
    GitSuffix { what: &'static str, value: String },
}

/// `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId {
    pub namespace: String,
    pub name: String,
}

impl RepoId {
    /// Parses and validates `namespace/name`.
    pub fn parse(id: &str) -> Result<RepoId, RepoIdError> {
        let mut parts = id.split('/');
        let (Some(ns), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RepoIdError::Shape(id.to_string()));
        };
        validate(ns, "namespace")?;
        validate(name, "repo name")?;
        Ok(RepoId {
            namespace: ns.to_string(),
            name: name.to_string(),
        })
    }

    /// Builds an id from parts, validating both.
    pub fn new(namespace: &str, name: &str) -> Result<RepoId, RepoIdError> {
        validate(namespace, "namespace")?;
        validate(name, "repo name")?;
        Ok(RepoId {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// Validates a bare repo name (no namespace).
    pub fn validate_name(name: &str) -> Result<(), RepoIdError> {
        validate(name, "repo name")
    }

    /// Validates a namespace (user or organisation name).
    pub fn validate_namespace(namespace: &str) -> Result<(), RepoIdError> {
        validate(namespace, "namespace")
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for RepoId {
    type Err = RepoIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::parse(s)
    }
}

fn validate(value: &str, what: &'static str) -> Result<(), RepoIdError> {
    if value.is_empty() {
        return Err(RepoIdError::Empty { what });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(RepoIdError::BadChar {
            what,
            value: value.to_string(),
            ch,
        });
    }
    if value.len() > MAX_NAME_LEN {
        return Err(RepoIdError::TooLong {
            what,
            value: value.to_string(),
            len: value.len(),
        });
    }
    let edge = |c: char| c == '-' || c == '.';
    if value.starts_with(edge) || value.ends_with(edge) {
        return Err(RepoIdError::BadEdge {
            what,
            value: value.to_string(),
        });
    }
    if value.contains("--") || value.contains("..") {
        return Err(RepoIdError::DoubleSeparator {
            what,
            value: value.to_string(),
        });
    }
    if value.ends_with(".git") {
        return Err(RepoIdError::GitSuffix {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// A repository of a given type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    pub repo_type: RepoType,
    pub id: RepoId,
}

impl RepoRef {
    pub fn new(repo_type: RepoType, id: RepoId) -> RepoRef {
        RepoRef { repo_type, id }
    }

    /// Shorthand for a Space.
    pub fn space(id: RepoId) -> RepoRef {
        RepoRef {
            repo_type: RepoType::Space,
            id,
        }
    }

    /// `type:ns/name`, the format of `$HF_TEST_RESOURCES_FILE`.
    pub fn resource_key(&self) -> String {
        format!("{}:{}", self.repo_type, self.id)
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.repo_type, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let long = "a".repeat(96);
        let too_long = "a".repeat(97);
        let ok = [
            "alice/app",
            "a/b",
            "Alice_1/my.model-2",
            "_x/_y_",
            &format!("ns/{long}"),
        ];
        for id in ok {
            assert!(RepoId::parse(id).is_ok(), "{id} should be valid");
        }
        let bad = [
            "",
            "alice",
            "a/b/c",
            "/app",
            "alice/",
            "alice/-app",
            "alice/app-",
            "alice/.app",
            "alice/app.",
            "alice/a--b",
            "alice/a..b",
            "alice/app.git",
            "alice/a b",
            "alice/a@b",
            "alice/é",
            "al ice/app",
            &format!("ns/{too_long}"),
            &format!("{too_long}/x"),
        ];
        for id in bad {
            assert!(RepoId::parse(id).is_err(), "{id} should be invalid");
        }
    }

    #[test]
    fn repo_type_roundtrip() {
        for t in RepoType::ALL {
            assert_eq!(t.as_str().parse::<RepoType>().unwrap(), t);
        }
        assert!("kernel".parse::<RepoType>().is_err());
        assert_eq!(RepoType::Dataset.url_prefix(), "datasets/");
        assert_eq!(RepoType::Model.api_plural(), "models");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn valid_names_parse(ns in "[A-Za-z0-9]([A-Za-z0-9_]{0,20})", name in "[A-Za-z0-9]([A-Za-z0-9_]|[-.][A-Za-z0-9]){0,40}") {
                prop_assume!(!name.ends_with(".git"));
                let id = RepoId::parse(&format!("{ns}/{name}")).unwrap();
                prop_assert_eq!(id.to_string(), format!("{ns}/{name}"));
            }

            #[test]
            fn anything_else_never_panics_and_roundtrips(s in "\\PC{0,120}") {
                if let Ok(id) = RepoId::parse(&s) {
                    prop_assert_eq!(id.to_string(), s.clone());
                    prop_assert!(s.len() <= 2 * MAX_NAME_LEN + 1);
                    prop_assert!(s.is_ascii());
                    prop_assert!(!s.contains("--") && !s.contains(".."));
                }
            }

            #[test]
            fn a_forbidden_char_is_refused(name in "[a-z]{1,10}", bad in "[^A-Za-z0-9._/-]") {
                let candidate = format!("ns/{name}{bad}{name}");
                prop_assert!(RepoId::parse(&candidate).is_err());
            }
        }
    }
}
