//! Xet uploads: when the LFS batch answers `transfer: xet`, the objects go to the Hub's
//! content-addressed store through Hugging Face's own client (`hf-xet`), which chunks by content
//! and sends only the chunks the store does not hold. The write token comes from the Hub's token
//! endpoint for the repo and revision (docs/hub-protocol.md#xet); `hf-xet` refreshes it from
//! the same URL. The commit then names each file by its sha256 (`lfsFile`), as for LFS.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use xet::xet_session::{
    HeaderMap, HeaderValue, Sha256Policy, XetConfig, XetSessionBuilder, XetUploadCommit,
};

use crate::client::{read_json, HubClient, RetryMode};
use crate::error::{HubError, Result};
use crate::lfs_transfer::Progress;
use crate::repo_id::RepoRef;
use crate::retry::RetryPolicy;

/// One file to send through Xet: its sha256 (hex, the commit's `lfsFile` oid) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XetFile {
    pub sha256: String,
    pub path: PathBuf,
}

/// What an upload through Xet did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XetStats {
    /// Bytes of the files, all read and chunked locally.
    pub file_bytes: u64,
    /// Bytes sent over the network (new chunks, compressed, and the shard).
    pub sent_bytes: u64,
    /// Bytes of the files the store already held (from any earlier version or file).
    pub deduped_bytes: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct XetToken {
    cas_url: String,
    access_token: String,
    exp: u64,
}

impl HubClient {
    /// Whether the LFS batch offers the `xet` transfer (see [`HubClient::with_xet`]).
    pub fn offers_xet(&self) -> bool {
        self.inner.xet
    }

    /// Uploads `files` through Xet for a commit to `revision` (`create_pr`: the commit opens a
    /// pull request). `progress` hears the bytes processed, as for LFS transfers.
    pub async fn upload_xet(
        &self,
        repo: &RepoRef,
        revision: &str,
        create_pr: bool,
        files: &[XetFile],
        progress: Option<Progress>,
    ) -> Result<XetStats> {
        if files.is_empty() {
            return Ok(XetStats::default());
        }
        let refresh_url = format!(
            "{}/api/{}s/{}/xet-write-token/{}{}",
            self.endpoint(),
            repo.repo_type.as_str(),
            repo.id,
            crate::encode::revision(revision),
            if create_pr { "?create_pr=1" } else { "" }
        );
        let token: XetToken = self
            .run(RetryMode::Idempotent, "Xet token", || async {
                let response = self
                    .execute(self.request(Method::GET, &refresh_url), true, &[])
                    .await?;
                read_json(response).await
            })
            .await?;
        let mut auth = HeaderMap::new();
        if let Some(t) = &self.inner.token {
            let value = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                .map_err(|_| xet_error("the Hub token is not a valid header value".into()))?;
            auth.insert("authorization", value);
        }
        // hf-xet's HTTPS uses the process-wide rustls provider; install ring once (an error means one is set).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let session = XetSessionBuilder::new_with_config(self.xet_config()?)
            .with_tokio_handle(tokio::runtime::Handle::current())
            .build()
            .map_err(|e| xet_error(format!("cannot start a Xet session: {e}")))?;
        let commit = session
            .new_upload_commit()
            .map_err(|e| xet_error(e.to_string()))?
            .with_endpoint(token.cas_url)
            .with_token_info(token.access_token, token.exp)
            .with_token_refresh_url(refresh_url, auth)
            .build()
            .await
            .map_err(|e| xet_error(e.to_string()))?;
        let report = {
            let watch = progress.map(|p| watch_progress(commit.clone(), p));
            let result = send(&commit, files).await;
            if let Some(w) = watch {
                w.abort();
            }
            result?
        };
        let m = report.dedup_metrics;
        Ok(XetStats {
            file_bytes: m.total_bytes,
            sent_bytes: m.total_bytes_uploaded,
            deduped_bytes: m.deduped_bytes,
        })
    }
}

impl HubClient {
    /// hf-xet's settings (from its `HF_XET_*` variables). A retry policy set on this client (tests, the
    /// deploy's `HF_DEPLOY_RETRY_BASE_MS`) also paces hf-xet's own retries, so one knob governs both.
    fn xet_config(&self) -> Result<XetConfig> {
        let config = XetConfig::new();
        let retry = &self.inner.retry;
        if *retry == RetryPolicy::default() {
            return Ok(config);
        }
        let set = |c: XetConfig, key: &str, value: String| {
            c.with_config(key, value)
                .map_err(|e| xet_error(format!("Xet setting {key}: {e}")))
        };
        let config = set(
            config,
            "client.retry_base_delay",
            format!("{}ms", retry.base_delay.as_millis()),
        )?;
        set(
            config,
            "client.retry_max_attempts",
            retry.max_attempts.to_string(),
        )
    }
}

async fn send(
    commit: &XetUploadCommit,
    files: &[XetFile],
) -> Result<xet::xet_session::XetCommitReport> {
    for f in files {
        // The sha256 is known from the walk: hf-xet records it without hashing the file again.
        commit
            .upload_from_path(f.path.clone(), Sha256Policy::from_hex(&f.sha256))
            .await
            .map_err(|e| xet_error(format!("{}: {e}", f.path.display())))?;
    }
    commit.commit().await.map_err(|e| xet_error(e.to_string()))
}

/// Feeds the session's processed-byte count to `progress` as deltas, a few times a second.
fn watch_progress(commit: XetUploadCommit, progress: Progress) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = 0u64;
        let mut every = tokio::time::interval(Duration::from_millis(250));
        loop {
            every.tick().await;
            let now = commit.progress().total_bytes_completed;
            if now > seen {
                progress(i64::try_from(now - seen).unwrap_or(i64::MAX));
                seen = now;
            }
        }
    })
}

fn xet_error(message: String) -> HubError {
    HubError::Xet { message }
}
