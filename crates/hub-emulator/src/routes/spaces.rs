//! The Spaces HTTP API: secrets, variables, runtime, restart/pause/hardware/sleeptime, logs (SSE).

use super::{body_bytes, caller, json, mutated, visible, writable};
use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::journal::Restarted;
use crate::state::{KeyValue, RepoType, SpaceState};
use crate::{clock, space_stages};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct KeyIn {
    key: String,
    value: Option<String>,
    description: Option<String>,
}

/// Secret and variable keys: like environment variable names.
fn check_key(key: &str) -> ApiResult<()> {
    let ok = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid key `{key}`: use letters, digits and `_`, not starting with a digit"
        )))
    }
}

fn space_mut(repo: &mut crate::state::Repo) -> ApiResult<&mut SpaceState> {
    repo.space
        .as_mut()
        .ok_or_else(|| ApiError::not_found("Not a Space"))
}

async fn parse_key(body: Body, need_value: bool) -> ApiResult<KeyIn> {
    let raw = body_bytes(body).await?;
    let k: KeyIn = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    check_key(&k.key)?;
    if need_value && k.value.is_none() {
        return Err(ApiError::bad_request("`value` is required"));
    }
    Ok(k)
}

fn upsert(map: &mut BTreeMap<String, KeyValue>, k: KeyIn) {
    map.insert(
        k.key,
        KeyValue {
            value: k.value.unwrap_or_default(),
            description: k.description,
            updated_at: clock::now(),
        },
    );
}

/// What a secrets or variables request asks for.
enum KeyOp {
    List,
    Upsert(KeyIn),
    Delete(String),
}

/// Secrets and variables share one protocol: GET lists, POST upserts, DELETE (JSON body) removes; all need
/// write access. `answer` renders the response body; a change is journaled as a mutation.
async fn key_value_request(
    ctx: Ctx,
    req: Request,
    ns: &str,
    name: &str,
    map_of: fn(&mut SpaceState) -> &mut BTreeMap<String, KeyValue>,
    answer: fn(&SpaceState, bool) -> Value,
) -> ApiResult<Response> {
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let op = match method {
        Method::POST => KeyOp::Upsert(parse_key(body, true).await?),
        Method::DELETE => KeyOp::Delete(parse_key(body, false).await?.key),
        Method::GET => KeyOp::List,
        _ => return Err(super::not_found_route()),
    };
    let listing = matches!(op, KeyOp::List);
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let timing = space_stages::BuildTiming::of(&st.config);
    let settings_restart = st.config.realism.settings_restart;
    let repo = writable(&mut st, &caller, RepoType::Space, ns, name)?;
    let space = space_mut(repo)?;
    let changed = match op {
        KeyOp::Upsert(k) => {
            upsert(map_of(space), k);
            true
        }
        KeyOp::Delete(key) => map_of(space).remove(&key).is_some(),
        KeyOp::List => false,
    };
    // On the Hub every secret or variable write restarts the Space (a rebuild with the new
    // environment), even when the value did not change.
    let restarted = changed && settings_restart;
    if restarted {
        space_stages::start_build(repo, timing);
    }
    let r = json(StatusCode::OK, answer(space_mut(repo)?, listing));
    Ok(match (changed, restarted) {
        (true, true) => restarted_by(mutated(r), "settings"),
        (true, false) => mutated(r),
        _ => r,
    })
}

/// Marks a response as having restarted the Space (journaled with its cause).
fn restarted_by(mut r: Response, cause: &'static str) -> Response {
    r.extensions_mut().insert(Restarted(cause));
    r
}

fn secrets_of(space: &mut SpaceState) -> &mut BTreeMap<String, KeyValue> {
    &mut space.secrets
}

fn variables_of(space: &mut SpaceState) -> &mut BTreeMap<String, KeyValue> {
    &mut space.variables
}

/// Secrets are write-only: a listing shows keys and dates, never values; changes answer `{}`.
fn secrets_answer(space: &SpaceState, listing: bool) -> Value {
    if !listing {
        return json!({});
    }
    let m: Map<String, Value> = space
        .secrets
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"description": v.description, "updatedAt": clock::iso(v.updated_at)}),
            )
        })
        .collect();
    Value::Object(m)
}

