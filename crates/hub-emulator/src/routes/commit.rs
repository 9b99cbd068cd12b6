//! `POST /api/{types}/{id}/commit/{rev}`: NDJSON commits, all-or-nothing, with `parentCommit` checks.

use super::preupload::{looks_binary, MAX_REGULAR};
use super::repos::repo_url;
use super::{body_bytes, caller, json, mutated, query_pairs, writable};
use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::journal::Landed;
use crate::state::{FileEntry, RepoType};
use crate::{query, space_stages};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

enum Op {
    Put(String, FileEntry),
    Delete(String),
    DeleteFolder(String),
}

struct Parsed {
    summary: String,
    description: String,
    parent: Option<String>,
    ops: Vec<Op>,
}

/// Commit paths: leading `/` and `./` stripped; `..`, `.git` and `.cache` segments refused.
fn clean_path(p: &str) -> ApiResult<String> {
    let mut p = p;
    loop {
        if let Some(r) = p.strip_prefix("./") {
            p = r;
        } else if let Some(r) = p.strip_prefix('/') {
            p = r;
        } else {
            break;
        }
    }
    if p.is_empty()
        || p.split('/')
            .any(|s| s == ".." || s == "." || s == ".git" || s == ".cache")
    {
        return Err(ApiError::bad_request(format!(
            "Invalid path in commit: `{p}`"
        )));
    }
    Ok(p.to_string())
}

fn str_field<'a>(v: &'a Value, key: &str, line: usize) -> ApiResult<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("line {line}: missing string field `{key}`")))
}

/// Parses the body without touching state; LFS references are checked against the store here.
fn parse(ctx: &Ctx, raw: &[u8]) -> ApiResult<Parsed> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut header: Option<(String, String, Option<String>)> = None;
    let mut ops = Vec::new();
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| ApiError::bad_request(format!("line {n}: invalid JSON: {e}")))?;
        let key = v.get("key").and_then(Value::as_str).unwrap_or("");
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        match (key, header.is_some()) {
            ("header", false) => {
                let summary = value
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if summary.is_empty() {
                    return Err(ApiError::bad_request(
                        "The commit summary must not be empty",
                    ));
                }
                let description = value
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let parent = value
                    .get("parentCommit")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                header = Some((summary, description, parent));
            }
            (_, false) => {
                return Err(ApiError::bad_request(
                    "The first line of a commit must be the `header`",
                ))
            }
            ("header", true) => return Err(ApiError::bad_request("Duplicate `header` line")),
            ("file", true) => {
                let path = clean_path(str_field(&value, "path", n)?)?;
                let content = str_field(&value, "content", n)?;
                let bytes = match value.get("encoding").and_then(Value::as_str) {
                    Some("utf-8") => Bytes::copy_from_slice(content.as_bytes()),
                    _ => Bytes::from(b64.decode(content.as_bytes()).map_err(|e| {
                        ApiError::bad_request(format!("line {n}: invalid base64 content: {e}"))
                    })?),
                };
                if bytes.len() as u64 > MAX_REGULAR {
                    return Err(ApiError::bad_request(format!(
                        "Your push was rejected because it contains files larger than 10 MiB ({path}). Upload it as an LFS file."
                    )));
                }
                if looks_binary(&bytes[..bytes.len().min(512)]) {
                    return Err(ApiError::bad_request(format!(
                        "Your push was rejected because it contains binary files ({path}). Upload it as an LFS file."
                    )));
                }
                ops.push(Op::Put(path, FileEntry::inline(bytes)));
            }
            ("lfsFile", true) => {
                let path = clean_path(str_field(&value, "path", n)?)?;
                let oid = str_field(&value, "oid", n)?.to_string();
                let stored = ctx.store.size_of(&oid).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("LFS object {oid} for {path} was never uploaded: upload it through the LFS batch API first"),
                    )
                })?;
                if let Some(size) = value.get("size").and_then(Value::as_u64) {
                    if size != stored {
                        return Err(ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("LFS object {oid} has size {stored}, the commit says {size}"),
                        ));
                    }
                }
                ops.push(Op::Put(path, FileEntry::lfs(oid, stored)));
            }
            ("deletedFile", true) => {
                ops.push(Op::Delete(clean_path(str_field(&value, "path", n)?)?));
            }
            ("deletedFolder", true) => {
                let p = clean_path(str_field(&value, "path", n)?)?;
                ops.push(Op::DeleteFolder(p.trim_end_matches('/').to_string()));
            }
            (other, true) => {
                return Err(ApiError::bad_request(format!(
                    "line {n}: unknown key `{other}`"
                )))
            }
        }
    }
    let Some((summary, description, parent)) = header else {
        return Err(ApiError::bad_request("Missing the `header` line"));
    };
    if ops.is_empty() {
        return Err(ApiError::bad_request(
            "Add a line with the key `lfsFile`, `file` or `deletedFile`",
        ));
    }
    Ok(Parsed {
        summary,
        description,
        parent,
        ops,
    })
}

