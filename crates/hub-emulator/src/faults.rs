//! Fault injection: answer matching requests with 429/5xx, drop the connection, or delay them,
//! always or by schedule (first N, every Kth) or by seeded probability.
//!
//! Spec syntax (flag `--fault` and `{"spec": …}` in `POST /_emulator/faults`):
//! `[METHOD] PATH ACTION [OPTION]...`, whitespace separated.
//! * `METHOD`: `GET`, `PUT`, … or `*` (default: any).
//! * `PATH`: starts with `/`; with `*` it is a glob where `*` matches anything (also `/`),
//!   without `*` it is a prefix.
//! * `ACTION`: an HTTP status (`429`, `500`, `502`, `503`, …), `drop` (close the connection without
//!   an answer), `delay=MS` (wait, then answer normally), or `land-then-STATUS` / `land-then-drop`
//!   (handle the request, and when it changed state, e.g. a commit landed, answer STATUS anyway or
//!   drop the connection: the Hub on a bad day).
//! * `OPTION`: `retry-after=S` (429/503), `first=N` (only the first N matching requests),
//!   `every=K` (every Kth matching request), `p=F` with `seed=N` (probability, reproducible),
//!   `times=N` (fire at most N times).
//!
//! Example: `PUT /_lfs/ 503 first=2`, `POST /api/*/commit/* drop every=3`,
//! `* /api/ 429 retry-after=1 p=0.3 seed=42`, `GET /api/whoami-v2 delay=500`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// What a firing rule does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FaultAction {
    /// Answer with this status (and `Retry-After` when set).
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Close the connection without answering.
    Drop,
    /// Wait, then handle the request normally.
    Delay { ms: u64 },
    /// Handle the request; if it changed state (a commit landed), answer this status anyway, or
    /// drop the connection with `None`. Spec `land-then-500`, `land-then-drop`.
    LandThen { status: Option<u16> },
}

/// `500` → `Some(500)`, `drop` → `None` (the tail of `land-then-…`).
fn land_then(tail: &str, spec: &str) -> Result<FaultAction, String> {
    let status = match tail {
        "drop" => None,
        t => match t.parse::<u16>() {
            Ok(s) if (400..600).contains(&s) => Some(s),
            _ => {
                return Err(format!(
                    "fault `{spec}`: land-then takes a 4xx/5xx status or `drop`"
                ))
            }
        },
    };
    Ok(FaultAction::LandThen { status })
}

/// When a matching request triggers the rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FaultTrigger {
    Always,
    /// The first N matching requests.
    First(u64),
    /// Matching requests number K, 2K, 3K…
    Every(u64),
    /// Each matching request with probability `p`, drawn from a generator seeded with `seed`.
    Probability {
        p: f64,
        seed: u64,
    },
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRule {
    /// `None` or `*` = any method.
    pub method: Option<String>,
    /// Prefix, or glob when it contains `*`.
    pub path: String,
    pub action: FaultAction,
    pub trigger: FaultTrigger,
    /// Fire at most this many times.
    pub times: Option<u64>,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            method: None,
            path: "/".into(),
            action: FaultAction::Status {
                status: 503,
                retry_after: None,
            },
            trigger: FaultTrigger::Always,
            times: None,
        }
    }
}

