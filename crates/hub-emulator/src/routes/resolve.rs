//! `GET|HEAD /{prefix}{id}/resolve/{rev}/{path}` and `/raw/{rev}/{path}`: file bytes with the metadata headers
//! `hf_hub_download` needs. `resolve` serves an LFS file's content (200, streamed from disk, with `X-Linked-Size`
//! and `X-Linked-Etag`; the Hub answers 302 to its CDN with the same headers); `raw` serves the git blob, i.e.
//! the pointer file of an LFS file. A single `Range: bytes=a-b` (or `a-`, `-n`) gets 206 with `Content-Range`,
//! one past the end 416 with `Content-Range: bytes */SIZE`; other Range forms get the whole file (200).

use super::{caller, visible};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::git_hash;
use crate::state::{Content, RepoType};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Which view of the file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The content (LFS files resolved).
    Resolve,
    /// The git blob (LFS files as their pointer).
    Raw,
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// Single ranges only, as the official client sends them; anything else is served whole (allowed by RFC 9110).
fn wanted(headers: &HeaderMap, size: u64) -> Wanted {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match b.parse::<u64>() {
            Ok(0) => return Wanted::Unsatisfiable,
            Ok(n) => Some((size.saturating_sub(n), size.saturating_sub(1))),
            Err(_) => None,
        },
        (false, true) => a.parse::<u64>().ok().map(|a| (a, size.saturating_sub(1))),
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, b.min(size.saturating_sub(1)))),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        None => Wanted::Whole,
        Some((a, _)) if a >= size => Wanted::Unsatisfiable,
        Some((a, b)) => Wanted::Part(a, b),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn resolve(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    rev: &str,
    path: &str,
    view: View,
) -> ApiResult<Response> {
    let (commit_id, entry, xet) = {
        let st = ctx.lock();
        let caller = caller(&st, req.headers())?;
        let repo = visible(&st, caller.as_ref(), rtype, ns, name)?;
        let commit = repo
            .resolve_rev(rev)
            .ok_or_else(|| ApiError::revision_not_found(rev))?;
        let entry = commit.tree.get(path).cloned().ok_or_else(|| {
            ApiError::entry_not_found(format!("{path} does not exist on \"{rev}\""))
                .header("x-repo-commit", commit.id.clone())
        })?;
        // A file stored through Xet names its Xet hash and where a read token comes from, so a
        // Xet client reconstructs it from the CAS (as on the Hub); others get the bytes here.
        let xet = match &entry.content {
            Content::Lfs { sha256 } => st.xet_files.get(sha256).map(|f| {
                let refresh = format!(
                    "{}/api/{}s/{}/xet-read-token/{}",
                    ctx.base_url,
                    rtype.singular(),
                    repo.id(),
                    commit.id
                );
                (f.xet_hash.clone(), refresh)
            }),
            Content::Inline(_) => None,
        };
        (commit.id.clone(), entry, xet)
    };
    let head = req.method() == Method::HEAD;
    // What is served: bytes in memory, or an LFS object on disk.
    let (size, source, etag, linked) = match (&entry.content, view) {
        (Content::Inline(bytes), _) => (
            entry.size,
            Source::Memory(bytes.clone()),
            entry.oid.clone(),
            false,
        ),
        (Content::Lfs { sha256 }, View::Raw) => {
            let pointer = Bytes::from(git_hash::lfs_pointer(sha256, entry.size));
            (
                pointer.len() as u64,
                Source::Memory(pointer),
                entry.oid.clone(),
                false,
            )
        }
        (Content::Lfs { sha256 }, View::Resolve) => (
            entry.size,
            Source::Object(sha256.clone()),
            sha256.clone(),
            true,
        ),
    };
    let range = wanted(req.headers(), size);
    let mut b = Response::builder()
        .header("x-repo-commit", &commit_id)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{etag}\""));
    if linked {
        b = b
            .header("x-linked-etag", format!("\"{etag}\""))
            .header("x-linked-size", size);
    }
    if let (Some((hash, refresh)), View::Resolve) = (&xet, view) {
        b = b
            .header("x-xet-hash", hash)
            .header(header::LINK, format!("<{refresh}>; rel=\"xet-auth\""));
    }
    b = b.header(
        header::CONTENT_TYPE,
        if view == View::Raw {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        },
    );
    let (status, start, len) = match range {
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Part(a, z) => {
            b = b.header(header::CONTENT_RANGE, format!("bytes {a}-{z}/{size}"));
            (StatusCode::PARTIAL_CONTENT, a, z - a + 1)
        }
        Wanted::Unsatisfiable => {
            b = b.header(header::CONTENT_RANGE, format!("bytes */{size}"));
            (StatusCode::RANGE_NOT_SATISFIABLE, 0, 0)
        }
    };
    let body = if head || len == 0 {
        Body::empty()
    } else {
        match source {
            Source::Memory(bytes) => {
                Body::from(bytes.slice(start as usize..(start + len) as usize))
            }
            Source::Object(sha256) => {
                let mut file = tokio::fs::File::open(ctx.store.object_path(&sha256))
                    .await
                    .map_err(unreadable)?;
                if start > 0 {
                    file.seek(std::io::SeekFrom::Start(start))
                        .await
                        .map_err(unreadable)?;
                }
                file_body(file.take(len))
            }
        }
    };
    let mut resp = b
        .status(status)
        .body(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // Set last: a HEAD answer carries the length a GET would have (the client reads it as the file size).
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(resp)
}

enum Source {
    Memory(Bytes),
    /// An LFS object, by sha256.
    Object(String),
}

fn unreadable(e: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("stored LFS object is unreadable: {e}"),
    )
}

/// Streams a reader in 256 KiB chunks.
pub fn file_body<R: tokio::io::AsyncRead + Unpin + Send + 'static>(file: R) -> Body {
    let s = stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Wanted {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).expect("header"));
        wanted(&h, size)
    }

    #[test]
    fn ranges_are_read_as_the_hub_does() {
        assert_eq!(wanted(&HeaderMap::new(), 10), Wanted::Whole);
        assert_eq!(range("bytes=2-5", 10), Wanted::Part(2, 5));
        assert_eq!(range("bytes=2-", 10), Wanted::Part(2, 9));
        assert_eq!(range("bytes=-3", 10), Wanted::Part(7, 9));
        assert_eq!(range("bytes=-30", 10), Wanted::Part(0, 9));
        assert_eq!(range("bytes=8-100", 10), Wanted::Part(8, 9));
        assert_eq!(range("bytes=10-", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=0-", 0), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=5-2", 10), Wanted::Whole);
        assert_eq!(range("bytes=0-1,4-5", 10), Wanted::Whole);
        assert_eq!(range("items=0-1", 10), Wanted::Whole);
    }
}
