//! Spaces: runtime, build/run logs (SSE), restart, secrets, variables, app probe (docs/hub-protocol.md#spaces).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::{describe, read_json, HubClient, RetryMode};
use crate::error::{HubError, Result};
use crate::repo_id::{RepoId, RepoRef};
use crate::token::Token;

/// How long the log stream may stay silent before we consider it drained.
const LOG_IDLE: Duration = Duration::from_secs(5);
/// Upper bound on reading a log stream.
const LOG_TOTAL: Duration = Duration::from_secs(30);

/// A Space's runtime stage, as the Hub names it (docs/hub-protocol.md#spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceStage {
    NoAppFile,
    ConfigError,
    Building,
    BuildError,
    AppStarting,
    Running,
    RunningBuilding,
    RunningAppStarting,
    RuntimeError,
    Sleeping,
    Paused,
    Stopped,
    Deleting,
    /// A stage this client does not know, kept as sent.
    Other(String),
}

impl SpaceStage {
    const KNOWN: [(&'static str, SpaceStage); 13] = [
        ("NO_APP_FILE", SpaceStage::NoAppFile),
        ("CONFIG_ERROR", SpaceStage::ConfigError),
        ("BUILDING", SpaceStage::Building),
        ("BUILD_ERROR", SpaceStage::BuildError),
        ("APP_STARTING", SpaceStage::AppStarting),
        ("RUNNING", SpaceStage::Running),
        ("RUNNING_BUILDING", SpaceStage::RunningBuilding),
        ("RUNNING_APP_STARTING", SpaceStage::RunningAppStarting),
        ("RUNTIME_ERROR", SpaceStage::RuntimeError),
        ("SLEEPING", SpaceStage::Sleeping),
        ("PAUSED", SpaceStage::Paused),
        ("STOPPED", SpaceStage::Stopped),
        ("DELETING", SpaceStage::Deleting),
    ];

    pub fn parse(text: &str) -> SpaceStage {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, stage)| stage.clone())
            .unwrap_or_else(|| SpaceStage::Other(text.to_string()))
    }

    /// The Hub's name for the stage.
    pub fn as_str(&self) -> &str {
        match self {
            SpaceStage::Other(text) => text,
            known => Self::KNOWN
                .iter()
                .find(|(_, stage)| stage == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// Stages that change by themselves (keep polling).
    pub fn is_transitional(&self) -> bool {
        matches!(
            self,
            SpaceStage::Building
                | SpaceStage::RunningBuilding
                | SpaceStage::AppStarting
                | SpaceStage::RunningAppStarting
        )
    }
}

impl std::fmt::Display for SpaceStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Space's runtime state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRuntime {
    pub stage: SpaceStage,
    /// Current hardware flavour, else the requested one.
    pub hardware: Option<String>,
    pub error_message: Option<String>,
    /// The commit the runtime reports it is building/serving, when the Hub sends `sha`
    /// (reported by third parties, not documented: treat `None` as "unknown").
    pub sha: Option<String>,
}

/// Which log stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Build,
    Run,
}

impl LogKind {
    fn as_str(self) -> &'static str {
        match self {
            LogKind::Build => "build",
            LogKind::Run => "run",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRuntime {
    stage: String,
    #[serde(default)]
    hardware: Option<serde_json::Value>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    sha: Option<String>,
}

impl From<RawRuntime> for SpaceRuntime {
    fn from(raw: RawRuntime) -> SpaceRuntime {
        let hardware = match raw.hardware {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Object(o)) => o
                .get("current")
                .and_then(|v| v.as_str())
                .or_else(|| o.get("requested").and_then(|v| v.as_str()))
                .map(str::to_string),
            _ => None,
        };
        SpaceRuntime {
            stage: SpaceStage::parse(&raw.stage),
            hardware,
            error_message: raw.error_message,
            sha: raw.sha.filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct RawVariable {
    #[serde(default)]
    value: String,
}

/// The `data` payloads of an SSE text (`data: {"data": "line\n", …}`); keep-alives skipped.
pub(crate) fn sse_payloads(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| d.starts_with('{'))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v.get("data")
                .and_then(|d| d.as_str())
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        })
        .collect()
}

impl HubClient {
    fn space(repo: &RepoId) -> RepoRef {
        RepoRef::space(repo.clone())
    }

