//! Caller limits: API keys (constant-time), who a caller is, the per-caller token bucket and the
//! per-caller cap on concurrent requests. The body cap lives in `body::Cap`, the connection cap in `server`.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hyper::header::HeaderMap;

use crate::config::RateLimit;

const X_FORWARDED_FOR: hyper::header::HeaderName =
    hyper::header::HeaderName::from_static("x-forwarded-for");
/// Header that carries a caller's API key.
pub(crate) const API_KEY_HEADER: &str = "x-proxy-key";
/// The rate limiter's table: `SETS` sets of `WAYS` buckets, allocated once. A caller hashes (with a
/// per-process random key, so nobody can aim at one set) to one set; lookup and eviction look at
/// `WAYS` slots only, under that set's own lock.
const SETS: usize = 4096;
const WAYS: usize = 4;
/// How many callers the rate limiter tracks at most (16,384).
#[cfg(test)]
pub(crate) const RATE_TABLE_CAPACITY: usize = SETS * WAYS;

/// Compares in time that depends only on the lengths, not on where the bytes differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, y) in b.iter().enumerate() {
        let x = a.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Returns the index of the matching key (checked against every configured key, without early exit).
pub(crate) fn check_api_key(keys: &[Vec<u8>], presented: Option<&[u8]>) -> Option<usize> {
    let presented = presented?;
    let mut found = None;
    for (i, k) in keys.iter().enumerate() {
        if constant_time_eq(presented, k) {
            found = Some(i);
        }
    }
    found
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Parses one `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:80`).
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The caller's address: the last `X-Forwarded-For` entry (the Hub's edge appends the real address last;
/// earlier entries are the caller's to forge) when it parses as an address, else the peer. Only a parsed
/// address is returned, so nothing the caller wrote reaches the log or the limiters' keys verbatim.
pub(crate) fn caller_ip(headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(parse_addr)
        .unwrap_or_else(|| peer.to_canonical())
}

/// Who a request comes from, for the rate limiter and the per-caller connection cap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Caller {
    /// A valid API key, by its position in `PROXY_API_KEYS` (the key itself is never stored).
    Key(usize),
    V4(u32),
    /// An IPv6 caller is its /64: one host or subscriber usually holds a whole /64.
    V6(u64),
}

impl Caller {
    pub fn of(ip: IpAddr, api_key: Option<usize>) -> Caller {
        match (api_key, ip) {
            (Some(k), _) => Caller::Key(k),
            (None, IpAddr::V4(v4)) => Caller::V4(u32::from(v4)),
            (None, IpAddr::V6(v6)) => Caller::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Key(i) => write!(f, "key#{i}"),
            Caller::V4(a) => write!(f, "{}", std::net::Ipv4Addr::from(*a)),
            Caller::V6(p) => write!(f, "{}/64", std::net::Ipv6Addr::from(u128::from(*p) << 64)),
        }
    }
}

type Bucket = Option<(Caller, f64, Instant)>;

/// Token buckets, one per caller, in a fixed-size set-associative table.
pub(crate) struct RateLimiter {
    limit: RateLimit,
    hasher: std::collections::hash_map::RandomState,
    sets: Box<[Mutex<[Bucket; WAYS]>]>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            hasher: std::collections::hash_map::RandomState::new(),
            sets: (0..SETS).map(|_| Mutex::new([None; WAYS])).collect(),
        }
    }

    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        let RateLimit { rps, burst } = self.limit;
        (tokens + now.saturating_duration_since(at).as_secs_f64() * rps).min(burst)
    }

    /// Takes one token; `Err(seconds)` says when to retry.
    pub fn check(&self, caller: Caller, now: Instant) -> Result<(), u64> {
        let set = &self.sets[(self.hasher.hash_one(caller) as usize) % SETS];
        let mut ways = lock(set);
        let found = ways
            .iter()
            .position(|b| b.is_some_and(|(c, _, _)| c == caller));
        let i = match found {
            Some(i) => i,
            None => {
                // A new caller takes an empty slot, else the fullest bucket's: a full bucket is
                // indistinguishable from a new caller, and a depleted one (an abuser) is kept longest.
                let mut victim = 0;
                let mut most = f64::NEG_INFINITY;
                for (i, b) in ways.iter().enumerate() {
                    let tokens = match b {
                        None => f64::INFINITY,
                        Some((_, t, at)) => self.refilled(*t, *at, now),
                    };
                    if tokens > most {
                        most = tokens;
                        victim = i;
                    }
                }
                ways[victim] = Some((caller, self.limit.burst, now));
                victim
            }
        };
        let Some((_, tokens, at)) = ways[i].as_mut() else {
            return Ok(());
        };
        *tokens = self.refilled(*tokens, *at, now);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.limit.rps).ceil() as u64)
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.sets
            .iter()
            .map(|s| lock(s).iter().filter(|b| b.is_some()).count())
            .sum()
    }
}

