//! Small helpers: timestamps, ids and git-style hashes.

use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// ISO-8601 UTC with milliseconds and a trailing `Z`, the only form the Python client parses.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

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

/// Git blob id: sha1("blob {len}\0" + content).
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

pub fn sha1_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// The Git LFS pointer file the repo stores in place of an LFS object.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// True for a 64-character lower-case hex string.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Percent-decodes one path segment (`refs%2Fpr%2F1` → `refs/pr/1`).
pub fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses an `application/x-www-form-urlencoded` query into ordered pairs.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    match query {
        Some(q) => url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        None => Vec::new(),
    }
}

pub fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `true`/`True`/`1` (requests sends `True`, httpx `true`).
pub fn truthy(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.to_ascii_lowercase()).as_deref(),
        Some("true" | "1" | "yes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_of_hello() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn iso_has_millis_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(iso(t), "1970-01-01T00:00:00.000Z");
    }
}
