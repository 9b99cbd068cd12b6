//! `GET|HEAD /{prefix}{id}/resolve/{rev}/{path}`: file bytes with the metadata headers
//! `hf_hub_download` needs. LFS content is served directly (200), streamed from disk.

use super::{caller, visible};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::state::{Content, RepoType};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures::stream;
use tokio::io::AsyncReadExt;

pub async fn resolve(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    rev: &str,
    path: &str,
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
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("x-repo-commit", &commit_id)
        .header(header::CONTENT_LENGTH, entry.size)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some((hash, refresh)) = &xet {
        b = b
            .header("x-xet-hash", hash)
            .header(header::LINK, format!("<{refresh}>; rel=\"xet-auth\""));
    }
    let body = match &entry.content {
        Content::Inline(bytes) => {
            b = b.header(header::ETAG, format!("\"{}\"", entry.oid));
            if head {
                Body::empty()
            } else {
                Body::from(bytes.clone())
            }
        }
        Content::Lfs { sha256 } => {
            b = b
                .header(header::ETAG, format!("\"{sha256}\""))
                .header("x-linked-etag", format!("\"{sha256}\""))
                .header("x-linked-size", entry.size);
            if head {
                Body::empty()
            } else {
                let file = tokio::fs::File::open(ctx.store.object_path(sha256))
                    .await
                    .map_err(|e| {
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("stored LFS object is unreadable: {e}"),
                        )
                    })?;
                file_body(file)
            }
        }
    };
    let mut resp = b
        .body(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Ok(v) = HeaderValue::from_str(&entry.size.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(resp)
}

/// Streams a file in 256 KiB chunks.
pub fn file_body(file: tokio::fs::File) -> Body {
    let s = stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(s)
}
