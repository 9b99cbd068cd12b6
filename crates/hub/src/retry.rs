//! When and how long to wait before repeating a request: exponential backoff with
//! jitter, or exactly what the server asked for (`Retry-After`, `RateLimit: …;t=N`).

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Bounds for retries. The default matches the Python client's schedule
/// (1, 2, 4, 8, 8 s) with jitter, six tries in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, the first included (1 = never retry).
    pub max_attempts: u32,
    /// First backoff step.
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// Largest wait honoured from a server hint (`Retry-After`, `RateLimit t=`).
    pub max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_server_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// A policy with tiny delays, for tests against a local server.
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            max_server_wait: Duration::from_secs(3),
        }
    }

    /// How long to sleep before try number `attempt + 1` (`attempt` counts from 1).
    /// A server hint wins over the backoff schedule.
    pub fn delay(&self, attempt: u32, server_hint: Option<Duration>) -> Duration {
        if let Some(hint) = server_hint {
            return hint.min(self.max_server_wait);
        }
        let exp = attempt.saturating_sub(1).min(16);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        // "Equal jitter": half fixed, half random, so concurrent clients spread out
        // but never retry immediately.
        let half = step / 2;
        let jitter = rand::random_range(0.0..=1.0f64);
        half + half.mul_f64(jitter)
    }
}

/// The wait the server asked for on a 429/503: `RateLimit: "api";r=0;t=N` (sleep N+1 s,
/// as the Python client does) else an integer `Retry-After`.
pub(crate) fn server_wait_hint(headers: &HeaderMap) -> Option<Duration> {
    if let Some(t) = headers
        .get("ratelimit")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_ratelimit_reset)
    {
        return Some(Duration::from_secs(t.saturating_add(1)));
    }
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `Retry-After: <seconds>` (the HTTP-date form is ignored, like the Python client does).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Some servers send fractions.
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The `t` parameter of `RateLimit: "api";r=0;t=42`, when the bucket is exhausted
/// (`r=0`) or `r` is absent.
pub(crate) fn parse_ratelimit_reset(value: &str) -> Option<u64> {
    let mut remaining = None;
    let mut reset = None;
    for part in value.split([';', ',']) {
        let part = part.trim();
        if let Some(r) = part.strip_prefix("r=") {
            remaining = r.trim().parse::<u64>().ok();
        } else if let Some(t) = part.strip_prefix("t=") {
            reset = t.trim().parse::<u64>().ok();
        }
    }
    match remaining {
        Some(r) if r > 0 => None,
        _ => reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn ratelimit_forms() {
        assert_eq!(parse_ratelimit_reset("\"api\";r=0;t=42"), Some(42));
        assert_eq!(parse_ratelimit_reset("\"api\";t=7"), Some(7));
        assert_eq!(parse_ratelimit_reset("\"api\";r=5;t=42"), None);
        assert_eq!(parse_ratelimit_reset("garbage"), None);
    }

    #[test]
    fn ratelimit_wins_over_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("9"));
        assert_eq!(server_wait_hint(&h), Some(Duration::from_secs(9)));
        h.insert("ratelimit", HeaderValue::from_static("\"api\";r=0;t=1"));
        assert_eq!(server_wait_hint(&h), Some(Duration::from_secs(2)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let d = p.delay(attempt, None);
            let step = Duration::from_secs(1u64 << (attempt - 1).min(3));
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(1000))),
            p.max_server_wait
        );
    }
}