impl FaultRule {
    /// Parses the spec syntax described in the module docs.
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let mut tokens = spec.split_whitespace().peekable();
        let mut rule = FaultRule::default();
        match tokens.peek() {
            Some(t) if !t.starts_with('/') => {
                let m = t.to_ascii_uppercase();
                rule.method = (m != "*").then_some(m);
                tokens.next();
            }
            _ => {}
        }
        rule.path = match tokens.next() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => return Err(format!("fault `{spec}`: expected a path starting with `/`")),
        };
        rule.action = match tokens.next() {
            Some("drop") => FaultAction::Drop,
            Some(t) if t.starts_with("delay=") => FaultAction::Delay {
                ms: num(&t[6..], spec)?,
            },
            Some(t) if t.starts_with("land-then-") => land_then(&t[10..], spec)?,
            Some(t) => match t.parse::<u16>() {
                Ok(status) if (400..600).contains(&status) => FaultAction::Status {
                    status,
                    retry_after: None,
                },
                _ => {
                    return Err(format!(
                        "fault `{spec}`: action must be a 4xx/5xx status, `drop`, `delay=MS` or `land-then-STATUS|drop`"
                    ))
                }
            },
            None => return Err(format!("fault `{spec}`: missing action")),
        };
        let mut p: Option<f64> = None;
        let mut seed = 0u64;
        for t in tokens {
            let (k, v) = t
                .split_once('=')
                .ok_or_else(|| format!("fault `{spec}`: option `{t}` is not KEY=VALUE"))?;
            match k {
                "retry-after" => match &mut rule.action {
                    FaultAction::Status { retry_after, .. } => *retry_after = Some(num(v, spec)?),
                    _ => return Err(format!("fault `{spec}`: retry-after needs a status action")),
                },
                "first" => rule.trigger = FaultTrigger::First(num(v, spec)?),
                "every" => {
                    let k = num(v, spec)?;
                    if k == 0 {
                        return Err(format!("fault `{spec}`: every must be ≥ 1"));
                    }
                    rule.trigger = FaultTrigger::Every(k)
                }
                "p" => {
                    let f: f64 = v
                        .parse()
                        .map_err(|_| format!("fault `{spec}`: p must be a number in 0..=1"))?;
                    if !(0.0..=1.0).contains(&f) {
                        return Err(format!("fault `{spec}`: p must be in 0..=1"));
                    }
                    p = Some(f);
                }
                "seed" => seed = num(v, spec)?,
                "times" => rule.times = Some(num(v, spec)?),
                _ => return Err(format!("fault `{spec}`: unknown option `{k}`")),
            }
        }
        if let Some(p) = p {
            rule.trigger = FaultTrigger::Probability { p, seed };
        }
        Ok(rule)
    }

    /// The rule behind `--commit-lands-then-fails OPTS`: commits (`POST /api/*/commit/*`) land,
    /// then answer a status or lose their connection. `OPTS = [STATUS|drop] [OPTION]...`
    /// (default status 500), e.g. `p=0.3 seed=42`, `drop p=0.5 seed=7`, `504 first=1`.
    pub fn commit_lands_then_fails(opts: &str) -> Result<FaultRule, String> {
        let mut words = opts.split_whitespace().peekable();
        let action = match words.peek() {
            Some(w) if !w.contains('=') => {
                let a = w.to_string();
                words.next();
                a
            }
            _ => "500".to_string(),
        };
        let rest: Vec<&str> = words.collect();
        FaultRule::parse(&format!(
            "POST /api/*/commit/* land-then-{action} {}",
            rest.join(" ")
        ))
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        if self.path.contains('*') {
            glob_match(self.path.as_bytes(), path.as_bytes())
        } else {
            path.starts_with(&self.path)
        }
    }
}

fn num(v: &str, spec: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("fault `{spec}`: `{v}` is not a whole number"))
}

/// `*` matches any run of bytes, including `/`.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        if p < pat.len() && pat[p] != b'*' && pat[p] == s[i] {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// The JSON form of `POST /_emulator/faults`: either `{"spec": "..."}` or the fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRuleJson {
    pub spec: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub drop: bool,
    pub delay_ms: Option<u64>,
    /// `"500"` or `"drop"`: the `land-then-…` action.
    pub land_then: Option<String>,
    pub first: Option<u64>,
    pub every: Option<u64>,
    pub probability: Option<f64>,
    pub seed: Option<u64>,
    pub times: Option<u64>,
}

impl TryFrom<FaultRuleJson> for FaultRule {
    type Error = String;
    fn try_from(j: FaultRuleJson) -> Result<Self, String> {
        if let Some(spec) = j.spec {
            return FaultRule::parse(&spec);
        }
        let path = j.path.ok_or("`path` (or `spec`) is required")?;
        if !path.starts_with('/') {
            return Err("`path` must start with `/`".into());
        }
        let action = if j.drop {
            FaultAction::Drop
        } else if let Some(ms) = j.delay_ms {
            FaultAction::Delay { ms }
        } else if let Some(t) = &j.land_then {
            land_then(t, "landThen")?
        } else {
            let status = j
                .status
                .ok_or("one of `status`, `drop`, `delayMs` is required")?;
            if !(400..600).contains(&status) {
                return Err("`status` must be 4xx or 5xx".into());
            }
            FaultAction::Status {
                status,
                retry_after: j.retry_after,
            }
        };
        let trigger = if let Some(p) = j.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err("`probability` must be in 0..=1".into());
            }
            FaultTrigger::Probability {
                p,
                seed: j.seed.unwrap_or(0),
            }
        } else if let Some(n) = j.first {
            FaultTrigger::First(n)
        } else if let Some(k) = j.every {
            if k == 0 {
                return Err("`every` must be ≥ 1".into());
            }
            FaultTrigger::Every(k)
        } else {
            FaultTrigger::Always
        };
        Ok(FaultRule {
            method: j
                .method
                .filter(|m| m != "*")
                .map(|m| m.to_ascii_uppercase()),
            path,
            action,
            trigger,
            times: j.times,
        })
    }
}

struct Active {
    rule: FaultRule,
    matched: u64,
    fired: u64,
    rng: StdRng,
}

