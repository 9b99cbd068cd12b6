//! Xet on the Hub's side: the token endpoints (`/api/{type}s/{id}/xet-{read|write}-token/{rev}`)
//! and the CAS routes (`/v1/…`, `/v2/…`) forwarded to the store (see `xet_store.rs`).

use super::{body_bytes, caller, visible, writable};
use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::state::{RepoType, XetGrant};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How long a Xet token lives: the Hub's are short-lived too, and clients refresh them.
const TOKEN_SECS: i64 = 3600;

pub fn token(
    ctx: &Ctx,
    req: &Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    write: bool,
) -> ApiResult<Response> {
    let Some(store) = ctx.xet.as_ref() else {
        return Err(super::not_found_route());
    };
    let mut st = ctx.lock();
    let who = caller(&st, req.headers())?;
    if write {
        let who = auth::require(who)?;
        writable(&mut st, &who, rtype, ns, name)?;
    } else {
        visible(&st, who.as_ref(), rtype, ns, name)?;
    }
    let token = format!("xet_{}", crate::ids::random_hex(40));
    let exp = crate::clock::now().unix_timestamp() + TOKEN_SECS;
    st.xet_tokens.insert(token.clone(), XetGrant { write, exp });
    let cas_url = format!("{}{}", ctx.base_url, store.prefix());
    let body = json!({"casUrl": cas_url, "exp": exp, "accessToken": token});
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    // huggingface_hub reads the same facts from headers.
    for (k, v) in [
        ("x-xet-cas-url", cas_url),
        ("x-xet-access-token", token),
        ("x-xet-token-expiration", exp.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

/// A CAS request, under the store's prefix or, for the storage URLs the CAS hands out, at the root. Those are
/// pre-signed on the Hub (no token); everything else needs a Xet token, and writes a write token. A shard
/// upload that succeeds has its files ingested.
pub async fn cas(ctx: Ctx, req: Request) -> ApiResult<Response> {
    let Some(store) = ctx.xet.as_ref() else {
        return Err(super::not_found_route());
    };
    let full = req.uri().path().to_string();
    let path = match full.strip_prefix(store.prefix()) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        Some(_) => return Err(super::not_found_route()),
        None => full.clone(),
    };
    // Pre-signed on the Hub (storage URLs the CAS hands out): no token.
    // hf-xet posts its telemetry at the host's root, without a token.
    let presigned = path.starts_with("/v1/fetch_term")
        || path == "/v1/telemetry"
        || path.starts_with("/v1/get_xorb/")
        || path.starts_with("/simulation/xorb-uploads/");
    let writes = req.method() == Method::POST && !path.ends_with("/telemetry");
    if !presigned && path == full {
        // Only storage URLs are served at the root.
        return Err(super::not_found_route());
    }
    if !presigned {
        let token = auth::bearer(req.headers(), "authorization").ok_or_else(xet_unauthorized)?;
        let st = ctx.lock();
        let now = crate::clock::now().unix_timestamp();
        match st.xet_tokens.get(&token) {
            Some(g) if g.exp > now && (g.write || !writes) => {}
            Some(g) if g.exp > now => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "This Xet token is read-only",
                ))
            }
            _ => return Err(xet_unauthorized()),
        }
    }
    let (parts, body) = req.into_parts();
    if !path.ends_with("/shards") {
        // Xorbs (up to 64 MiB) stream through: collecting each into one buffer first cost a copy and a fresh
        // 64 MiB of zeroed pages per xorb.
        let body = reqwest::Body::wrap_stream(body.into_data_stream());
        return Ok(store.forward(&parts, &path, body).await);
    }
    // A shard (small) is kept: its files are ingested once the store took it.
    let body = body_bytes(body).await?;
    let resp = store.forward(&parts, &path, body.clone().into()).await;
    if !resp.status().is_success() {
        return Ok(resp);
    }
    // The answer is read before the files are ingested: a v2 shard answer streams its result.
    let (head, answer) = resp.into_parts();
    let answer = body_bytes(answer).await?;
    let files = store
        .ingest_shard(&body, &ctx.store)
        .await
        .map_err(ApiError::bad_request)?;
    let mut st = ctx.lock();
    for f in files {
        st.xet_files.insert(f.sha256.clone(), f);
    }
    Ok(Response::from_parts(head, axum::body::Body::from(answer)))
}

fn xet_unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "Invalid or expired Xet token: ask the Hub for a new one",
    )
}
