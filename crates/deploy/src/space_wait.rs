//! Waiting for a Space after a commit: poll its runtime until it runs, or fail with the stage and the last
//! lines of the build (or run) log. The first poll is immediate; the interval is 2 s, or
//! `HF_DEPLOY_POLL_INTERVAL_MS` (tests against the emulator use a few milliseconds).

use std::time::Duration;

use hub::{HubClient, HubError, LogKind, RepoId, SpaceRuntime};

use crate::report::Report;

/// Stages after which the Space will move on by itself.
const TRANSITIONAL: [&str; 4] = [
    "BUILDING",
    "RUNNING_BUILDING",
    "APP_STARTING",
    "RUNNING_APP_STARTING",
];
/// How long a settled stage right after a commit may be the previous build's (see `WaitOptions::grace`).
const COMMIT_GRACE: Duration = Duration::from_secs(20);
/// Log lines shown on failure.
const LOG_TAIL: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    pub timeout: Duration,
    pub interval: Duration,
    /// Right after a commit the Hub may still report the previous build's settled stage (an old RUNNING, or
    /// the NO_APP_FILE of a fresh Space) before it starts building. Within this grace a settled stage only
    /// counts once a transitional one (BUILDING, …) has been seen. Zero when nothing was committed.
    pub grace: Duration,
}

impl WaitOptions {
    pub fn from_env(timeout: Duration) -> WaitOptions {
        let ms = std::env::var("HF_DEPLOY_POLL_INTERVAL_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        WaitOptions {
            timeout,
            interval: Duration::from_millis(ms.unwrap_or(2000)),
            grace: Duration::ZERO,
        }
    }

    /// The options for a wait that follows a commit: a settled stage counts only after a transitional one,
    /// or once `COMMIT_GRACE` has passed.
    /// `HF_DEPLOY_COMMIT_GRACE_MS` overrides the grace (tests).
    pub fn after_commit(self) -> WaitOptions {
        let grace = std::env::var("HF_DEPLOY_COMMIT_GRACE_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(COMMIT_GRACE);
        WaitOptions { grace, ..self }
    }
}

/// Why the Space is not running.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the Space {repo} failed with stage {stage}{}{}", message_part(.message), logs_part(.logs))]
    Failed {
        repo: String,
        stage: String,
        message: Option<String>,
        logs: Vec<String>,
    },
    #[error("the Space {repo} was still {stage} after {waited:?} (wait_timeout); it may still start: check its page, or raise wait_timeout")]
    Timeout {
        repo: String,
        stage: String,
        waited: Duration,
    },
    #[error("reading the runtime of the Space {repo}: {source}")]
    Hub { repo: String, source: HubError },
}

fn message_part(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn logs_part(logs: &[String]) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n{}", logs.join("\n"))
    }
}

async fn log_tail(client: &HubClient, repo: &RepoId, stage: &str) -> Vec<String> {
    let kind = if stage == "RUNTIME_ERROR" {
        LogKind::Run
    } else {
        LogKind::Build
    };
    match client.space_logs(repo, kind).await {
        Ok(lines) => {
            let lines: Vec<String> = lines
                .iter()
                .flat_map(|l| l.lines().map(str::to_string))
                .collect();
            lines[lines.len().saturating_sub(LOG_TAIL)..].to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Polls until `RUNNING`. Fails on any other settled stage (BUILD_ERROR, RUNTIME_ERROR, CONFIG_ERROR,
/// NO_APP_FILE, PAUSED, …) with the log tail, or when `timeout` passes.
pub async fn wait_for_space(
    client: &HubClient,
    repo: &RepoId,
    opts: &WaitOptions,
    report: &dyn Report,
) -> Result<SpaceRuntime, WaitError> {
    let start = tokio::time::Instant::now();
    let deadline = start + opts.timeout;
    let mut last_stage = String::new();
    let mut seen_transitional = false;
    loop {
        let runtime = client
            .space_runtime(repo)
            .await
            .map_err(|source| WaitError::Hub {
                repo: repo.to_string(),
                source,
            })?;
        if runtime.stage != last_stage {
            report.info(&format!("Space {repo}: {}", runtime.stage));
            last_stage = runtime.stage.clone();
        }
        let transitional = TRANSITIONAL.contains(&runtime.stage.as_str());
        seen_transitional |= transitional;
        let maybe_stale = !seen_transitional && start.elapsed() < opts.grace;
        if runtime.stage == "RUNNING" && !maybe_stale {
            return Ok(runtime);
        }
        if !transitional && !maybe_stale {
            let logs = log_tail(client, repo, &runtime.stage).await;
            return Err(WaitError::Failed {
                repo: repo.to_string(),
                stage: runtime.stage,
                message: runtime.error_message,
                logs,
            });
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(WaitError::Timeout {
                repo: repo.to_string(),
                stage: runtime.stage,
                waited: now - start,
            });
        }
        tokio::time::sleep(opts.interval.min(deadline - now)).await;
    }
}
