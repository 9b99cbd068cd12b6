//! Waiting for a Space after a commit: poll its runtime until it runs, or fail with the stage and the last
//! lines of the build (or run) log. The first poll is immediate; the interval comes from [`Tuning`].

use std::time::Duration;

use hub::{HubClient, HubError, LogKind, RepoId, SpaceRuntime, SpaceStage};

use crate::report::Report;
use crate::tuning::Tuning;
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
    /// How often a line says the wait goes on (and the build log is read again, where the Hub closed it).
    pub heartbeat: Duration,
}

impl WaitOptions {
    /// A wait for a Space that nothing just changed.
    pub fn settled(timeout: Duration, tuning: &Tuning) -> WaitOptions {
        WaitOptions {
            timeout,
            interval: tuning.poll_interval,
            grace: Duration::ZERO,
            heartbeat: tuning.progress_every,
        }
    }

    /// A wait that follows a commit: a settled stage counts only after a transitional one, or once the
    /// tuning's commit grace has passed.
    pub fn after_commit(timeout: Duration, tuning: &Tuning) -> WaitOptions {
        WaitOptions {
            grace: tuning.commit_grace,
            ..WaitOptions::settled(timeout, tuning)
        }
    }
}

/// Why the Space is not running.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the Space {repo} failed with stage {stage}{}{}", message_part(.message), logs_part(.logs))]
    Failed {
        repo: String,
        stage: SpaceStage,
        message: Option<String>,
        logs: Vec<String>,
    },
    #[error("the Space {repo} was still {stage} after {}s (wait_timeout); it may still start: check {page}, or raise wait_timeout", .waited.as_secs_f64().round())]
    Timeout {
        repo: String,
        stage: SpaceStage,
        waited: Duration,
        /// The Space's page on the Hub.
        page: String,
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

async fn log_tail(client: &HubClient, repo: &RepoId, stage: &SpaceStage) -> Vec<String> {
    let kind = if *stage == SpaceStage::RuntimeError {
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
/// NO_APP_FILE, PAUSED, …) with the log tail, or when `timeout` passes. Meanwhile the build log is shown as
/// it comes (a collapsed group in GitHub), with a heartbeat line and the Space's page.
pub async fn wait_for_space(
    client: &HubClient,
    repo: &RepoId,
    opts: &WaitOptions,
    report: &dyn Report,
) -> Result<SpaceRuntime, WaitError> {
    let page = client.repo_url(&hub::RepoRef::space(repo.clone()));
    report.group(&format!("Space {repo}: build and start ({page})"));
    let result = tokio::select! {
        result = poll(client, repo, opts, report, &page) => result,
        () = follow_build_log(client, repo, opts, report) => unreachable!("following never ends"),
    };
    report.end_group();
    result
}

/// Prints the build log's new lines, reading it again whenever the Hub closes it.
async fn follow_build_log(
    client: &HubClient,
    repo: &RepoId,
    opts: &WaitOptions,
    report: &dyn Report,
) {
    let mut shown = 0usize;
    loop {
        let mut seen = 0usize;
        // A log that cannot be read is not a reason to fail the wait: the runtime decides.
        let _ = client
            .follow_space_logs(repo, LogKind::Build, |line| {
                seen += 1;
                if seen > shown {
                    shown = seen;
                    report.info(&format!("  | {line}"));
                }
            })
            .await;
        tokio::time::sleep(opts.heartbeat).await;
    }
}

async fn poll(
    client: &HubClient,
    repo: &RepoId,
    opts: &WaitOptions,
    report: &dyn Report,
    page: &str,
) -> Result<SpaceRuntime, WaitError> {
    let start = tokio::time::Instant::now();
    let deadline = start + opts.timeout;
    let mut last_stage = None;
    let mut seen_transitional = false;
    let mut said = start;
    loop {
        let runtime = client
            .space_runtime(repo)
            .await
            .map_err(|source| WaitError::Hub {
                repo: repo.to_string(),
                source,
            })?;
        if last_stage.as_ref() != Some(&runtime.stage) {
            report.info(&format!("Space {repo}: {}", runtime.stage));
            last_stage = Some(runtime.stage.clone());
            said = tokio::time::Instant::now();
        } else if said.elapsed() >= opts.heartbeat {
            report.info(&format!(
                "Space {repo}: still {} after {}s",
                runtime.stage,
                start.elapsed().as_secs()
            ));
            said = tokio::time::Instant::now();
        }
        let transitional = runtime.stage.is_transitional();
        seen_transitional |= transitional;
        let maybe_stale = !seen_transitional && start.elapsed() < opts.grace;
        if runtime.stage == SpaceStage::Running && !maybe_stale {
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
                page: page.to_string(),
            });
        }
        tokio::time::sleep(opts.interval.min(deadline - now)).await;
    }
}