/// The active rules, checked in insertion order; the first that fires wins.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Active>>,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        let seed = match rule.trigger {
            FaultTrigger::Probability { seed, .. } => seed,
            _ => 0,
        };
        if let Ok(mut r) = self.rules.lock() {
            r.push(Active {
                rule,
                matched: 0,
                fired: 0,
                rng: StdRng::seed_from_u64(seed),
            });
        }
    }
    pub fn clear(&self) {
        if let Ok(mut r) = self.rules.lock() {
            r.clear();
        }
    }
    pub fn list(&self) -> Vec<FaultRule> {
        self.rules
            .lock()
            .map(|r| r.iter().map(|a| a.rule.clone()).collect())
            .unwrap_or_default()
    }

    /// The action for this request, if a rule fires.
    pub fn check(&self, method: &str, path: &str) -> Option<FaultAction> {
        let mut rules = self.rules.lock().ok()?;
        for a in rules.iter_mut() {
            if !a.rule.matches(method, path) {
                continue;
            }
            if a.rule.times.is_some_and(|t| a.fired >= t) {
                continue;
            }
            a.matched += 1;
            let fire = match a.rule.trigger {
                FaultTrigger::Always => true,
                FaultTrigger::First(n) => a.matched <= n,
                FaultTrigger::Every(k) => a.matched % k.max(1) == 0,
                FaultTrigger::Probability { p, .. } => a.rng.random::<f64>() < p,
            };
            if fire {
                a.fired += 1;
                return Some(a.rule.action.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let r = FaultRule::parse("PUT /_lfs/ 503 first=2").unwrap();
        assert_eq!(r.method.as_deref(), Some("PUT"));
        assert_eq!(r.trigger, FaultTrigger::First(2));
        let r = FaultRule::parse("/api/*/commit/* drop every=3").unwrap();
        assert_eq!((r.method, r.action), (None, FaultAction::Drop));
        let r = FaultRule::parse("* /api/ 429 retry-after=1 p=0.5 seed=7").unwrap();
        assert_eq!(
            r.action,
            FaultAction::Status {
                status: 429,
                retry_after: Some(1)
            }
        );
        assert_eq!(r.trigger, FaultTrigger::Probability { p: 0.5, seed: 7 });
        assert!(FaultRule::parse("GET api 503").is_err());
        assert!(FaultRule::parse("GET /api 200").is_err());
        assert!(FaultRule::parse("GET /api 503 bogus=1").is_err());
        let r = FaultRule::parse("POST /api/*/commit/* land-then-500 p=0.3 seed=42").unwrap();
        assert_eq!(r.action, FaultAction::LandThen { status: Some(500) });
        let r = FaultRule::parse("/api/ land-then-drop").unwrap();
        assert_eq!(r.action, FaultAction::LandThen { status: None });
        assert!(FaultRule::parse("/api/ land-then-200").is_err());
    }

    #[test]
    fn commit_lands_then_fails_sugar() {
        let r = FaultRule::commit_lands_then_fails("p=0.3 seed=42").unwrap();
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert_eq!(r.path, "/api/*/commit/*");
        assert_eq!(r.action, FaultAction::LandThen { status: Some(500) });
        assert_eq!(r.trigger, FaultTrigger::Probability { p: 0.3, seed: 42 });
        let r = FaultRule::commit_lands_then_fails("drop first=1").unwrap();
        assert_eq!(r.action, FaultAction::LandThen { status: None });
        assert!(FaultRule::commit_lands_then_fails("200").is_err());
    }

    #[test]
    fn land_then_from_json() {
        let j: FaultRuleJson = serde_json::from_value(serde_json::json!({
            "path": "/api/", "landThen": "drop", "probability": 0.3, "seed": 42
        }))
        .unwrap();
        let r = FaultRule::try_from(j).unwrap();
        assert_eq!(r.action, FaultAction::LandThen { status: None });
        assert_eq!(r.trigger, FaultTrigger::Probability { p: 0.3, seed: 42 });
    }

    #[test]
    fn glob_matches_across_slashes() {
        assert!(glob_match(
            b"/api/*/commit/*",
            b"/api/models/a/b/commit/main"
        ));
        assert!(!glob_match(
            b"/api/*/commit/*",
            b"/api/models/a/b/tree/main"
        ));
        assert!(glob_match(b"*", b"/x"));
    }

    #[test]
    fn schedules() {
        let f = Faults::default();
        f.add(FaultRule::parse("/x 500 every=2").unwrap());
        let fired: Vec<bool> = (0..6).map(|_| f.check("GET", "/x").is_some()).collect();
        assert_eq!(fired, [false, true, false, true, false, true]);
        assert!(f.check("GET", "/y").is_none());
    }
}
