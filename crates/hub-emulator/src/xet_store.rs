//! The Xet content-addressed store (CAS) behind the emulator's Hub, as on huggingface.co.
//!
//! The store itself is xet-core's own local CAS server (`xet-client`'s `simulation` feature), run
//! in-process on a private loopback listener. Clients never reach it directly: the CAS URL the
//! token endpoint hands out is the emulator's own address, whose `/v1/…` and `/v2/…` routes are
//! forwarded here after the emulator's fault injection, link shaping and journal, so the bytes a
//! Xet upload sends are counted and faults reach xorb and shard uploads too.
//!
//! What the Hub adds on top of a bare CAS, and this does too: each shard a client uploads is read
//! for its files' sha256 (the `lfsFile` oid a commit names); each such file is rebuilt from its
//! xorbs, checked against that sha256 and kept in the LFS store, so a commit may reference it
//! and every download path serves its bytes.

use crate::storage::{LfsStore, StoreError};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::path::Path;
use std::sync::Arc;
use xet_client::cas_client::simulation::{DirectAccessClient, LocalClient, LocalServer};
use xet_core_structures::metadata_shard::streaming_shard::MDBMinimalShard;

/// A file a shard described: its Xet hash, its sha256 (hex, as in an `lfsFile` oid) and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XetFile {
    pub xet_hash: String,
    pub sha256: String,
    pub size: u64,
}

pub struct XetStore {
    client: Arc<dyn DirectAccessClient>,
    /// `http://127.0.0.1:PORT` of the private CAS listener.
    upstream: String,
    prefix: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl XetStore {
    /// Starts the CAS on the current Tokio runtime, keeping its data under `dir`.
    pub async fn start(dir: &Path) -> std::io::Result<XetStore> {
        let io = |e: String| std::io::Error::other(format!("the Xet store did not start: {e}"));
        let ctx = xet_runtime::core::XetContext::default().map_err(|e| io(e.to_string()))?;
        let client = LocalClient::new(ctx, dir)
            .await
            .map_err(|e| io(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let server = LocalServer::from_client(
            client.clone(),
            Some(client.clone()),
            "127.0.0.1".into(),
            port,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = server.serve_until_stopped(listener, stopped).await {
                eprintln!("hub-emulator: the Xet store stopped: {e}");
            }
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| io(e.to_string()))?;
        Ok(XetStore {
            client,
            upstream: format!("http://127.0.0.1:{port}"),
            prefix: format!("/xet-cas/{}", crate::ids::random_hex(12)),
            http,
            _stop: stop,
        })
    }

    /// Where the CAS answers under the emulator's address: a prefix unique to this store, so a client's
    /// local Xet cache (kept per CAS URL) never takes a fresh emulator for one that holds its chunks.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Forwards a CAS request (its path without the prefix). The `Host` header goes along, so the URLs the
    /// CAS writes into its answers (term fetches, xorb uploads) point back at the emulator, not at the
    /// private listener.
    pub async fn forward(
        &self,
        parts: &axum::http::request::Parts,
        path: &str,
        body: reqwest::Body,
    ) -> Response {
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let mut out = self
            .http
            .request(
                parts.method.clone(),
                format!("{}{path}{query}", self.upstream),
            )
            .body(body);
        for (k, v) in parts.headers.iter() {
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                out = out.header(k, v);
            }
        }
        let answer = match out.send().await {
            Ok(a) => a,
            Err(e) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    format!("the Xet store is unreachable: {e}"),
                )
                    .into_response()
            }
        };
        let mut resp = Response::builder().status(answer.status().as_u16());
        for (k, v) in answer.headers().iter() {
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                resp = resp.header(k, v);
            }
        }
        let stream = answer
            .bytes_stream()
            .map(|r| r.map_err(std::io::Error::other));
        resp.body(Body::from_stream(stream))
            .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
    }

    /// Reads a shard's files, rebuilds each from the stored xorbs, checks it against its sha256
    /// and keeps it in the LFS store. A file without a sha256 cannot be named by a commit, as on
    /// the Hub, and is skipped.
    pub async fn ingest_shard(&self, shard: &[u8], lfs: &LfsStore) -> Result<Vec<XetFile>, String> {
        let parsed = MDBMinimalShard::from_reader(&mut std::io::Cursor::new(shard), true, false)
            .map_err(|e| format!("the shard could not be parsed: {e}"))?;
        let mut files = Vec::new();
        for i in 0..parsed.num_files() {
            let Some(view) = parsed.file(i) else { continue };
            let Some(ext) = view.metadata_ext() else {
                continue;
            };
            let segments: Vec<(xet_core_structures::merklehash::MerkleHash, u32, u32, u64)> = (0
                ..view.num_entries())
                .map(|j| {
                    let e = view.entry(j);
                    (
                        e.xorb_hash,
                        e.chunk_index_start,
                        e.chunk_index_end,
                        e.unpacked_segment_bytes as u64,
                    )
                })
                .collect();
            let size: u64 = segments.iter().map(|s| s.3).sum();
            let file = XetFile {
                xet_hash: view.file_hash().hex(),
                sha256: ext.sha256.hex(),
                size,
            };
            if lfs.size_of(&file.sha256) != Some(size) {
                let client = self.client.clone();
                let body = futures::stream::iter(segments).then(move |(xorb, start, end, _)| {
                    let client = client.clone();
                    async move {
                        let mut parts = client
                            .get_xorb_ranges(&xorb, vec![(start, end)])
                            .await
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        parts
                            .pop()
                            .ok_or_else(|| std::io::Error::other("a xorb range came back empty"))
                    }
                });
                lfs.put_stream(&file.sha256, size, Body::from_stream(body))
                    .await
                    .map_err(|e| match e {
                        StoreError::Mismatch(m) => format!(
                            "file {} in the shard does not match its sha256 {}: {m}",
                            file.xet_hash, file.sha256
                        ),
                        other => format!("file {} could not be rebuilt: {other}", file.xet_hash),
                    })?;
            }
            files.push(file);
        }
        Ok(files)
    }
}