pub async fn commit(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
    rev: &str,
) -> ApiResult<Response> {
    // The server-side budget (`commit_timeout_ms`) counts from here: body upload included.
    let started = Instant::now();
    let q = query_pairs(&req);
    let create_pr = query::truthy(query::get(&q, "create_pr"));
    let (parts, body) = req.into_parts();
    // Authenticate before reading a possibly large body.
    {
        let mut st = ctx.lock();
        let caller = auth::require(caller(&st, &parts.headers)?)?;
        writable(&mut st, &caller, rtype, &ns, &name)?;
    }
    let raw = body_bytes(body).await?;
    let parsed = parse(&ctx, &raw)?;
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let timing = space_stages::BuildTiming::of(&st.config);
    let realism = st.config.realism.clone();
    if let Some(max) = realism.commit_max_ops {
        if parsed.ops.len() > max {
            // What a client sees when the Hub gives up on a commit too large to apply.
            return Err(gateway_timeout());
        }
    }
    let repo = writable(&mut st, &caller, rtype, &ns, &name)?;
    // Commits (and pull requests) target a branch, never a bare commit id.
    let head = repo
        .branches
        .get(rev)
        .and_then(|id| repo.commits.get(id))
        .cloned()
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    if let Some(parent) = &parsed.parent {
        if parent.len() < 5 || !head.id.starts_with(parent.as_str()) {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "The branch was updated since you opened this page. Please refresh and try again.",
            ));
        }
    }
    // Build the new tree on a copy: any failure below leaves the repo untouched.
    let mut tree = (*head.tree).clone();
    for op in parsed.ops {
        match op {
            Op::Put(path, entry) => {
                let folder = format!("{path}/");
                if tree
                    .range(folder.clone()..)
                    .next()
                    .is_some_and(|(k, _)| k.starts_with(&folder))
                {
                    return Err(ApiError::bad_request(format!(
                        "`{path}` is a folder in the repo"
                    )));
                }
                tree.insert(path, entry);
            }
            Op::Delete(path) => {
                if tree.remove(&path).is_none() {
                    return Err(ApiError::entry_not_found(format!(
                        "A file with this name doesn't exist: {path}"
                    )));
                }
            }
            Op::DeleteFolder(path) => {
                let prefix = format!("{path}/");
                let doomed: Vec<String> = tree
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone())
                    .collect();
                if doomed.is_empty() {
                    return Err(ApiError::entry_not_found(format!(
                        "A folder with this name doesn't exist: {path}"
                    )));
                }
                for k in doomed {
                    tree.remove(&k);
                }
            }
        }
    }
    let (branch, pr) = if create_pr {
        repo.prs += 1;
        (format!("refs/pr/{}", repo.prs), Some(repo.prs))
    } else {
        (rev.to_string(), None)
    };
    let oid = repo.push_commit_to(
        &branch,
        Some(head.id.clone()),
        parsed.summary,
        parsed.description,
        tree,
    );
    if branch == "main" {
        space_stages::start_build(repo, timing);
        if realism.stale_reads_ms > 0 {
            let until = Instant::now() + Duration::from_millis(realism.stale_reads_ms);
            repo.stale_main = Some((head.id.clone(), until));
        }
    }
    let base = repo_url(&ctx.base_url, rtype, &repo.id());
    let mut answer = json!({"success": true, "commitOid": oid, "commitUrl": format!("{base}/commit/{oid}"), "hookOutput": ""});
    if let Some(n) = pr {
        answer["pullRequestUrl"] = json!(format!("{base}/discussions/{n}"));
    }
    if realism.commit_timeout_ms > 0
        && started.elapsed() > Duration::from_millis(realism.commit_timeout_ms)
    {
        // The commit has landed, but the gateway stopped waiting: the client sees a 504 and
        // must find out by itself that its commit is there.
        let mut r = gateway_timeout().into_response();
        r.extensions_mut().insert(Landed);
        return Ok(mutated(r));
    }
    Ok(mutated(json(StatusCode::OK, answer)))
}

/// The Hub's gateway answer when a commit takes too long (the body is HTML on the Hub; JSON here
/// so clients print the message).
fn gateway_timeout() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "Gateway Time-out: the commit took too long to process. It may still have been applied: check the branch head before retrying.",
    )
}
