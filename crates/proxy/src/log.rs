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
static STDERR_BUF: Mutex<Out> = Mutex::new(Out {
    buf: Vec::new(),
    stamp: Stamp::new(),
});

/// The buffered stderr lines and the timestamp cache, behind one lock.
struct Out {
    buf: Vec<u8>,
    stamp: Stamp,
}

/// The timestamp of the current second, formatted once: lines within a second only rewrite the
/// milliseconds (the date arithmetic was a visible share of the access log's per-request cost).
struct Stamp {
    secs: u64,
    text: [u8; 24],
}

impl Stamp {
    const fn new() -> Stamp {
        // `u64::MAX` is never a current second: the first call formats.
        Stamp {
            secs: u64::MAX,
            text: [0; 24],
        }
    }

    /// RFC 3339 UTC with milliseconds for `since_epoch`.
    fn at(&mut self, since_epoch: Duration) -> [u8; 24] {
        let secs = since_epoch.as_secs();
        if secs != self.secs {
            self.text = format_timestamp(secs);
            self.secs = secs;
        }
        let mut out = self.text;
        put_digits(&mut out, 20, u64::from(since_epoch.subsec_millis()), 3);
        out
    }
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

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
                let mut out = match STDERR_BUF.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                let Out { buf, stamp } = &mut *out;
                buf.extend_from_slice(&stamp.at(since_epoch()));
                buf.push(b' ');
                fill(buf);
                buf.push(b'\n');
                if buf.len() >= FLUSH_AT {
                    write_out(buf);
                }
            }
            LogSink::Func(f) => {
                let mut line = Stamp::new().at(since_epoch()).to_vec();
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
            push_decimal(buf, u64::from(status));
            buf.push(b' ');
            push_decimal(buf, u64::try_from(ms).unwrap_or(u64::MAX));
            buf.extend_from_slice(b"ms");
        });
    }

    /// Writes buffered lines out (called every `FLUSH_EVERY` and at shutdown).
    pub fn flush(&self) {
        if let LogSink::Stderr = self {
            let mut out = match STDERR_BUF.lock() {
                Ok(b) => b,
                Err(p) => p.into_inner(),
            };
            write_out(&mut out.buf);
        }
    }
}

/// u64, not u128: a u128 division is a library call, and this runs a dozen times per access line.
fn push_decimal(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
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
                push_decimal(buf, u64::from(octet));
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

fn put_digits(out: &mut [u8; 24], at: usize, value: u64, width: usize) {
    let mut v = value;
    for i in (0..width).rev() {
        out[at + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` for a second since the epoch (milliseconds left at zero), without a date
/// crate and without `format!`.
fn format_timestamp(secs: u64) -> [u8; 24] {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let mut out = [0u8; 24];
    put_digits(&mut out, 0, y.clamp(0, 9999) as u64, 4);
    put_digits(&mut out, 5, u64::from(m), 2);
    put_digits(&mut out, 8, u64::from(d), 2);
    put_digits(&mut out, 11, rem / 3600, 2);
    put_digits(&mut out, 14, rem % 3600 / 60, 2);
    put_digits(&mut out, 17, rem % 60, 2);
    put_digits(&mut out, 20, 0, 3);
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
    }

    #[test]
    fn decimals() {
        for v in [0, 7, 10, 255, 1234, u64::MAX] {
            let mut buf = Vec::new();
            super::push_decimal(&mut buf, v);
            assert_eq!(String::from_utf8(buf).unwrap(), v.to_string());
        }
    }

    #[test]
    fn stamp_reformats_only_on_a_new_second() {
        use std::time::Duration;
        let text = |b: [u8; 24]| String::from_utf8(b.to_vec()).unwrap();
        let mut stamp = super::Stamp::new();
        // 2026-03-05T23:59:59 UTC, then the next second (a new day), then a second back.
        let t = 20_517 * 86_400 + 86_399;
        assert_eq!(
            text(stamp.at(Duration::from_millis(t * 1000 + 7))),
            "2026-03-05T23:59:59.007Z"
        );
        assert_eq!(
            text(stamp.at(Duration::from_millis(t * 1000 + 999))),
            "2026-03-05T23:59:59.999Z"
        );
        assert_eq!(
            text(stamp.at(Duration::from_millis((t + 1) * 1000 + 42))),
            "2026-03-06T00:00:00.042Z"
        );
        assert_eq!(
            text(stamp.at(Duration::from_secs(t))),
            "2026-03-05T23:59:59.000Z"
        );
        assert_eq!(
            text(super::Stamp::new().at(Duration::from_secs(0))),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
