//! Log lines: one per request (access log) plus start-up and error lines. Plain text on stderr by default.
//!
//! Callers pass only values that cannot hold a secret: method, path without its query, status, timings,
//! and static error descriptions.

use std::io::Write;
use std::net::IpAddr;
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
        self.line_with(|buf| buf.extend_from_slice(msg.as_bytes()));
    }

    /// Writes one line, `timestamp msg`, with `fill` writing `msg` straight into the buffer (the access
    /// log line is built there, without a `format!` and its allocation per request).
    pub fn line_with(&self, fill: impl FnOnce(&mut Vec<u8>)) {
        match self {
            LogSink::Stderr => {
                let mut buf = match STDERR_BUF.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                buf.extend_from_slice(&timestamp_bytes());
                buf.push(b' ');
                fill(&mut buf);
                buf.push(b'\n');
                if buf.len() >= FLUSH_AT {
                    write_out(&mut buf);
                }
            }
            LogSink::Func(f) => {
                let mut line = timestamp_bytes().to_vec();
                line.push(b' ');
                fill(&mut line);
                f(&String::from_utf8_lossy(&line));
            }
        }
    }

    /// The access log line: `caller "METHOD path" status msms`. The path is cut to 200 characters and its
    /// control characters become `?` (as `sanitize` does), so a line stays one line.
    pub fn access(&self, ip: IpAddr, method: &str, path: &str, status: u16, ms: u128) {
        self.line_with(|buf| {
            push_ip(buf, ip);
            buf.extend_from_slice(b" \"");
            buf.extend_from_slice(method.as_bytes());
            buf.push(b' ');
            if path.len() <= 200 && path.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                // Printable ASCII (nearly every path): nothing to replace or cut.
                buf.extend_from_slice(path.as_bytes());
            } else {
                for c in path.chars().take(200) {
                    let c = if c.is_control() { '?' } else { c };
                    let mut utf8 = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
            buf.extend_from_slice(b"\" ");
            push_decimal(buf, u128::from(status));
            buf.push(b' ');
            push_decimal(buf, ms);
            buf.extend_from_slice(b"ms");
        });
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

fn push_decimal(buf: &mut Vec<u8>, mut v: u128) {
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

fn push_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                push_decimal(buf, u128::from(octet));
            }
        }
        // Rare enough (the Hub's edge forwards IPv4) to go through `Display`.
        IpAddr::V6(v6) => {
            let _ = write!(buf, "{v6}");
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
fn timestamp_bytes() -> [u8; 24] {
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
    out
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
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = {
            let seen = std::sync::Arc::clone(&seen);
            super::LogSink::Func(std::sync::Arc::new(move |l: &str| {
                *seen.lock().unwrap() = l.to_owned()
            }))
        };
        let long = format!("/a\nb{}", "x".repeat(300));
        sink.access("10.0.0.255".parse().unwrap(), "GET", &long, 200, 0);
        let line = seen.lock().unwrap().clone();
        let expected = format!(" 10.0.0.255 \"GET /a?b{}\" 200 0ms", "x".repeat(196));
        assert!(line.ends_with(&expected), "{line}");
        sink.access("2001:db8::1".parse().unwrap(), "POST", "/", 404, 1234);
        let line = seen.lock().unwrap().clone();
        assert!(
            line.ends_with(" 2001:db8::1 \"POST /\" 404 1234ms"),
            "{line}"
        );
        let t = String::from_utf8(super::timestamp_bytes().to_vec()).unwrap();
        assert_eq!(t.len(), 24);
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
}
