//! LFS transfers: basic PUT and multipart parts + completion, streamed from disk,
//! retried; then the optional verify call (docs/hub-protocol.md#lfs-transfers).

use std::io::SeekFrom;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::{stream, Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::json;
use std::io::{Read, Seek};

use crate::client::{describe, header_str, HubClient, RetryMode};
use crate::error::{HubError, Result};
use crate::preupload::{LfsAction, LfsBatchObject};

/// Bytes read from disk per body chunk: below glibc's mmap threshold, so chunk buffers are recycled by the
/// allocator instead of being mapped, zeroed and unmapped each time (perf, issue 7: that churn cost ~8% of the
/// client's CPU in a cold deploy), and small enough to stay in cache between the read and the socket write.
const READ_CHUNK: usize = 64 << 10;

/// Chunks read ahead of the socket per body.
const READ_AHEAD: usize = 16;

/// Told about bytes handed to the socket (positive) and taken back when a try fails and is retried (negative).
pub type Progress = Arc<dyn Fn(i64) + Send + Sync>;

/// The bytes one try of one body sent, so a failed try can take them back from the progress.
#[derive(Clone, Default)]
struct Sent {
    progress: Option<Progress>,
    bytes: Arc<AtomicU64>,
}

impl Sent {
    fn new(progress: &Option<Progress>) -> Sent {
        Sent {
            progress: progress.clone(),
            bytes: Arc::default(),
        }
    }

    fn add(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p(n as i64);
        }
    }

    /// A failed try: what it counted is sent again by the next one.
    fn take_back(&self) {
        let n = self.bytes.swap(0, Ordering::Relaxed);
        if let (Some(p), true) = (&self.progress, n > 0) {
            p(-(n as i64));
        }
    }
}

/// One try of one body: what it sent is taken back from the progress when the try fails (the retry sends it
/// again).
async fn counted<T, F, Fut>(
    progress: &Option<Progress>,
    attempt: F,
) -> Result<T, crate::client::Failure>
where
    F: FnOnce(Sent) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::client::Failure>>,
{
    let sent = Sent::new(progress);
    let result = attempt(sent.clone()).await;
    if result.is_err() {
        sent.take_back();
    }
    result
}

/// Streams `len` bytes of `path` from `offset`, never holding more than [`READ_AHEAD`] chunks.
async fn file_body(
    path: &Path,
    offset: u64,
    len: u64,
    sent: Sent,
) -> std::io::Result<reqwest::Body> {
    let path = path.to_path_buf();
    let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let mut file = std::fs::File::open(path)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(reqwest::Body::wrap_stream(chunks(file, len, sent)))
}

