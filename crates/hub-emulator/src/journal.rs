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
}

/// Marker a handler puts in its response's extensions when it changed state.
#[derive(Clone, Copy, Debug)]
pub struct Mutated;

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
    pub fn mutation_count(&self) -> usize {
        self.entries
            .lock()
            .map(|e| e.iter().filter(|x| x.mutating).count())
            .unwrap_or(0)
    }
}
