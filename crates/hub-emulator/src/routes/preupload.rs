//! `POST /api/{types}/{id}/preupload/{rev}`: upload mode per file, and the oid of existing files.

use super::{body_json, caller, json, writable};
use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::patterns::{IgnoreRules, LfsRules};
use crate::state::{Content, RepoType};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// Files above this size must be LFS (the Hub's "larger than 10 MiB" rule).
pub const MAX_REGULAR: u64 = 10 * 1024 * 1024;

#[derive(Deserialize)]
struct FileIn {
    path: String,
    #[serde(default)]
    sample: String,
    size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    files: Vec<FileIn>,
    git_ignore: Option<String>,
    git_attributes: Option<String>,
}

/// A sample with a NUL byte is binary; the Hub keeps binaries out of git.
pub fn looks_binary(sample: &[u8]) -> bool {
    sample.contains(&0)
}

pub async fn preupload(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
    rev: &str,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: Body = body_json(body).await?;
    let mut st = ctx.lock();
    // Preupload is the first step of a write: it needs write access, like the commit.
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let repo: &crate::state::Repo = writable(&mut st, &caller, rtype, &ns, &name)?;
    let commit = repo
        .resolve_rev(rev)
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    let repo_text = |p: &str| match commit.tree.get(p).map(|e| &e.content) {
        Some(Content::Inline(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let attrs = LfsRules::parse(
        &body
            .git_attributes
            .clone()
            .or_else(|| repo_text(".gitattributes"))
            .unwrap_or_default(),
    );
    let ignore = IgnoreRules::parse(
        &body
            .git_ignore
            .clone()
            .or_else(|| repo_text(".gitignore"))
            .unwrap_or_default(),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let files: Vec<Value> = body
        .files
        .iter()
        .map(|f| {
            let path = f.path.trim_start_matches("./").trim_start_matches('/');
            let sample = b64.decode(f.sample.as_bytes()).unwrap_or_default();
            let lfs = attrs.is_lfs(path) || f.size > MAX_REGULAR || looks_binary(&sample);
            let mut v = json!({
                "path": f.path,
                "uploadMode": if lfs { "lfs" } else { "regular" },
                "shouldIgnore": ignore.is_ignored(path),
            });
            if let Some(e) = commit.tree.get(path) {
                v["oid"] = json!(e.preupload_oid());
            }
            v
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({"files": files, "commitOid": commit.id}),
    ))
}