    /// The Space's runtime (stage, hardware, error message).
    pub async fn space_runtime(&self, repo: &RepoId) -> Result<SpaceRuntime> {
        let raw: RawRuntime = self
            .get_json(
                &self.repo_api_url(&Self::space(repo), "/runtime"),
                "space runtime",
            )
            .await?;
        Ok(raw.into())
    }

    /// The build or run log lines available now. Reads until the stream closes or
    /// stays silent for 5 s (the Hub keeps streaming), at most 30 s.
    pub async fn space_logs(&self, repo: &RepoId, kind: LogKind) -> Result<Vec<String>> {
        let mut stream = self.log_stream(repo, kind).await?;
        let mut text = Vec::new();
        let deadline = tokio::time::Instant::now() + LOG_TOTAL;
        loop {
            let wait =
                LOG_IDLE.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, stream.next()).await {
                Ok(Some(Ok(chunk))) => text.extend_from_slice(&chunk),
                Ok(Some(Err(e))) => {
                    if text.is_empty() {
                        return Err(HubError::Network {
                            message: format!("reading space logs: {}", describe(&e)),
                        });
                    }
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(sse_payloads(&String::from_utf8_lossy(&text)))
    }

    /// Follows the build or run log: `on_line` gets each line as the Hub sends it, until the stream ends (the
    /// Hub keeps it open while the Space builds; it replays the log from the start on each connection).
    pub async fn follow_space_logs(
        &self,
        repo: &RepoId,
        kind: LogKind,
        mut on_line: impl FnMut(&str),
    ) -> Result<()> {
        let mut stream = self.log_stream(repo, kind).await?;
        let mut pending = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| HubError::Network {
                message: format!("reading space logs: {}", describe(&e)),
            })?;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            // Whole events only: a chunk may end in the middle of one.
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                for payload in sse_payloads(&event) {
                    payload.lines().for_each(&mut on_line);
                }
            }
        }
        for payload in sse_payloads(&pending) {
            payload.lines().for_each(&mut on_line);
        }
        Ok(())
    }

    /// The raw SSE stream of the build or run log.
    async fn log_stream(
        &self,
        repo: &RepoId,
        kind: LogKind,
    ) -> Result<impl futures::Stream<Item = reqwest::Result<bytes::Bytes>>> {
        let url = self.repo_api_url(&Self::space(repo), &format!("/logs/{}", kind.as_str()));
        let request = self
            .request(Method::GET, &url)
            .header("accept", "text/event-stream");
        let response = self
            .execute(request, true, &[])
            .await
            .map_err(|f| f.error)?;
        Ok(response.bytes_stream())
    }

    /// Restarts the Space; returns the new runtime.
    pub async fn restart_space(&self, repo: &RepoId) -> Result<SpaceRuntime> {
        let url = self.repo_api_url(&Self::space(repo), "/restart");
        let raw: RawRuntime = self
            .run(RetryMode::NotProcessedOnly, "restart space", || async {
                let response = self
                    .execute(self.request(Method::POST, &url), true, &[])
                    .await?;
                read_json(response).await
            })
            .await?;
        Ok(raw.into())
    }

    /// Adds or replaces a secret.
    pub async fn add_space_secret(&self, repo: &RepoId, key: &str, value: &Token) -> Result<()> {
        let url = self.repo_api_url(&Self::space(repo), "/secrets");
        let body = json!({ "key": key, "value": value.expose() });
        self.send_unit(Method::POST, &url, &body, "add space secret")
            .await
    }

