//! Tuning knobs: retry policy, concurrency, Space polling, commit sizes. Built once at the edge (from the
//! `HF_DEPLOY_*` variables of docs/contracts.md, which tests and benchmarks set) and passed down, so nothing
//! below the command reads the process environment.

use std::time::Duration;

use crate::validate::EnvLookup;

/// Bounds of one commit: operations, and bytes of regular files sent inline (base64 in the request body,
/// which the client holds in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLimits {
    pub max_operations: usize,
    pub max_inline_bytes: u64,
}

impl Default for CommitLimits {
    fn default() -> Self {
        CommitLimits {
            max_operations: 5000,
            max_inline_bytes: 24 << 20,
        }
    }
}

/// Every knob of a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// `None`: the hub crate's default policy.
    pub retry: Option<hub::RetryPolicy>,
    /// LFS transfers in flight at once.
    pub upload_concurrency: usize,
    /// Multipart parts in flight per file.
    pub part_concurrency: usize,
    /// How often a Space's runtime is polled.
    pub poll_interval: Duration,
    /// After a commit, how long a settled stage may still be the previous build's.
    pub commit_grace: Duration,
    /// How often a long phase (uploads, the Space wait) reports progress in logs without a terminal.
    pub progress_every: Duration,
    /// The first wait before re-reading a branch after a 412 (doubled on each further one).
    pub replan_delay: Duration,
    pub commit_limits: CommitLimits,
    /// Offer Xet to the Hub for large files (off with `HF_HUB_DISABLE_XET`, as in huggingface_hub).
    pub xet: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            retry: None,
            upload_concurrency: 8,
            part_concurrency: hub::DEFAULT_PART_CONCURRENCY,
            poll_interval: Duration::from_secs(2),
            commit_grace: Duration::from_secs(20),
            progress_every: Duration::from_secs(10),
            replan_delay: Duration::from_millis(500),
            commit_limits: CommitLimits::default(),
            xet: true,
        }
    }
}

impl Tuning {
    /// The defaults, overridden by `HF_DEPLOY_*` variables (invalid or zero values are ignored).
    pub fn from_env(env: EnvLookup) -> Tuning {
        let d = Tuning::default();
        let parsed = |key: &str| env(key).and_then(|v| v.trim().parse::<u64>().ok());
        let number = |key: &str| parsed(key).filter(|v| *v > 0);
        // For waits where zero means "none" (a test that wants no grace or no back-off).
        let millis_or_zero =
            |key: &str, default: Duration| parsed(key).map_or(default, Duration::from_millis);
        let count = |key: &str, default: usize| {
            number(key)
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(default)
        };
        let millis =
            |key: &str, default: Duration| number(key).map_or(default, Duration::from_millis);
        Tuning {
            // A short base delay for tests against a local emulator that injects faults.
            retry: number("HF_DEPLOY_RETRY_BASE_MS").map(|ms| {
                let base = Duration::from_millis(ms);
                hub::RetryPolicy {
                    base_delay: base,
                    max_delay: base * 10,
                    max_server_wait: Duration::from_secs(5),
                    ..hub::RetryPolicy::default()
                }
            }),
            upload_concurrency: count("HF_DEPLOY_UPLOAD_CONCURRENCY", d.upload_concurrency),
            part_concurrency: count("HF_DEPLOY_PART_CONCURRENCY", d.part_concurrency),
            poll_interval: millis("HF_DEPLOY_POLL_INTERVAL_MS", d.poll_interval),
            progress_every: millis("HF_DEPLOY_PROGRESS_INTERVAL_MS", d.progress_every),
            replan_delay: millis_or_zero("HF_DEPLOY_REPLAN_DELAY_MS", d.replan_delay),
            commit_grace: millis_or_zero("HF_DEPLOY_COMMIT_GRACE_MS", d.commit_grace),
            commit_limits: CommitLimits {
                max_operations: count("HF_DEPLOY_MAX_COMMIT_FILES", d.commit_limits.max_operations),
                max_inline_bytes: number("HF_DEPLOY_MAX_COMMIT_BYTES")
                    .unwrap_or(d.commit_limits.max_inline_bytes),
            },
            // huggingface_hub's own spelling and reading of the switch, so one variable turns Xet off for both.
            xet: !env("HF_HUB_DISABLE_XET").is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_uppercase().as_str(),
                    "1" | "ON" | "YES" | "TRUE"
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_and_ignores_nonsense() {
        let env = |k: &str| match k {
            "HF_DEPLOY_UPLOAD_CONCURRENCY" => Some("3".to_string()),
            "HF_DEPLOY_PART_CONCURRENCY" => Some("0".to_string()),
            "HF_DEPLOY_POLL_INTERVAL_MS" => Some("5".to_string()),
            "HF_DEPLOY_COMMIT_GRACE_MS" => Some("0".to_string()),
            "HF_DEPLOY_MAX_COMMIT_FILES" => Some("many".to_string()),
            "HF_DEPLOY_RETRY_BASE_MS" => Some("2".to_string()),
            _ => None,
        };
        let t = Tuning::from_env(&env);
        let d = Tuning::default();
        assert_eq!(t.upload_concurrency, 3);
        assert_eq!(t.part_concurrency, d.part_concurrency);
        assert_eq!(t.poll_interval, Duration::from_millis(5));
        // A zero grace is meaningful (a test that wants none); zero concurrency is not.
        assert_eq!(t.commit_grace, Duration::ZERO);
        assert_eq!(t.commit_limits, d.commit_limits);
        assert_eq!(
            t.retry.map(|r| r.base_delay),
            Some(Duration::from_millis(2))
        );
        assert_eq!(Tuning::from_env(&|_: &str| None), d);
        assert!(d.xet);
    }

    #[test]
    fn xet_is_turned_off_as_huggingface_hub_does() {
        for (value, xet) in [
            ("1", false),
            ("true", false),
            ("ON", false),
            ("0", true),
            ("", true),
        ] {
            let env = |k: &str| (k == "HF_HUB_DISABLE_XET").then(|| value.to_string());
            assert_eq!(
                Tuning::from_env(&env).xet,
                xet,
                "HF_HUB_DISABLE_XET={value}"
            );
        }
    }
}
