//! What every handler shares: the state behind its lock, the journal, the fault rules and the
//! LFS store.

use crate::faults::Faults;
use crate::journal::Journal;
use crate::state::HubState;
use crate::storage::LfsStore;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};

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
}

pub type Ctx = Arc<Shared>;

impl Shared {
    pub fn new(state: HubState, base_url: String, store: LfsStore) -> Self {
        Shared {
            state: Mutex::new(state),
            base_url,
            journal: Journal::default(),
            faults: Faults::default(),
            store,
            token_leaks: AtomicUsize::new(0),
            request_seq: AtomicU64::new(1),
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