    /// Removes a secret (no error when it does not exist).
    pub async fn delete_space_secret(&self, repo: &RepoId, key: &str) -> Result<()> {
        let url = self.repo_api_url(&Self::space(repo), "/secrets");
        self.send_unit(
            Method::DELETE,
            &url,
            &json!({ "key": key }),
            "delete space secret",
        )
        .await
    }

    /// The names of the Space's secrets (values are never returned).
    pub async fn list_space_secrets(&self, repo: &RepoId) -> Result<Vec<String>> {
        let url = self.repo_api_url(&Self::space(repo), "/secrets");
        let map: BTreeMap<String, serde_json::Value> =
            self.get_json(&url, "list space secrets").await?;
        Ok(map.into_keys().collect())
    }

    /// The Space's variables, `KEY → value`.
    pub async fn space_variables(&self, repo: &RepoId) -> Result<BTreeMap<String, String>> {
        let url = self.repo_api_url(&Self::space(repo), "/variables");
        let map: BTreeMap<String, RawVariable> = self.get_json(&url, "space variables").await?;
        Ok(map.into_iter().map(|(k, v)| (k, v.value)).collect())
    }

    /// Adds or replaces a variable.
    pub async fn add_space_variable(&self, repo: &RepoId, key: &str, value: &str) -> Result<()> {
        let url = self.repo_api_url(&Self::space(repo), "/variables");
        self.send_unit(
            Method::POST,
            &url,
            &json!({ "key": key, "value": value }),
            "add space variable",
        )
        .await
    }

    /// Removes a variable (no error when it does not exist).
    pub async fn delete_space_variable(&self, repo: &RepoId, key: &str) -> Result<()> {
        let url = self.repo_api_url(&Self::space(repo), "/variables");
        self.send_unit(
            Method::DELETE,
            &url,
            &json!({ "key": key }),
            "delete space variable",
        )
        .await
    }

    /// Plain GET of `{base_url}{path}` on a Space app, without any token, no retry;
    /// returns the status (network failures are errors). For health probes.
    pub async fn probe_app(&self, base_url: &str, path: &str) -> Result<u16> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), path);
        let request = self
            .request(Method::GET, &url)
            .timeout(Duration::from_secs(15));
        let response = match self.execute(request, false, &[]).await {
            Ok(r) => r,
            Err(f) => return f.error.status().ok_or(f.error),
        };
        Ok(response.status().as_u16())
    }

    async fn send_unit(
        &self,
        method: Method,
        url: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> Result<()> {
        self.run(RetryMode::Idempotent, what, || async {
            let response = self
                .execute(self.request(method.clone(), url).json(body), true, &[])
                .await?;
            let _ = response.bytes().await;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse() {
        let text = "data: {\"data\":\"step 1\\n\",\"timestamp\":\"t\"}\n\ndata:\n\ndata: {\"data\":\"done\"}\n: comment\n";
        assert_eq!(sse_payloads(text), vec!["step 1", "done"]);
    }

    #[test]
    fn runtime_hardware_shapes() {
        let r: RawRuntime = serde_json::from_value(
            json!({"stage":"RUNNING","hardware":{"current":null,"requested":"cpu-basic"}}),
        )
        .unwrap();
        let r: SpaceRuntime = r.into();
        assert_eq!(r.hardware.as_deref(), Some("cpu-basic"));
        assert!(!r.stage.is_transitional());
        assert_eq!(r.stage, SpaceStage::Running);
        let r: RawRuntime =
            serde_json::from_value(json!({"stage":"BUILDING","hardware":null,"errorMessage":"x"}))
                .unwrap();
        let r: SpaceRuntime = r.into();
        assert!(r.stage.is_transitional());
        assert_eq!(SpaceStage::parse("NEW_ONE").as_str(), "NEW_ONE");
        assert_eq!(
            SpaceStage::parse("RUNTIME_ERROR").to_string(),
            "RUNTIME_ERROR"
        );
        assert_eq!(r.error_message.as_deref(), Some("x"));
    }
}
