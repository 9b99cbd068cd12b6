//! Request routing: the Hub's URL space, matched on percent-decoded path segments.

mod commit;
mod control;
mod lfs;
mod listing;
mod preupload;
mod repos;
mod resolve;
mod spaces;
mod tree;
mod whoami;
mod xet;

use crate::auth::{self, Caller};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::journal::Mutated;
use crate::state::{HubState, Repo, RepoKey, RepoType};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Percent-decodes one path segment (`refs%2Fpr%2F1` → `refs/pr/1`).
fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Largest request body read into memory (commits carry regular files inline, ≤ 1 GB per the Hub).
const MAX_BODY: usize = 1536 * 1024 * 1024;

pub async fn dispatch(ctx: Ctx, req: Request) -> Response {
    match route(ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(ctx: Ctx, req: Request) -> ApiResult<Response> {
    let path = req.uri().path().to_string();
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let m = method.as_str();
    match (m, s.as_slice()) {
        ("GET", ["api", "whoami-v2"]) => whoami::whoami(&ctx, req.headers()),
        ("POST", ["api", "repos", "create"]) => repos::create(ctx, req).await,
        ("DELETE", ["api", "repos", "delete"]) => repos::delete(ctx, req).await,
        ("POST", ["api", "repos", "move"]) => repos::move_repo(ctx, req).await,
        ("POST", ["api", "validate-yaml"]) => Ok(json(
            StatusCode::OK,
            serde_json::json!({"errors": [], "warnings": []}),
        )),
        // huggingface_hub 2.x reads this for its user agent and needs an object.
        ("GET", ["api", "agent-harnesses"]) => Ok(json(
            StatusCode::OK,
            serde_json::json!({"standardEnvVars": [], "harnesses": {}}),
        )),
        ("GET", ["api", types]) if RepoType::from_plural(types).is_some() => listing::list(
            &ctx,
            req,
            RepoType::from_plural(types).unwrap_or(RepoType::Model),
        ),
        (_, ["api", types, ns, name, rest @ ..]) if RepoType::from_plural(types).is_some() => {
            let rtype = RepoType::from_plural(types).unwrap_or(RepoType::Model);
            let rest: Vec<String> = rest.iter().map(|x| x.to_string()).collect();
            repo_api(ctx, req, rtype, ns.to_string(), name.to_string(), rest).await
        }
        (_, ["_emulator", rest @ ..]) => {
            let rest: Vec<String> = rest.iter().map(|x| x.to_string()).collect();
            control::handle(ctx, req, rest).await
        }
        // The Xet CAS answers at the emulator's own address, as a separate host would: under its prefix,
        // and at the root for the storage URLs it hands out.
        (
            _,
            ["xet-cas", ..]
            | ["v1", "fetch_term" | "get_xorb" | "telemetry", ..]
            | ["simulation", "xorb-uploads", _],
        ) if ctx.xet.is_some() => xet::cas(ctx, req).await,
        (_, ["_lfs", rest @ ..]) => {
            let rest: Vec<String> = rest.iter().map(|x| x.to_string()).collect();
            lfs::transfer(ctx, req, rest).await
        }
        _ => git_style(ctx, req, &s).await,
    }
}

/// `/{prefix}{ns}/{name}.git/info/lfs/objects/{batch|verify}` and `/{prefix}{ns}/{name}/{resolve|raw}/{rev}/{path}`.
async fn git_style(ctx: Ctx, req: Request, s: &[&str]) -> ApiResult<Response> {
    let (rtype, rest) = match s.first() {
        Some(&"datasets") if s.len() > 3 => (RepoType::Dataset, &s[1..]),
        Some(&"spaces") if s.len() > 3 => (RepoType::Space, &s[1..]),
        _ => (RepoType::Model, s),
    };
    let m = req.method().as_str().to_string();
    match (m.as_str(), rest) {
        ("POST", [ns, git, "info", "lfs", "objects", op]) if git.ends_with(".git") => {
            let name = git.trim_end_matches(".git").to_string();
            let ns = ns.to_string();
            match *op {
                "batch" => lfs::batch(ctx, req, rtype, ns, name).await,
                "verify" => lfs::verify(ctx, req, rtype, ns, name).await,
                _ => Err(not_found_route()),
            }
        }
        ("GET" | "HEAD", [ns, name, kind @ ("resolve" | "raw"), rev, path @ ..])
            if !path.is_empty() =>
        {
            let file = path.join("/");
            let view = if *kind == "raw" {
                resolve::View::Raw
            } else {
                resolve::View::Resolve
            };
            resolve::resolve(ctx, req, rtype, ns, name, rev, &file, view).await
        }
        _ => Err(not_found_route()),
    }
}

async fn repo_api(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
    rest: Vec<String>,
) -> ApiResult<Response> {
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let space = rtype == RepoType::Space;
    match (method.as_str(), r.as_slice()) {
        ("GET", []) => repos::info(&ctx, req, rtype, &ns, &name, None),
        ("GET", ["revision", rev @ ..]) if !rev.is_empty() => {
            let rev = rev.join("/");
            repos::info(&ctx, req, rtype, &ns, &name, Some(&rev))
        }
        ("GET", ["tree", rev, path @ ..]) => {
            let folder = path.join("/");
            tree::tree(&ctx, req, rtype, &ns, &name, rev, &folder)
        }
        ("GET", [kind @ ("xet-write-token" | "xet-read-token"), _rev @ ..]) => {
            xet::token(&ctx, &req, rtype, &ns, &name, *kind == "xet-write-token")
        }
        ("POST", ["paths-info", rev]) => tree::paths_info(ctx, req, rtype, ns, name, rev).await,
        ("POST", ["preupload", rev]) => preupload::preupload(ctx, req, rtype, ns, name, rev).await,
        ("POST", ["commit", rev]) => commit::commit(ctx, req, rtype, ns, name, rev).await,
        ("GET", ["commits", rev]) => repos::commits(&ctx, req, rtype, &ns, &name, rev),
        ("PUT", ["settings"]) => repos::settings(ctx, req, rtype, ns, name).await,
        ("POST", ["branch", branch @ ..]) if !branch.is_empty() => {
            let branch = branch.join("/");
            repos::create_branch(ctx, req, rtype, ns, name, branch).await
        }
        (_, ["secrets"]) if space => spaces::secrets(ctx, req, ns, name).await,
        (_, ["variables"]) if space => spaces::variables(ctx, req, ns, name).await,
        ("GET", ["runtime"]) if space => spaces::runtime(&ctx, req.headers(), &ns, &name),
        ("POST", [op @ ("restart" | "pause" | "hardware" | "sleeptime")]) if space => {
            let op = op.to_string();
            spaces::lifecycle(ctx, req, ns, name, &op).await
        }
        ("GET", ["logs", kind @ ("build" | "run")]) if space => {
            let kind = kind.to_string();
            spaces::logs(&ctx, req.headers(), &ns, &name, &kind)
        }
        _ => Err(not_found_route()),
    }
}

pub fn not_found_route() -> ApiError {
    ApiError::not_found("Sorry, we can't find the page you are looking for.")
}

pub fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// Marks a response as having changed state (for the journal).
pub fn mutated(mut r: Response) -> Response {
    r.extensions_mut().insert(Mutated);
    r
}

pub async fn body_bytes(body: Body) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))
}

