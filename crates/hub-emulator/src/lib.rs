//! A local, stateful Hugging Face Hub for tests, the offline demo and benchmarks.
//!
//! It speaks the Hub's HTTP API well enough for the official `huggingface_hub` client and our
//! `hub` crate: whoami, repos, preupload, LFS (basic and multipart), NDJSON commits, tree,
//! resolve, Spaces (secrets, variables, runtime stages, logs) and a loopback app per Space.
//! Tests read a journal of requests and can inject faults.
//!
//! Modules, top-down (each uses only modules further right): `app` (the entry point: request
//! ids, faults, journal) → `routes` (the Hub's HTTP API) → `space_apps` (per-Space listeners) →
//! `auth`, `context` (what handlers share), `space_stages` → `state`, `storage` → leaves: `clock`,
//! `config`, `errors`, `faults`, `git_hash`, `ids`, `journal`, `patterns`, `query`, `server`,
//! `shaping`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hub_emulator::{Emulator, Role};
//! let emu = Emulator::builder()
//!     .user("alice", "hf_alice_write", Role::Write)
//!     .start()
//!     .await?;
//! println!("Hub at {}", emu.url()); // http://127.0.0.1:PORT
//! // … point a client at emu.url() with token hf_alice_write …
//! assert_eq!(emu.mutation_count(), 0);
//! # Ok(()) }
//! ```

mod app;
mod auth;
mod clock;
pub mod config;
mod context;
mod errors;
pub mod faults;
mod git_hash;
mod ids;
mod journal;
mod patterns;
mod query;
mod routes;
mod server;
mod shaping;
mod space_apps;
mod space_stages;
mod state;
mod storage;
mod xet_store;

pub use config::{
    parse_bandwidth, Config, OrgSpec, Plan, Realism, Role, UserSpec, DEFAULT_BUILD_LAG_MS,
    DEFAULT_COMMIT_MAX_OPS, DEFAULT_COMMIT_TIMEOUT_MS, DEFAULT_STALE_READS_MS,
};
pub use context::{AppRunner, SpaceRun};
pub use faults::{FaultAction, FaultRule, FaultTrigger};
pub use journal::JournalEntry;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::watch;

/// Configures and starts an [`Emulator`].
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    config: Config,
    listen: Option<SocketAddr>,
    faults: Vec<FaultRule>,
}

