//! Caller limits: API keys (constant-time), the per-caller token bucket and its key. The body cap lives in
//! `body::Cap`, the connection cap in `server`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use hyper::header::HeaderMap;

use crate::config::RateLimit;

/// Header that carries a caller's API key.
pub(crate) const API_KEY_HEADER: &str = "x-proxy-key";
/// Buckets kept before idle ones are swept.
const MAX_BUCKETS: usize = 10_000;

/// Compares in time that depends only on the lengths, not on where the bytes differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, y) in b.iter().enumerate() {
        let x = a.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Returns the matching key (checked against every configured key, without early exit).
pub(crate) fn check_api_key<'k>(keys: &'k [Vec<u8>], presented: Option<&[u8]>) -> Option<&'k [u8]> {
    let presented = presented?;
    let mut found = None;
    for k in keys {
        if constant_time_eq(presented, k) {
            found = Some(k.as_slice());
        }
    }
    found
}

/// The rate-limit key: the API key when there is one, else the last `X-Forwarded-For` entry (the Hub's
/// edge appends the real address last; earlier entries are the caller's to forge), else the peer address.
/// `peer` is the connection's address, already formatted (it is formatted once per connection).
pub(crate) fn caller_key(headers: &HeaderMap, peer: &str, api_key: Option<&[u8]>) -> String {
    if let Some(k) = api_key {
        let mut s = String::with_capacity(4 + k.len());
        s.push_str("key:");
        s.push_str(&String::from_utf8_lossy(k));
        return s;
    }
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut s = String::with_capacity(48);
    s.push_str("ip:");
    match last {
        Some(ip) => s.push_str(ip),
        None => s.push_str(peer),
    }
    s
}

/// Token buckets, one per caller key.
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token; `Err(seconds)` says when to retry.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let RateLimit { rps, burst } = self.limit;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            // Forget callers whose bucket has refilled: they are indistinguishable from new ones.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rps < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rps).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rps).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use std::time::Duration;

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        let keys = vec![b"k1".to_vec(), b"k2".to_vec()];
        assert_eq!(check_api_key(&keys, Some(b"k2")), Some(&b"k2"[..]));
        assert_eq!(check_api_key(&keys, Some(b"k3")), None);
        assert_eq!(check_api_key(&keys, None), None);
    }

    #[test]
    fn key_is_last_forwarded_for() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.1.1.1"),
        );
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("7.7.7.7, 2.2.2.2"),
        );
        let peer = "127.0.0.1";
        assert_eq!(caller_key(&h, peer, None), "ip:2.2.2.2");
        assert_eq!(caller_key(&HeaderMap::new(), peer, None), "ip:127.0.0.1");
        assert_eq!(caller_key(&h, peer, Some(b"k")), "key:k");
    }

    #[test]
    fn bucket() {
        let r = RateLimiter::new(RateLimit {
            rps: 1.0,
            burst: 2.0,
        });
        let t = Instant::now();
        assert!(r.check("a", t).is_ok());
        assert!(r.check("a", t).is_ok());
        assert_eq!(r.check("a", t), Err(1));
        assert!(r.check("b", t).is_ok());
        assert!(r.check("a", t + Duration::from_millis(1100)).is_ok());
    }
}
