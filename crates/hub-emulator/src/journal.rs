//! The request journal tests read: method, path (never the query), status, whether state changed.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// One request the Hub API answered (control calls under `/_emulator/` are not journaled).
/// `status` is 0 for a connection dropped on purpose by a fault rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub mutating: bool,
    /// Request body bytes received (0 when none).
    #[serde(default)]
    pub bytes_in: u64,
    /// Set when the request restarted a Space: `api` for `POST …/restart`, `settings` for a
    /// secret or variable write under `--settings-restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
}

/// Marker a handler puts in its response's extensions when it changed state.
#[derive(Clone, Copy, Debug)]
pub struct Mutated;

/// Marker for a response that failed although the change landed (counted as mutating).
#[derive(Clone, Copy, Debug)]
pub struct Landed;

/// Marker for a response whose request restarted a Space, with the cause (see `restart`).
#[derive(Clone, Copy, Debug)]
pub struct Restarted(pub &'static str);

#[derive(Default)]
pub struct Journal {
    entries: Mutex<Vec<JournalEntry>>,
}

impl Journal {
    pub fn push(&self, entry: JournalEntry) {
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
    }
    pub fn snapshot(&self) -> Vec<JournalEntry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }
    /// Successful Space restarts journaled, of every cause (`None`) or of one (`api`, `settings`).
    pub fn restart_count(&self, cause: Option<&str>) -> usize {
        self.entries
            .lock()
            .map(|e| {
                e.iter()
                    .filter(|x| match (&x.restart, cause) {
                        (Some(_), None) => true,
                        (Some(r), Some(c)) => r == c,
                        (None, _) => false,
                    })
                    .count()
            })
            .unwrap_or(0)
    }
    pub fn mutation_count(&self) -> usize {
        self.entries
            .lock()
            .map(|e| e.iter().filter(|x| x.mutating).count())
            .unwrap_or(0)
    }
}
