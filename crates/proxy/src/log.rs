//! Log lines: one per request (access log) plus start-up and error lines. Plain text on stderr by default.
//!
//! Callers pass only values that cannot hold a secret: method, path without its query, status, timings,
//! and static error descriptions.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lines are buffered and written to stderr in batches: one `write` per request would be a large share
/// of the proxy's per-request cost. `FLUSH_EVERY` bounds how late a line can appear.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(200);
const FLUSH_AT: usize = 16 * 1024;
static STDERR_BUF: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Where log lines go.
#[derive(Clone)]
pub(crate) enum LogSink {
    Stderr,
    Func(Arc<dyn Fn(&str) + Send + Sync>),
}

impl LogSink {
    pub fn line(&self, msg: &str) {
        match self {
            LogSink::Stderr => {
                let mut buf = match STDERR_BUF.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                let _ = writeln!(buf, "{} {msg}", timestamp());
                if buf.len() >= FLUSH_AT {
                    write_out(&mut buf);
                }
            }
            LogSink::Func(f) => f(&format!("{} {msg}", timestamp())),
        }
    }

    /// Writes buffered lines out (called every `FLUSH_EVERY` and at shutdown).
    pub fn flush(&self) {
        if let LogSink::Stderr = self {
            let mut buf = match STDERR_BUF.lock() {
                Ok(b) => b,
                Err(p) => p.into_inner(),
            };
            write_out(&mut buf);
        }
    }
}

fn write_out(buf: &mut Vec<u8>) {
    if !buf.is_empty() {
        let _ = std::io::stderr().write_all(buf);
        buf.clear();
    }
}

/// Keeps log lines on one line and short: control characters become `?`, at most `max` characters.
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// RFC 3339 UTC timestamp with milliseconds, without a date crate (and without `format!`, which was a
/// visible share of the per-request cost).
pub(crate) fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let mut out = [0u8; 24];
    let mut put = |at: usize, value: u64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y.clamp(0, 9999) as u64, 4);
    put(5, u64::from(m), 2);
    put(8, u64::from(d), 2);
    put(11, rem / 3600, 2);
    put(14, rem % 3600 / 60, 2);
    put(17, rem % 60, 2);
    put(20, u64::from(now.subsec_millis()), 3);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[at] = c;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        let t = super::timestamp();
        assert_eq!(t.len(), 24);
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
}