impl EmulatorBuilder {
    /// A user with plan `pro`.
    pub fn user(self, name: &str, token: &str, role: Role) -> Self {
        self.user_with_plan(name, token, role, Plan::Pro)
    }
    pub fn user_with_plan(mut self, name: &str, token: &str, role: Role, plan: Plan) -> Self {
        self.config.users.push(UserSpec {
            name: name.into(),
            token: token.into(),
            role,
            plan,
        });
        self
    }
    /// Another token for an existing (or new) user name.
    pub fn user_spec(mut self, spec: UserSpec) -> Self {
        self.config.users.push(spec);
        self
    }
    /// An org with plan `team`.
    pub fn org(self, name: &str, members: &[&str]) -> Self {
        self.org_with_plan(name, members, Plan::Team)
    }
    pub fn org_with_plan(mut self, name: &str, members: &[&str], plan: Plan) -> Self {
        self.config.orgs.push(OrgSpec {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            plan,
        });
        self
    }
    pub fn org_spec(mut self, spec: OrgSpec) -> Self {
        self.config.orgs.push(spec);
        self
    }
    /// Store LFS objects under `DIR/lfs` instead of a temp dir.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }
    /// Runtime reads a Space stays `BUILDING` after a commit or restart (default 1).
    pub fn build_polls(mut self, n: u32) -> Self {
        self.config.build_polls = n;
        self
    }
    /// Entries per tree page (default 1000, like the Hub).
    pub fn tree_page_size(mut self, n: usize) -> Self {
        self.config.tree_page_size = n.max(1);
        self
    }
    /// Repos per page of `/api/models|datasets|spaces` (default 1000).
    pub fn list_page_size(mut self, n: usize) -> Self {
        self.config.list_page_size = n.max(1);
        self
    }
    /// LFS objects above `threshold` bytes get multipart uploads of `chunk` bytes per part.
    pub fn multipart(mut self, threshold: u64, chunk: u64) -> Self {
        self.config.multipart_threshold = threshold;
        self.config.multipart_chunk_size = chunk.max(1);
        self
    }
    /// The ideal Hub: no build lag, no settings restarts, no stale reads, no commit budgets, the emulator's
    /// own account shapes. For a test that says why it needs one.
    pub fn instant(mut self) -> Self {
        self.config.realism = Realism::instant();
        self
    }
    /// Xet storage (on by default, as on the Hub); off leaves only the LFS transfers.
    pub fn xet(mut self, on: bool) -> Self {
        self.config.xet = on;
        self
    }
    /// Build lag: after a commit, create, restart or settings restart the runtime keeps the
    /// previous settled stage this long before `BUILDING` shows (0 = off; default 200).
    pub fn build_lag_ms(mut self, ms: u64) -> Self {
        self.config.realism.build_lag_ms = ms;
        self
    }
    /// Builds last at least this long, besides `build_polls` (0 = off, the default).
    pub fn build_ms(mut self, ms: u64) -> Self {
        self.config.realism.build_ms = ms;
        self
    }
    /// Every secret or variable write restarts the Space, as on the Hub (default on).
    pub fn settings_restart(mut self, on: bool) -> Self {
        self.config.realism.settings_restart = on;
        self
    }
    /// Commits with more operations answer 504 and do not land (0 = no limit; default 25,000).
    pub fn commit_max_ops(mut self, n: usize) -> Self {
        self.config.realism.commit_max_ops = (n > 0).then_some(n);
        self
    }
    /// Commits whose handling, body upload included, takes longer land and then answer 504
    /// (0 = off; default 60 s).
    pub fn commit_timeout_ms(mut self, ms: u64) -> Self {
        self.config.realism.commit_timeout_ms = ms;
        self
    }
    /// For this long after a commit, repo info, `revision/main` and tree listings of `main`
    /// still show the previous head (0 = off; default 200).
    pub fn stale_reads_ms(mut self, ms: u64) -> Self {
        self.config.realism.stale_reads_ms = ms;
        self
    }
    /// Latency added to every Hub request (0 = off, the default).
    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.config.realism.latency_ms = ms;
        self
    }
    /// Caps each request and response body at this many bytes per second (default: no cap).
    pub fn bandwidth(mut self, bytes_per_sec: u64) -> Self {
        self.config.realism.bandwidth = Some(bytes_per_sec.max(1));
        self
    }
    /// Hub-shaped accounts: whoami without a user-level `plan` (only `isPro`), and free
    /// accounts may create Gradio Spaces on `zero-a10g` (default on).
    pub fn hub_accounts(mut self, on: bool) -> Self {
        self.config.realism.hub_accounts = on;
        self
    }
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }
    /// Listen address (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Binds, starts serving on the current Tokio runtime, and returns once connections are accepted.
    pub async fn start(self) -> std::io::Result<Emulator> {
        let mut config = self.config;
        if config.users.is_empty() {
            config.users.push(config::demo_user());
        }
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let host = if local.ip().is_unspecified() {
            format!("127.0.0.1:{}", local.port())
        } else {
            local.to_string()
        };
        let base_url = format!("http://{host}");
        let store = storage::LfsStore::new(config.data_dir.as_deref())?;
        let xet = match config.xet {
            true => Some(xet_store::XetStore::start(&store.root().join("xet")).await?),
            false => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(context::Shared::new(
            state::HubState::new(config),
            base_url.clone(),
            store,
            xet,
        ));
        for f in self.faults {
            shared.faults.add(f);
        }
        let router = app::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, router, stop_rx));
        Ok(Emulator {
            shared,
            url: base_url,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server (and every Space app).
pub struct Emulator {
    shared: Arc<context::Shared>,
    url: String,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every Hub API request answered so far (control calls excluded).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.snapshot()
    }

    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }

    /// Successful Space restarts journaled: every cause with `None`, else `Some("api")`
    /// (`POST …/restart`) or `Some("settings")` (a secret or variable write under
    /// `settings_restart`).
    pub fn restart_count(&self, cause: Option<&str>) -> usize {
        self.shared.journal.restart_count(cause)
    }

    /// Journal entries that changed state.
    pub fn mutation_count(&self) -> usize {
        self.shared.journal.mutation_count()
    }

    /// Requests whose URL contained a configured token (should stay 0).
    pub fn token_leaks(&self) -> usize {
        self.shared.token_leaks.load(Ordering::Relaxed)
    }

    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The value of a Space secret (test-only peek; the Hub never returns secret values).
    pub fn space_secret(&self, repo_id: &str, key: &str) -> Option<String> {
        let st = self.shared.lock();
        st.repos
            .get(&state::RepoKey::new(state::RepoType::Space, repo_id))?
            .space
            .as_ref()?
            .secrets
            .get(key)
            .map(|kv| kv.value.clone())
    }

    /// A Space's variables, KEY → value.
    pub fn space_variables(&self, repo_id: &str) -> BTreeMap<String, String> {
        let st = self.shared.lock();
        st.repos
            .get(&state::RepoKey::new(state::RepoType::Space, repo_id))
            .and_then(|r| r.space.as_ref())
            .map(|s| {
                s.variables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The current stage of a Space, without counting as a runtime read (time-driven changes,
    /// such as the end of a build lag, apply).
    pub fn space_stage(&self, repo_id: &str) -> Option<String> {
        let mut st = self.shared.lock();
        let space = st
            .repos
            .get_mut(&state::RepoKey::new(state::RepoType::Space, repo_id))?
            .space
            .as_mut()?;
        space_stages::tick(space, std::time::Instant::now());
        Some(space.stage.to_string())
    }

    /// The Space app's origin (`http://127.0.0.1:PORT`), as in Space info `host`.
    pub fn space_host(&self, repo_id: &str) -> Option<String> {
        let st = self.shared.lock();
        st.repos
            .get(&state::RepoKey::new(state::RepoType::Space, repo_id))?
            .space
            .as_ref()
            .map(|s| s.host.clone())
    }

    /// Backdates a repo's `createdAt` and `lastModified` (for janitor tests). `repo_type` is
    /// `model`, `dataset` or `space`. Returns false when the repo does not exist.
    pub fn set_created_at(&self, repo_type: &str, repo_id: &str, at: time::OffsetDateTime) -> bool {
        let Some(rtype) = state::RepoType::from_singular(Some(repo_type)) else {
            return false;
        };
        let mut st = self.shared.lock();
        match st.repos.get_mut(&state::RepoKey::new(rtype, repo_id)) {
            Some(r) => {
                r.created_at = at;
                r.last_modified = at;
                true
            }
            None => false,
        }
    }

    /// Makes the Space's app listener forward to `upstream` (e.g. `http://127.0.0.1:PORT`, a real
    /// app such as the proxy) instead of the built-in test app; `None` restores the test app.
    /// The access check and header rewriting stay in front. Returns false for an unknown Space.
    /// Lets `runner` start a Space's real app on its first request (see [`AppRunner`]).
    pub fn set_space_app_runner(&self, runner: AppRunner) {
        if let Ok(mut slot) = self.shared.app_runner.lock() {
            *slot = Some(runner);
        }
    }

    pub fn set_space_app_upstream(&self, repo_id: &str, upstream: Option<&str>) -> bool {
        let mut st = self.shared.lock();
        match st
            .repos
            .get_mut(&state::RepoKey::new(state::RepoType::Space, repo_id))
            .and_then(|r| r.space.as_mut())
        {
            Some(s) => {
                s.upstream = upstream.map(str::to_string);
                true
            }
            None => false,
        }
    }

    /// Stops serving and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.shared.lock().repos.clear();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // Drops every Space app handle, which stops their listeners.
        if let Ok(mut st) = self.shared.state.lock() {
            st.repos.clear();
        }
    }
}
