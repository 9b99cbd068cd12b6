//! Log lines: one per request (access log) plus start-up and error lines. Plain text on stderr by default.
//!
//! Callers pass only values that cannot hold a secret: method, path without its query, status, timings,
//! and static error descriptions.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where log lines go.
#[derive(Clone)]
pub(crate) enum LogSink {
    Stderr,
    Func(Arc<dyn Fn(&str) + Send + Sync>),
}

impl LogSink {
    pub fn line(&self, msg: &str) {
        let line = format!("{} {msg}", timestamp());
        match self {
            LogSink::Stderr => eprintln!("{line}"),
            LogSink::Func(f) => f(&line),
        }
    }
}

/// Keeps log lines on one line and short: control characters become `?`, at most `max` characters.
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// RFC 3339 UTC timestamp with milliseconds, without a date crate.
pub(crate) fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_517), (2026, 3, 5));
        assert_eq!(super::sanitize("a\nb", 10), "a?b");
    }
}