/// Concurrent requests per caller (nginx `limit_conn`). The table holds only callers with a request in
/// flight, so it is bounded by the connection cap.
pub(crate) struct CallerSlots {
    max: u32,
    in_flight: Mutex<HashMap<Caller, u32>>,
}

/// One request's place in `CallerSlots`; given back on drop (when the response body or tunnel ends).
pub(crate) struct CallerSlot {
    slots: Arc<CallerSlots>,
    caller: Caller,
}

impl CallerSlots {
    pub fn new(max: u32) -> Arc<CallerSlots> {
        Arc::new(CallerSlots {
            max,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// `None` when `caller` already has `max` requests in flight.
    pub fn acquire(self: &Arc<Self>, caller: Caller) -> Option<CallerSlot> {
        let mut m = lock(&self.in_flight);
        let n = m.entry(caller).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(CallerSlot {
            slots: Arc::clone(self),
            caller,
        })
    }
}

impl Drop for CallerSlot {
    fn drop(&mut self) {
        let mut m = lock(&self.slots.in_flight);
        if let Some(n) = m.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.caller);
            }
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
        assert_eq!(check_api_key(&keys, Some(b"k2")), Some(1));
        assert_eq!(check_api_key(&keys, Some(b"k3")), None);
        assert_eq!(check_api_key(&keys, None), None);
    }

    #[test]
    fn caller_is_the_parsed_last_forwarded_for() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.1.1.1"),
        );
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("7.7.7.7, 2.2.2.2:81"),
        );
        assert_eq!(caller_ip(&h, peer).to_string(), "2.2.2.2");
        assert_eq!(caller_ip(&HeaderMap::new(), peer), peer);
        let one = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_static(v));
            caller_ip(&h, peer).to_string()
        };
        assert_eq!(one("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(one("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(one("::ffff:1.2.3.4"), "1.2.3.4");
        // Anything that is not an address falls back to the peer, so it never reaches the log.
        assert_eq!(one("1.1.1.1 \"GET /admin\""), "127.0.0.1");
        let v6 = |s: &str| Caller::of(s.parse().unwrap(), None);
        assert_eq!(v6("2001:db8:1:2::1"), v6("2001:db8:1:2:ffff::9"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(Caller::of(peer, Some(3)), Caller::Key(3));
    }

    #[test]
    fn bucket() {
        let r = RateLimiter::new(RateLimit {
            rps: 1.0,
            burst: 2.0,
        });
        let (a, b) = (Caller::V4(1), Caller::V4(2));
        let t = Instant::now();
        assert!(r.check(a, t).is_ok());
        assert!(r.check(a, t).is_ok());
        assert_eq!(r.check(a, t), Err(1));
        assert!(r.check(b, t).is_ok());
        assert!(r.check(a, t + Duration::from_millis(1100)).is_ok());
        // Half a token back after half a second: retry in 1 s, not 2.
        assert!(r.check(b, t).is_ok());
        assert_eq!(r.check(b, t + Duration::from_millis(500)), Err(1));
    }

    #[test]
    fn refill_and_retry_after_scale_with_the_rate() {
        let fast = RateLimiter::new(RateLimit {
            rps: 4.0,
            burst: 1.0,
        });
        let (a, t) = (Caller::V4(1), Instant::now());
        assert!(fast.check(a, t).is_ok());
        assert!(fast.check(a, t).is_err());
        assert!(fast.check(a, t + Duration::from_millis(260)).is_ok());
        let slow = RateLimiter::new(RateLimit {
            rps: 0.25,
            burst: 1.0,
        });
        assert!(slow.check(a, t).is_ok());
        assert_eq!(slow.check(a, t), Err(4));
    }

    #[test]
    fn table_is_bounded_and_a_flood_does_not_reset_a_depleted_caller() {
        let r = RateLimiter::new(RateLimit {
            rps: 0.001,
            burst: 2.0,
        });
        let t = Instant::now();
        let abuser = Caller::V4(0x0909_0909);
        assert!(r.check(abuser, t).is_ok());
        assert!(r.check(abuser, t).is_ok());
        assert!(r.check(abuser, t).is_err());
        // 200k new callers, once each: each keeps one token, more than the abuser's none.
        for i in 0..200_000u32 {
            let _ = r.check(Caller::V4(i.wrapping_mul(2_654_435_761)), t);
        }
        assert!(r.tracked() <= RATE_TABLE_CAPACITY);
        assert!(
            r.check(abuser, t).is_err(),
            "the flood evicted the abuser's bucket"
        );
    }

    #[test]
    fn caller_slots() {
        let s = CallerSlots::new(2);
        let a = Caller::V4(1);
        let one = s.acquire(a).unwrap();
        let _two = s.acquire(a).unwrap();
        assert!(s.acquire(a).is_none());
        assert!(s.acquire(Caller::V4(2)).is_some());
        drop(one);
        assert!(s.acquire(a).is_some());
        assert!(lock(&s.in_flight).get(&Caller::V4(2)).is_none());
    }
}