/// One blocking reader per body fills chunks straight into the buffers that are sent (`tokio::fs::File` would
/// read into its own buffer first and copy), a few ahead of the socket.
fn chunks(
    file: std::fs::File,
    len: u64,
    sent: Sent,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).map_or(READ_CHUNK, |l| l.min(READ_CHUNK));
            let mut chunk = Vec::with_capacity(want);
            match (&mut file).take(want as u64).read_to_end(&mut chunk) {
                // Shorter than announced: the request fails on its Content-Length instead of hanging.
                Ok(0) => break,
                Ok(n) => {
                    left -= n as u64;
                    // The receiver is gone when the request failed or was dropped: stop reading.
                    if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    // Counted as the body takes each chunk: what the socket has been given, not what the disk read ahead.
    stream::unfold(rx, move |mut rx| {
        let sent = sent.clone();
        async move {
            let item = rx.recv().await?;
            if let Ok(chunk) = &item {
                sent.add(chunk.len());
            }
            Some((item, rx))
        }
    })
}

/// Digit-only header keys are part URLs (`"1"`, `"00001"`), in numeric order.
pub(crate) fn part_urls(action: &LfsAction) -> Result<(u64, Vec<(u32, String)>)> {
    let chunk_size = match action.header.get("chunk_size") {
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .filter(|c| *c > 0)
    .ok_or_else(|| {
        HubError::invalid("LFS multipart: chunk_size missing or not a positive integer")
    })?;
    let mut parts: Vec<(u32, String)> = action
        .header
        .iter()
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .map(|(k, v)| {
            let n = k
                .parse::<u32>()
                .map_err(|_| HubError::invalid(format!("LFS multipart: bad part number {k:?}")))?;
            let href = v.as_str().ok_or_else(|| {
                HubError::invalid(format!("LFS multipart: part {k} URL is not a string"))
            })?;
            Ok((n, href.to_string()))
        })
        .collect::<Result<_>>()?;
    parts.sort_by_key(|(n, _)| *n);
    Ok((chunk_size, parts))
}

impl HubClient {
    /// Uploads the object's bytes from `source` if the batch answer asked for it
    /// (a no-op otherwise), then verifies when the Hub wants that. `progress` hears of the bytes as they go.
    pub async fn upload_lfs(
        &self,
        object: &LfsBatchObject,
        source: &Path,
        progress: Option<Progress>,
    ) -> Result<()> {
        let Some(actions) = &object.actions else {
            return Ok(());
        };
        let Some(upload) = &actions.upload else {
            return Ok(());
        };
        let on_disk = tokio::fs::metadata(source).await?.len();
        if on_disk != object.size {
            return Err(HubError::InvalidInput {
                message: format!(
                    "{} is {on_disk} bytes but was hashed at {} bytes; it changed during the deploy",
                    source.display(),
                    object.size
                ),
            });
        }
        if upload.header.contains_key("chunk_size") {
            self.upload_multipart(object, upload, source, &progress)
                .await?;
        } else {
            self.upload_basic(object, upload, source, &progress).await?;
        }
        if let Some(verify) = &actions.verify {
            let url = self.fix_endpoint(&verify.href);
            let body = json!({ "oid": object.oid, "size": object.size });
            self.run(RetryMode::Idempotent, "LFS verify", || async {
                let request = self
                    .request(Method::POST, &url)
                    .header("accept", "application/vnd.git-lfs+json")
                    .header("content-type", "application/vnd.git-lfs+json")
                    .body(body.to_string());
                self.execute(request, true, &[]).await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn upload_basic(
        &self,
        object: &LfsBatchObject,
        upload: &LfsAction,
        source: &Path,
        progress: &Option<Progress>,
    ) -> Result<()> {
        let url = self.fix_endpoint(&upload.href);
        self.run(RetryMode::Idempotent, "LFS upload", || {
            counted(progress, |sent| async {
                let response = self.put_range(&url, source, 0, object.size, sent).await?;
                drain(response).await
            })
        })
        .await
    }

    /// PUTs `len` bytes of `source` from `offset` to a pre-signed URL (never with the token).
    async fn put_range(
        &self,
        url: &str,
        source: &Path,
        offset: u64,
        len: u64,
        sent: Sent,
    ) -> Result<reqwest::Response, crate::client::Failure> {
        let body = file_body(source, offset, len, sent)
            .await
            .map_err(HubError::from)?;
        let request = self
            .request(Method::PUT, url)
            .header("content-length", len)
            .body(body);
        self.execute(request, false, &[]).await
    }

    async fn upload_multipart(
        &self,
        object: &LfsBatchObject,
        upload: &LfsAction,
        source: &Path,
        progress: &Option<Progress>,
    ) -> Result<()> {
        let (chunk_size, parts) = part_urls(upload)?;
        let expected = object.size.div_ceil(chunk_size);
        if parts.len() as u64 != expected {
            return Err(HubError::invalid(format!(
                "LFS multipart: {} part URLs for {} bytes in chunks of {chunk_size} (expected {expected})",
                parts.len(),
                object.size
            )));
        }
        let uploads = parts.iter().enumerate().map(|(i, (number, href))| {
            let offset = i as u64 * chunk_size;
            let len = chunk_size.min(object.size - offset);
            let url = self.fix_endpoint(href);
            async move {
                let etag = self
                    .run(RetryMode::Idempotent, "LFS part upload", || {
                        counted(progress, |sent| async {
                            let response = self.put_range(&url, source, offset, len, sent).await?;
                            let etag = header_str(response.headers(), "etag");
                            drain(response).await?;
                            etag.ok_or_else(|| {
                                HubError::invalid(format!(
                                    "LFS multipart: part {number} answered without an ETag"
                                ))
                                .into()
                            })
                        })
                    })
                    .await?;
                Ok::<_, HubError>((*number, etag))
            }
        });
        let mut etags: Vec<(u32, String)> = stream::iter(uploads)
            .buffer_unordered(self.inner.part_concurrency)
            .try_collect()
            .await?;
        etags.sort_by_key(|(n, _)| *n);
        let body = json!({
            "oid": object.oid,
            "parts": etags.iter().map(|(n, etag)| json!({ "partNumber": n, "etag": etag })).collect::<Vec<_>>(),
        });
        let url = self.fix_endpoint(&upload.href);
        self.run(
            RetryMode::Idempotent,
            "LFS multipart completion",
            || async {
                let request = self
                    .request(Method::POST, &url)
                    .header("accept", "application/vnd.git-lfs+json")
                    .header("content-type", "application/vnd.git-lfs+json")
                    .body(body.to_string());
                let response = self.execute(request, false, &[]).await?;
                drain(response).await
            },
        )
        .await
    }
}

/// Reads and drops the body so the connection returns to the pool; a drop here
/// is a network failure (the upload may not have been stored).
async fn drain(response: reqwest::Response) -> Result<(), crate::client::Failure> {
    response.bytes().await.map(|_| ()).map_err(|e| {
        HubError::Network {
            message: format!("reading an LFS answer: {}", describe(&e)),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicI64;

    #[test]
    fn parts_sorted_numerically() {
        let mut header = BTreeMap::new();
        header.insert("chunk_size".to_string(), json!("5"));
        header.insert("00010".to_string(), json!("http://x/10"));
        header.insert("2".to_string(), json!("http://x/2"));
        header.insert("00001".to_string(), json!("http://x/1"));
        header.insert("other".to_string(), json!("ignored"));
        let (size, parts) = part_urls(&LfsAction {
            href: "h".into(),
            header,
        })
        .unwrap();
        assert_eq!(size, 5);
        assert_eq!(
            parts.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![1, 2, 10]
        );
    }

    #[test]
    fn chunk_size_may_be_a_number() {
        let mut header = BTreeMap::new();
        header.insert("chunk_size".to_string(), json!(7));
        assert_eq!(
            part_urls(&LfsAction {
                href: "h".into(),
                header
            })
            .unwrap()
            .0,
            7
        );
        assert!(part_urls(&LfsAction {
            href: "h".into(),
            header: BTreeMap::new()
        })
        .is_err());
    }

    #[tokio::test]
    async fn streams_a_range() {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let content: Vec<u8> = (0..(READ_CHUNK * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        f.write_all(&content).unwrap();
        let mut file = std::fs::File::open(f.path()).unwrap();
        file.seek(SeekFrom::Start(5)).unwrap();
        let seen = Arc::new(AtomicI64::new(0));
        let progress: Progress = {
            let seen = Arc::clone(&seen);
            Arc::new(move |n| {
                seen.fetch_add(n, Ordering::Relaxed);
            })
        };
        let sent = Sent::new(&Some(progress));
        let got: Vec<Bytes> = chunks(file, READ_CHUNK as u64 + 3, sent.clone())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        let joined: Vec<u8> = got.concat();
        assert_eq!(joined, content[5..5 + READ_CHUNK + 3]);
        // Progress heard every byte the body gave out; a failed try takes them back.
        assert_eq!(seen.load(Ordering::Relaxed), READ_CHUNK as i64 + 3);
        sent.take_back();
        assert_eq!(seen.load(Ordering::Relaxed), 0);
    }
}
