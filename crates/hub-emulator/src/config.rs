//! Users, tokens, orgs and plans, from the command line or the library builder.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            other => Err(format!("unknown role `{other}` (expected read or write)")),
        }
    }
}

/// The billing plan of a user or an org. Free accounts may only create static Spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Team,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Team => "team",
        }
    }
    pub fn is_paid(self) -> bool {
        self != Plan::Free
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Plan::Free),
            "pro" => Ok(Plan::Pro),
            "team" | "enterprise" => Ok(Plan::Team),
            other => Err(format!(
                "unknown plan `{other}` (expected free, pro or team)"
            )),
        }
    }
}

/// One configured user and its token.
#[derive(Clone)]
pub struct UserSpec {
    pub name: String,
    pub token: String,
    pub role: Role,
    pub plan: Plan,
}

// Never print the token.
impl fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("token", &"hf_***")
            .field("role", &self.role)
            .field("plan", &self.plan)
            .finish()
    }
}

impl FromStr for UserSpec {
    type Err = String;
    /// `NAME:TOKEN:ROLE[:PLAN]`
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        if !(3..=4).contains(&parts.len()) || parts[..3].iter().any(|p| p.is_empty()) {
            return Err(
                "expected NAME:TOKEN:ROLE[:PLAN], e.g. alice:hf_alice_write:write:pro".into(),
            );
        }
        Ok(UserSpec {
            name: parts[0].to_string(),
            token: parts[1].to_string(),
            role: parts[2].parse()?,
            plan: match parts.get(3) {
                Some(p) => p.parse()?,
                None => Plan::Pro,
            },
        })
    }
}

/// One org and its members.
#[derive(Clone, Debug)]
pub struct OrgSpec {
    pub name: String,
    pub members: Vec<String>,
    pub plan: Plan,
}

impl FromStr for OrgSpec {
    type Err = String;
    /// `ORG:MEMBER[,MEMBER...][:PLAN]`
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts[0].is_empty() {
            return Err("expected ORG:MEMBER[,MEMBER...][:PLAN], e.g. acme:alice,bob:team".into());
        }
        let members: Vec<String> = parts[1]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        Ok(OrgSpec {
            name: parts[0].to_string(),
            members,
            plan: match parts.get(2) {
                Some(p) => p.parse()?,
                None => Plan::Team,
            },
        })
    }
}

/// Everything the emulator is started with.
#[derive(Clone, Debug)]
pub struct Config {
    pub users: Vec<UserSpec>,
    pub orgs: Vec<OrgSpec>,
    pub data_dir: Option<std::path::PathBuf>,
    pub build_polls: u32,
    pub tree_page_size: usize,
    pub list_page_size: usize,
    /// Objects larger than this get a multipart upload when the client offers it.
    pub multipart_threshold: u64,
    pub multipart_chunk_size: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: Vec::new(),
            orgs: Vec::new(),
            data_dir: None,
            build_polls: 1,
            tree_page_size: 1000,
            list_page_size: 1000,
            multipart_threshold: 10 * 1024 * 1024,
            multipart_chunk_size: 5 * 1024 * 1024,
        }
    }
}

/// The user that exists when none is configured.
pub fn demo_user() -> UserSpec {
    UserSpec {
        name: "demo".into(),
        token: "hf_demo_write".into(),
        role: Role::Write,
        plan: Plan::Pro,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_and_org_specs() {
        let u: UserSpec = "alice:hf_a:write".parse().unwrap();
        assert_eq!((u.role, u.plan), (Role::Write, Plan::Pro));
        let u: UserSpec = "carol:hf_c:read:free".parse().unwrap();
        assert_eq!((u.role, u.plan), (Role::Read, Plan::Free));
        assert!("alice:hf_a".parse::<UserSpec>().is_err());
        let o: OrgSpec = "acme:alice,bob".parse().unwrap();
        assert_eq!(o.members, vec!["alice", "bob"]);
        assert_eq!(o.plan, Plan::Team);
        let o: OrgSpec = "poor:alice:free".parse().unwrap();
        assert_eq!(o.plan, Plan::Free);
        assert!(!format!("{u:?}").contains("hf_c"));
    }
}