pub async fn secrets(ctx: Ctx, req: Request, ns: String, name: String) -> ApiResult<Response> {
    key_value_request(ctx, req, &ns, &name, secrets_of, secrets_answer).await
}

/// Variables answer every request with the full map.
fn variables_answer(space: &SpaceState, _listing: bool) -> Value {
    let m: Map<String, Value> = space
        .variables
        .iter()
        .map(|(k, v)| {
            let mut e = json!({"value": v.value, "updatedAt": clock::iso(v.updated_at)});
            if let Some(d) = &v.description {
                e["description"] = json!(d);
            }
            (k.clone(), e)
        })
        .collect();
    Value::Object(m)
}

pub async fn variables(ctx: Ctx, req: Request, ns: String, name: String) -> ApiResult<Response> {
    key_value_request(ctx, req, &ns, &name, variables_of, variables_answer).await
}

/// Runtime read: each read advances a build by one poll.
pub fn runtime(ctx: &Ctx, headers: &HeaderMap, ns: &str, name: &str) -> ApiResult<Response> {
    let mut st = ctx.lock();
    let caller = caller(&st, headers)?;
    let key = visible(&st, caller.as_ref(), RepoType::Space, ns, name)?.key();
    let repo = st
        .repos
        .get_mut(&key)
        .ok_or_else(ApiError::repo_not_found)?;
    let Some(space) = repo.space.as_mut() else {
        return Err(ApiError::not_found("Not a Space"));
    };
    space_stages::poll(space);
    let v = space_stages::runtime_json(
        repo,
        repo.space.as_ref().ok_or_else(ApiError::repo_not_found)?,
    );
    Ok(json(StatusCode::OK, v))
}

#[derive(Deserialize)]
struct LifecycleIn {
    flavor: Option<String>,
    #[serde(rename = "sleepTimeSeconds")]
    sleep_time_seconds: Option<i64>,
    seconds: Option<i64>,
}

pub async fn lifecycle(
    ctx: Ctx,
    req: Request,
    ns: String,
    name: String,
    op: &str,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let raw = body_bytes(body).await?;
    let input: LifecycleIn = if raw.iter().all(u8::is_ascii_whitespace) {
        LifecycleIn {
            flavor: None,
            sleep_time_seconds: None,
            seconds: None,
        }
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let timing = space_stages::BuildTiming::of(&st.config);
    let repo = writable(&mut st, &caller, RepoType::Space, &ns, &name)?;
    let static_sdk = space_mut(repo)?.created_sdk == "static";
    match op {
        "restart" => space_stages::start_build(repo, timing),
        "pause" => {
            if static_sdk {
                return Err(ApiError::bad_request("Static Spaces cannot be paused"));
            }
            let space = space_mut(repo)?;
            space.stage = "PAUSED";
            space.error = None;
            // A pause cancels a pending or running build: nothing may flip it to BUILDING later.
            space.lag_until = None;
            space.build_done_at = None;
        }
        "hardware" => {
            let space = space_mut(repo)?;
            space.hardware = input
                .flavor
                .ok_or_else(|| ApiError::bad_request("`flavor` is required"))?;
            if let Some(s) = input.sleep_time_seconds {
                space.sleep_time = Some(s);
            }
        }
        _ => {
            let space = space_mut(repo)?;
            space.sleep_time = Some(
                input
                    .seconds
                    .ok_or_else(|| ApiError::bad_request("`seconds` is required"))?,
            );
        }
    }
    let space = repo.space.as_ref().ok_or_else(ApiError::repo_not_found)?;
    let r = mutated(json(
        StatusCode::OK,
        space_stages::runtime_json(repo, space),
    ));
    Ok(if op == "restart" {
        restarted_by(r, "api")
    } else {
        r
    })
}

pub fn logs(
    ctx: &Ctx,
    headers: &HeaderMap,
    ns: &str,
    name: &str,
    kind: &str,
) -> ApiResult<Response> {
    let st = ctx.lock();
    let caller = auth::require(caller(&st, headers)?)?;
    let repo = visible(&st, Some(&caller), RepoType::Space, ns, name)?;
    auth::check_write(&st, &caller, &repo.namespace)?;
    let space = repo
        .space
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Not a Space"))?;
    let mut text = String::new();
    for l in space_stages::log_lines(repo, space, kind) {
        text.push_str("data: ");
        text.push_str(&l);
        text.push_str("\n\n");
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from(text))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