pub async fn body_json<T: DeserializeOwned>(body: Body) -> ApiResult<T> {
    let b = body_bytes(body).await?;
    serde_json::from_slice(&b).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// The caller, or 401 for an unknown token.
pub fn caller(st: &HubState, headers: &HeaderMap) -> ApiResult<Option<Caller>> {
    auth::caller(st, headers)
}

/// A repo the caller may read (else 401/404 `RepoNotFound`).
pub fn visible<'a>(
    st: &'a HubState,
    caller: Option<&Caller>,
    rtype: RepoType,
    ns: &str,
    name: &str,
) -> ApiResult<&'a Repo> {
    let key = RepoKey::new(rtype, &format!("{ns}/{name}"));
    match st.repos.get(&key) {
        Some(r) if auth::can_read(st, caller, r) => Ok(r),
        _ => Err(auth::hidden(caller)),
    }
}

/// A repo the caller may write (404 when invisible, 403 when visible but read-only).
pub fn writable<'a>(
    st: &'a mut HubState,
    caller: &Caller,
    rtype: RepoType,
    ns: &str,
    name: &str,
) -> ApiResult<&'a mut Repo> {
    let key = RepoKey::new(rtype, &format!("{ns}/{name}"));
    let namespace = visible(st, Some(caller), rtype, ns, name)?
        .namespace
        .clone();
    auth::check_write(st, caller, &namespace)?;
    st.repos.get_mut(&key).ok_or_else(ApiError::repo_not_found)
}

/// The request's query as ordered pairs.
pub fn query_pairs(req: &Request) -> Vec<(String, String)> {
    crate::query::pairs(req.uri().query())
}
