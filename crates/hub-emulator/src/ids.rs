//! Random hex ids: mongo ids, commit nonces, upload ids, tickets and signatures.

use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(1);

/// A process-unique, unpredictable-enough hex id of `len` characters (not a security boundary:
/// upload signatures only need to be unguessable by tests that do not read them).
pub fn random_hex(len: usize) -> String {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(len);
    let mut round = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seq.to_le_bytes());
        h.update(round.to_le_bytes());
        h.update(rand::random::<u64>().to_le_bytes());
        out.push_str(&hex::encode(h.finalize()));
        round += 1;
    }
    out.truncate(len);
    out
}
