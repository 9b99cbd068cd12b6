//! The Hub's state: users, orgs, repos, commits (tree snapshots), Space settings and the handles
//! of the Space app listeners.

use crate::config::{Config, Plan, Role};
use crate::{clock, git_hash, ids};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoType {
    Model,
    Dataset,
    Space,
}

impl RepoType {
    pub fn from_plural(s: &str) -> Option<Self> {
        match s {
            "models" => Some(RepoType::Model),
            "datasets" => Some(RepoType::Dataset),
            "spaces" => Some(RepoType::Space),
            _ => None,
        }
    }
    /// The `type` of JSON bodies; absent/null means model.
    pub fn from_singular(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("model") => Some(RepoType::Model),
            Some("dataset") => Some(RepoType::Dataset),
            Some("space") => Some(RepoType::Space),
            _ => None,
        }
    }
    pub fn singular(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }
    /// Prefix of web, resolve and LFS URLs.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }
}

/// Repos are looked up case-insensitively, like on the Hub.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoKey {
    pub rtype: RepoType,
    pub id_lower: String,
}

impl RepoKey {
    pub fn new(rtype: RepoType, id: &str) -> Self {
        RepoKey {
            rtype,
            id_lower: id.to_ascii_lowercase(),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Content {
    Inline(Bytes),
    Lfs { sha256: String },
}

/// One file of a commit's tree.
#[derive(Clone, Debug)]
pub struct FileEntry {
    /// Real content size.
    pub size: u64,
    /// Git blob id (of the pointer file for LFS files).
    pub oid: String,
    pub content: Content,
}

impl FileEntry {
    pub fn inline(content: Bytes) -> Self {
        FileEntry {
            size: content.len() as u64,
            oid: git_hash::git_blob_sha1(&content),
            content: Content::Inline(content),
        }
    }
    pub fn lfs(sha256: String, size: u64) -> Self {
        let pointer = git_hash::lfs_pointer(&sha256, size);
        FileEntry {
            size,
            oid: git_hash::git_blob_sha1(pointer.as_bytes()),
            content: Content::Lfs { sha256 },
        }
    }
    pub fn lfs_sha256(&self) -> Option<&str> {
        match &self.content {
            Content::Lfs { sha256 } => Some(sha256),
            Content::Inline(_) => None,
        }
    }
    /// The oid preupload reports: sha256 for LFS files, git blob sha1 otherwise.
    pub fn preupload_oid(&self) -> &str {
        self.lfs_sha256().unwrap_or(&self.oid)
    }
}

pub type Tree = BTreeMap<String, FileEntry>;

#[derive(Debug)]
pub struct Commit {
    pub id: String,
    pub parent: Option<String>,
    pub summary: String,
    pub description: String,
    pub date: OffsetDateTime,
    pub tree: Arc<Tree>,
}

#[derive(Clone, Debug)]
pub struct KeyValue {
    pub value: String,
    pub description: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// Where a Space's (simulated) build ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stage: &'static str,
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct SpaceState {
    pub created_sdk: String,
    pub secrets: BTreeMap<String, KeyValue>,
    pub variables: BTreeMap<String, KeyValue>,
    /// Current stage (`BUILDING`, `RUNNING`, `PAUSED`…).
    pub stage: &'static str,
    pub error: Option<String>,
    /// Runtime reads left before BUILDING resolves to `outcome`.
    pub polls_left: u32,
    pub outcome: Outcome,
    pub hardware: String,
    pub sleep_time: Option<i64>,
    /// The app's loopback origin, `http://127.0.0.1:PORT`.
    pub host: String,
    pub app: Option<AppHandle>,
    /// When set, the Space's app listener forwards to this origin instead of the built-in app.
    pub upstream: Option<String>,
    pub builds: u32,
    /// Build lag: until then the runtime keeps reporting the previous settled stage, then
    /// `BUILDING` shows (`None` = no lag pending).
    pub lag_until: Option<Instant>,
    /// A timed build (`build_ms`) cannot finish before this.
    pub build_done_at: Option<Instant>,
}

/// A Space's app listener (started by `space_apps`), owned by the Space's state; dropping it
/// stops the listener.
#[derive(Debug)]
pub struct AppHandle {
    pub id: u64,
    pub port: u16,
    _stop: watch::Sender<bool>,
}

impl AppHandle {
    /// `stop` is the listener's shutdown channel: dropping it ends the accept loop.
    pub fn new(id: u64, port: u16, stop: watch::Sender<bool>) -> Self {
        AppHandle {
            id,
            port,
            _stop: stop,
        }
    }
}

#[derive(Debug)]
pub struct Repo {
    pub rtype: RepoType,
    pub namespace: String,
    pub name: String,
    pub mongo_id: String,
    pub private: bool,
    pub gated: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub branches: BTreeMap<String, String>,
    /// Pull requests opened so far (`refs/pr/N` branches).
    pub prs: u32,
    pub commits: HashMap<String, Arc<Commit>>,
    pub space: Option<SpaceState>,
    /// Stale reads: `main` as the CDN still serves it (the head before the last commit) and
    /// until when.
    pub stale_main: Option<(String, Instant)>,
}

impl Repo {
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn key(&self) -> RepoKey {
        RepoKey::new(self.rtype, &self.id())
    }
    pub fn head(&self) -> Option<&Arc<Commit>> {
        self.branches
            .get("main")
            .and_then(|id| self.commits.get(id))
    }
    /// A branch name, a full commit id or a unique prefix of ≥7 hex characters.
    pub fn resolve_rev(&self, rev: &str) -> Option<&Arc<Commit>> {
        if let Some(id) = self.branches.get(rev) {
            return self.commits.get(id);
        }
        if let Some(c) = self.commits.get(rev) {
            return Some(c);
        }
        if rev.len() >= 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = self.commits.values().filter(|c| c.id.starts_with(rev));
            if let (Some(c), None) = (found.next(), found.next()) {
                return Some(c);
            }
        }
        None
    }
    /// Like [`Repo::resolve_rev`], but `main` may still be the previous head while a stale-read
    /// window is open (the Hub's CDN serves revision and tree reads from a cache).
    pub fn resolve_cached(&self, rev: &str, now: Instant) -> Option<&Arc<Commit>> {
        if rev == "main" {
            if let Some((old, until)) = &self.stale_main {
                if now < *until {
                    if let Some(c) = self.commits.get(old) {
                        return Some(c);
                    }
                }
            }
        }
        self.resolve_rev(rev)
    }
    /// Appends a commit to `main` and returns its id.
    pub fn push_commit(&mut self, summary: String, description: String, tree: Tree) -> String {
        let parent = self.branches.get("main").cloned();
        self.push_commit_to("main", parent, summary, description, tree)
    }

    /// Points `branch` at a new commit with `parent` and returns its id.
    pub fn push_commit_to(
        &mut self,
        branch: &str,
        parent: Option<String>,
        summary: String,
        description: String,
        tree: Tree,
    ) -> String {
        let date = clock::now();
        let nonce = ids::random_hex(16);
        let id = git_hash::sha1_hex(&[
            parent.as_deref().unwrap_or("").as_bytes(),
            summary.as_bytes(),
            nonce.as_bytes(),
        ]);
        let commit = Commit {
            id: id.clone(),
            parent,
            summary,
            description,
            date,
            tree: Arc::new(tree),
        };
        self.commits.insert(id.clone(), Arc::new(commit));
        self.branches.insert(branch.to_string(), id.clone());
        self.last_modified = date;
        id
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub plan: Plan,
    pub created_at: OffsetDateTime,
    pub mongo_id: String,
}

#[derive(Clone, Debug)]
pub struct Org {
    pub name: String,
    pub members: Vec<String>,
    pub plan: Plan,
    pub mongo_id: String,
}

#[derive(Clone, Debug)]
pub struct Grant {
    pub user: String,
    pub role: Role,
}

/// A multipart upload waiting for its parts and completion.
#[derive(Debug)]
pub struct PendingMultipart {
    pub oid: String,
    pub size: u64,
    pub chunk_size: u64,
    pub parts: u32,
    pub sig: String,
}

/// A basic upload waiting for its PUT.
#[derive(Debug, Clone)]
pub struct PendingBasic {
    pub oid: String,
    pub size: u64,
}

pub struct HubState {
    pub config: Config,
    pub users: HashMap<String, User>,
    pub orgs: HashMap<String, Org>,
    pub tokens: HashMap<String, Grant>,
    pub repos: HashMap<RepoKey, Repo>,
    pub basic_uploads: HashMap<String, PendingBasic>,
    pub multipart_uploads: HashMap<String, PendingMultipart>,
    /// Xet tokens handed out by the token endpoints.
    pub xet_tokens: HashMap<String, XetGrant>,
    /// Files uploaded through Xet, by sha256 (the oid a commit's `lfsFile` names).
    pub xet_files: HashMap<String, crate::xet_store::XetFile>,
}

/// What a Xet token allows: reads or writes, until `exp` (Unix seconds). The store is shared by every repo
/// (chunks dedup across them); a repo only gains a file through a commit its caller may make.
#[derive(Clone, Debug)]
pub struct XetGrant {
    pub write: bool,
    pub exp: i64,
}

impl HubState {
    pub fn new(config: Config) -> Self {
        let created = clock::now();
        let mut users = HashMap::new();
        let mut tokens = HashMap::new();
        for u in &config.users {
            users.insert(
                u.name.to_ascii_lowercase(),
                User {
                    name: u.name.clone(),
                    plan: u.plan,
                    created_at: created,
                    mongo_id: ids::random_hex(24),
                },
            );
            tokens.insert(
                u.token.clone(),
                Grant {
                    user: u.name.clone(),
                    role: u.role,
                },
            );
        }
        let orgs = config
            .orgs
            .iter()
            .map(|o| {
                (
                    o.name.to_ascii_lowercase(),
                    Org {
                        name: o.name.clone(),
                        members: o.members.clone(),
                        plan: o.plan,
                        mongo_id: ids::random_hex(24),
                    },
                )
            })
            .collect();
        HubState {
            config,
            users,
            orgs,
            tokens,
            repos: HashMap::new(),
            basic_uploads: HashMap::new(),
            multipart_uploads: HashMap::new(),
            xet_tokens: HashMap::new(),
            xet_files: HashMap::new(),
        }
    }

    /// The canonical spelling of a namespace (user or org), if it exists.
    pub fn namespace(&self, ns: &str) -> Option<String> {
        let lower = ns.to_ascii_lowercase();
        self.users
            .get(&lower)
            .map(|u| u.name.clone())
            .or_else(|| self.orgs.get(&lower).map(|o| o.name.clone()))
    }

    pub fn plan_of(&self, ns: &str) -> Plan {
        let lower = ns.to_ascii_lowercase();
        if let Some(u) = self.users.get(&lower) {
            return u.plan;
        }
        self.orgs.get(&lower).map(|o| o.plan).unwrap_or(Plan::Free)
    }

    /// Is `user` the namespace itself or a member of that org?
    pub fn is_member(&self, user: &str, ns: &str) -> bool {
        if user.eq_ignore_ascii_case(ns) {
            return true;
        }
        self.orgs
            .get(&ns.to_ascii_lowercase())
            .is_some_and(|o| o.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
    }

    pub fn orgs_of(&self, user: &str) -> Vec<&Org> {
        let mut v: Vec<&Org> = self
            .orgs
            .values()
            .filter(|o| o.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
