//! What every handler shares: the state behind its lock, the journal, the fault rules and the
//! LFS store.

use crate::faults::Faults;
use crate::journal::Journal;
use crate::state::HubState;
use crate::storage::LfsStore;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a Space runs with, handed to an [`AppRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRun {
    pub repo_id: String,
    pub variables: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

/// Runs a Space's real app on its first request (the offline demo runs hf-space-proxy for its proxy Space,
/// as the Hub would build and run it): returns the app's origin, or `None` to keep the built-in test app.
pub type AppRunner =
    Arc<dyn Fn(SpaceRun) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Everything the handlers share.
pub struct Shared {
    pub state: Mutex<HubState>,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub journal: Journal,
    pub faults: Faults,
    pub store: LfsStore,
    pub token_leaks: AtomicUsize,
    /// Numbers the `x-request-id` of each request.
    pub request_seq: AtomicU64,
    pub app_runner: Mutex<Option<AppRunner>>,
    /// The Xet store, unless the emulator runs without Xet.
    pub xet: Option<crate::xet_store::XetStore>,
}

pub type Ctx = Arc<Shared>;

impl Shared {
    pub fn new(
        state: HubState,
        base_url: String,
        store: LfsStore,
        xet: Option<crate::xet_store::XetStore>,
    ) -> Self {
        Shared {
            state: Mutex::new(state),
            base_url,
            journal: Journal::default(),
            faults: Faults::default(),
            store,
            token_leaks: AtomicUsize::new(0),
            request_seq: AtomicU64::new(1),
            app_runner: Mutex::new(None),
            xet,
        }
    }

    /// The state lock. A panic while holding it would poison it; keep serving anyway.
    pub fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Does a configured token appear in this URL? (Tokens must travel in headers only.)
    pub fn token_in(&self, uri: &str) -> bool {
        let st = self.lock();
        st.tokens
            .keys()
            .any(|t| !t.is_empty() && uri.contains(t.as_str()))
    }
}
