//! The control API under `/_emulator/` (never authenticated, never journaled, never faulted).

use super::{body_json, json};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::faults::{FaultRule, FaultRuleJson};
use crate::state::{RepoKey, RepoType};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;

pub async fn handle(ctx: Ctx, req: Request, rest: Vec<String>) -> ApiResult<Response> {
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (method, r.as_slice()) {
        (Method::GET, ["journal"]) => Ok(json(StatusCode::OK, json!(ctx.journal.snapshot()))),
        (Method::DELETE, ["journal"]) => {
            ctx.journal.clear();
            Ok(json(StatusCode::OK, json!({})))
        }
        (Method::GET, ["faults"]) => Ok(json(StatusCode::OK, json!(ctx.faults.list()))),
        (Method::POST, ["faults"]) => {
            let body: Value = body_json(req.into_body()).await?;
            // One rule or a list of rules.
            let items = match body {
                Value::Array(v) => v,
                other => vec![other],
            };
            let mut rules = Vec::new();
            for item in items {
                let j: FaultRuleJson = serde_json::from_value(item)
                    .map_err(|e| ApiError::bad_request(format!("invalid fault rule: {e}")))?;
                rules.push(FaultRule::try_from(j).map_err(ApiError::bad_request)?);
            }
            for r in rules {
                ctx.faults.add(r);
            }
            Ok(json(StatusCode::OK, json!(ctx.faults.list())))
        }
        (Method::DELETE, ["faults"]) => {
            ctx.faults.clear();
            Ok(json(StatusCode::OK, json!({})))
        }
        (Method::GET, ["token-leaks"]) => Ok(json(
            StatusCode::OK,
            json!({"count": ctx.token_leaks.load(Ordering::Relaxed)}),
        )),
        (Method::GET, ["health"]) => Ok(json(StatusCode::OK, json!({"ok": true}))),
        (Method::POST, ["repos", rtype, ns, name, "created_at"]) => {
            let rtype = RepoType::from_singular(Some(rtype))
                .ok_or_else(|| ApiError::bad_request("type must be model, dataset or space"))?;
            let (ns, name) = (ns.to_string(), name.to_string());
            let body: Value = body_json(req.into_body()).await?;
            let raw = body
                .get("createdAt")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_request("body must be {\"createdAt\": \"ISO-8601\"}")
                })?;
            let at =
                time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| {
                        ApiError::bad_request(format!("createdAt is not RFC 3339: {e}"))
                    })?;
            let mut st = ctx.lock();
            let repo = st
                .repos
                .get_mut(&RepoKey::new(rtype, &format!("{ns}/{name}")))
                .ok_or_else(ApiError::repo_not_found)?;
            repo.created_at = at;
            repo.last_modified = at;
            Ok(json(StatusCode::OK, json!({})))
        }
        // The branch as it is, never stale: for tests that check what a deploy left behind while the CDN
        // (`--stale-reads-ms`) still serves the previous head.
        (Method::GET, ["repos", rtype, ns, name, "refs", branch @ ..]) if !branch.is_empty() => {
            let rtype = RepoType::from_singular(Some(rtype))
                .ok_or_else(|| ApiError::bad_request("type must be model, dataset or space"))?;
            let branch = branch.join("/");
            let st = ctx.lock();
            let repo = st
                .repos
                .get(&RepoKey::new(rtype, &format!("{ns}/{name}")))
                .ok_or_else(ApiError::repo_not_found)?;
            let commit = repo
                .branches
                .get(&branch)
                .ok_or_else(|| ApiError::revision_not_found(&branch))?;
            Ok(json(StatusCode::OK, json!({"commit": commit})))
        }
        (Method::POST, ["spaces", ns, name, "upstream"]) => {
            let id = format!("{ns}/{name}");
            let body: Value = body_json(req.into_body()).await?;
            let url = body.get("url").and_then(Value::as_str).map(str::to_string);
            let mut st = ctx.lock();
            let space = st
                .repos
                .get_mut(&RepoKey::new(RepoType::Space, &id))
                .and_then(|r| r.space.as_mut())
                .ok_or_else(ApiError::repo_not_found)?;
            space.upstream = url;
            Ok(json(StatusCode::OK, json!({})))
        }
        (Method::GET, ["spaces", ns, name, what @ ("secrets" | "variables")]) => {
            let st = ctx.lock();
            let repo = st
                .repos
                .get(&RepoKey::new(RepoType::Space, &format!("{ns}/{name}")))
                .ok_or_else(crate::errors::ApiError::repo_not_found)?;
            let space = repo
                .space
                .as_ref()
                .ok_or_else(|| ApiError::not_found("Not a Space"))?;
            let map = if *what == "secrets" {
                &space.secrets
            } else {
                &space.variables
            };
            let m: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
                .collect();
            Ok(json(StatusCode::OK, Value::Object(m)))
        }
        _ => Err(super::not_found_route()),
    }
}
