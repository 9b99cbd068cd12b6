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
    /// The Hub at its worst (realistic by default; see `docs/contracts.md`).
    pub realism: Realism,
    /// Xet storage, as every repo on huggingface.co has: the LFS batch picks the `xet` transfer
    /// when a client offers it. Off: only `basic` and `multipart`, to keep the LFS path tested.
    pub xet: bool,
}

/// Behaviours of huggingface.co on a bad day. The default is a realistic Hub: builds that lag a little,
/// settings writes that restart the Space, Hub-shaped accounts, reads that stay stale for a moment after a
/// commit, and the commit budgets the Hub's clients work within; [`Realism::instant`] is the ideal one, for a
/// test that says why it needs it. Faults and link shaping stay opt-in.
#[derive(Clone, Debug, PartialEq)]
pub struct Realism {
    /// After a commit, create, restart or settings restart, the runtime keeps reporting the
    /// previous settled stage this long before `BUILDING` shows (0 = off).
    pub build_lag_ms: u64,
    /// A build lasts at least this long, on top of `build_polls` runtime reads (0 = off).
    pub build_ms: u64,
    /// Every secret or variable upsert/delete restarts the Space, as on the Hub.
    pub settings_restart: bool,
    /// A commit with more operations answers 504 without landing (None = no limit).
    pub commit_max_ops: Option<usize>,
    /// A commit whose handling (body upload included) took longer lands, then answers 504
    /// (0 = off).
    pub commit_timeout_ms: u64,
    /// For this long after a commit, branch reads (repo info, `revision/{branch}`, tree) still
    /// see the previous head, like the Hub's CDN (0 = off).
    pub stale_reads_ms: u64,
    /// Added before every Hub request is handled (0 = off).
    pub latency_ms: u64,
    /// Bytes per second each request body and each response body may flow at (None = no cap).
    pub bandwidth: Option<u64>,
    /// Hub fidelity: whoami without a user-level `plan` (only `isPro`), and free accounts may
    /// create Gradio Spaces on `zero-a10g` hardware (ZeroGPU) but not on `cpu-basic`.
    pub hub_accounts: bool,
}

/// The default build lag: short, so tests stay fast, but never zero.
pub const DEFAULT_BUILD_LAG_MS: u64 = 200;

/// The default stale-read window after a commit: short, so tests stay fast, but long enough that a read right
/// after a commit sees the previous head, as from the Hub's CDN.
pub const DEFAULT_STALE_READS_MS: u64 = 200;

/// The most operations a commit may carry: huggingface_hub documents `create_commit` as "limited to 25k LFS
/// files" (see docs/contracts.md for the evidence).
pub const DEFAULT_COMMIT_MAX_OPS: usize = 25_000;

/// The server time a commit may take before the client gets a 504 (the commit still lands). The Hub does not
/// publish one; its API answers through CloudFront (60 s is the longest origin timeout it allows without a quota
/// raise) and the official client aims at commits under 40 s. An estimate, see docs/contracts.md.
pub const DEFAULT_COMMIT_TIMEOUT_MS: u64 = 60_000;

impl Default for Realism {
    fn default() -> Self {
        Realism {
            build_lag_ms: DEFAULT_BUILD_LAG_MS,
            settings_restart: true,
            hub_accounts: true,
            stale_reads_ms: DEFAULT_STALE_READS_MS,
            commit_max_ops: Some(DEFAULT_COMMIT_MAX_OPS),
            commit_timeout_ms: DEFAULT_COMMIT_TIMEOUT_MS,
            ..Realism::instant()
        }
    }
}

impl Realism {
    /// The ideal Hub: answers at once and always consistently.
    pub fn instant() -> Realism {
        Realism {
            build_lag_ms: 0,
            build_ms: 0,
            settings_restart: false,
            commit_max_ops: None,
            commit_timeout_ms: 0,
            stale_reads_ms: 0,
            latency_ms: 0,
            bandwidth: None,
            hub_accounts: false,
        }
    }
}

/// Parses a bandwidth: a plain number is bytes/s; suffixes `kbit`, `mbit`, `gbit` (bits, ×1000),
/// `KB`, `MB`, `GB` (bytes, ×1000), `KiB`, `MiB`, `GiB` (bytes, ×1024); an optional `/s`.
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| {
        format!("bandwidth `{s}`: expected a number with an optional unit, e.g. 200mbit or 25MB")
    })?;
    let factor = match unit.trim() {
        "" | "B" => 1.0,
        "kbit" => 125.0,
        "mbit" => 125_000.0,
        "gbit" => 125_000_000.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "bandwidth `{s}`: unknown unit `{other}` (use kbit, mbit, gbit, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    let bytes = (n * factor).round();
    if bytes.is_nan() || bytes.is_infinite() || bytes < 1.0 {
        return Err(format!("bandwidth `{s}`: must be at least 1 byte/s"));
    }
    Ok(bytes as u64)
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
            realism: Realism::default(),
            xet: true,
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

    #[test]
    fn parses_bandwidths() {
        assert_eq!(parse_bandwidth("200mbit"), Ok(25_000_000));
        assert_eq!(parse_bandwidth("25MB"), Ok(25_000_000));
        assert_eq!(parse_bandwidth("1MiB/s"), Ok(1_048_576));
        assert_eq!(parse_bandwidth("4096"), Ok(4096));
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("0").is_err());
        assert!(parse_bandwidth("3 parsecs").is_err());
    }
}
