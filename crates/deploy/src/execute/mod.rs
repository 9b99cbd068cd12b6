//! Carrying out a plan: LFS uploads first, then the commit(s).

pub mod commit;
pub mod upload;

/// A positive integer from the environment (tuning knobs for tests and benchmarks), else `default`.
pub(crate) fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}
