//! Git LFS batch API plus the emulator's own self-authorizing transfer URLs:
//! `PUT /_lfs/put/{ticket}` (basic), `PUT /_lfs/part/{upload}/{n}?sig=` and
//! `POST /_lfs/complete/{upload}?sig=` (multipart). No Authorization is needed on those,
//! as with the Hub's pre-signed storage URLs.

use super::{body_json, caller, json, mutated, visible, writable};
use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::state::{PendingBasic, PendingMultipart, RepoType};
use crate::storage::StoreError;
use crate::{git_hash, ids, query};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize)]
struct ObjIn {
    oid: String,
    size: i64,
}

#[derive(Deserialize)]
struct BatchIn {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    objects: Vec<ObjIn>,
}

fn lfs_json(status: StatusCode, v: Value) -> Response {
    let mut r = json(status, v);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/vnd.git-lfs+json"),
    );
    r
}

pub async fn batch(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: BatchIn = body_json(body).await?;
    if body.operation != "upload" {
        return Err(ApiError::bad_request(
            "Only the `upload` operation is supported; download files with /resolve",
        ));
    }
    let multipart_ok = body.transfers.iter().any(|t| t == "multipart");
    // As on the Hub: a client that offers `xet` uploads through the CAS, so no actions.
    let xet = ctx.xet.is_some() && body.transfers.iter().any(|t| t == "xet");
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let repo = writable(&mut st, &caller, rtype, &ns, &name)?;
    let verify_href = format!(
        "{}/{}{}.git/info/lfs/objects/verify",
        ctx.base_url,
        rtype.url_prefix(),
        repo.id()
    );
    let (threshold, chunk) = (
        st.config.multipart_threshold,
        st.config.multipart_chunk_size.max(1),
    );
    let mut any_multipart = false;
    let mut out = Vec::new();
    for o in body.objects {
        if !git_hash::is_sha256(&o.oid) || o.size < 0 {
            out.push(json!({"oid": o.oid, "size": o.size, "error": {"code": 422, "message": "oid must be a lower-case sha256 and size a non-negative integer"}}));
            continue;
        }
        let size = o.size as u64;
        if xet || ctx.store.size_of(&o.oid) == Some(size) {
            out.push(json!({"oid": o.oid, "size": size}));
            continue;
        }
        let verify = json!({"href": verify_href, "header": {}});
        if multipart_ok && size > threshold {
            any_multipart = true;
            let upload_id = ids::random_hex(32);
            let sig = ids::random_hex(32);
            let n = size.div_ceil(chunk) as u32;
            ctx.store.create_multipart(&upload_id, size).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storage error: {e}"),
                )
            })?;
            let mut header = Map::new();
            header.insert("chunk_size".into(), json!(chunk.to_string()));
            for i in 1..=n {
                header.insert(
                    format!("{i:05}"),
                    json!(format!(
                        "{}/_lfs/part/{upload_id}/{i}?sig={sig}",
                        ctx.base_url
                    )),
                );
            }
            let href = format!("{}/_lfs/complete/{upload_id}?sig={sig}", ctx.base_url);
            st.multipart_uploads.insert(
                upload_id,
                PendingMultipart {
                    oid: o.oid.clone(),
                    size,
                    chunk_size: chunk,
                    parts: n,
                    sig,
                },
            );
            out.push(json!({"oid": o.oid, "size": size, "authenticated": true,
                "actions": {"upload": {"href": href, "header": header}, "verify": verify}}));
        } else {
            let ticket = ids::random_hex(40);
            st.basic_uploads.insert(
                ticket.clone(),
                PendingBasic {
                    oid: o.oid.clone(),
                    size,
                },
            );
            let href = format!("{}/_lfs/put/{ticket}", ctx.base_url);
            out.push(json!({"oid": o.oid, "size": size, "authenticated": true,
                "actions": {"upload": {"href": href}, "verify": verify}}));
        }
    }
    let transfer = match (xet, any_multipart) {
        (true, _) => "xet",
        (false, true) => "multipart",
        (false, false) => "basic",
    };
    Ok(lfs_json(
        StatusCode::OK,
        json!({"transfer": transfer, "objects": out, "hash_algo": "sha256"}),
    ))
}

#[derive(Deserialize)]
struct VerifyIn {
    oid: String,
    size: u64,
}

pub async fn verify(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: VerifyIn = body_json(body).await?;
    {
        let st = ctx.lock();
        let caller = caller(&st, &parts.headers)?;
        visible(&st, caller.as_ref(), rtype, &ns, &name)?;
    }
    match ctx.store.size_of(&body.oid) {
        Some(s) if s == body.size => Ok(lfs_json(StatusCode::OK, json!({}))),
        Some(s) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Object {} has size {s}, not {}", body.oid, body.size),
        )),
        None => Err(ApiError::not_found(format!(
            "Object {} was not uploaded",
            body.oid
        ))),
    }
}

fn sig_of(req: &Request) -> Option<String> {
    let q = query::pairs(req.uri().query());
    query::get(&q, "sig").map(str::to_string)
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Mismatch(m) => ApiError::bad_request(m),
        StoreError::Body(m) => ApiError::bad_request(m),
        StoreError::Io(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("storage error: {e}"),
        ),
    }
}

fn bad_url() -> ApiError {
    ApiError::forbidden("Invalid or expired upload URL")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartRef {
    part_number: u32,
    etag: String,
}

#[derive(Deserialize)]
struct CompleteIn {
    oid: String,
    parts: Vec<PartRef>,
}

fn etag_for(upload_id: &str, n: u32) -> String {
    format!("\"{}-{n}\"", upload_id.get(..16).unwrap_or(upload_id))
}

pub async fn transfer(ctx: Ctx, req: Request, rest: Vec<String>) -> ApiResult<Response> {
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (method, r.as_slice()) {
        (Method::PUT, ["put", ticket]) => {
            let pending = ctx
                .lock()
                .basic_uploads
                .get(*ticket)
                .cloned()
                .ok_or_else(bad_url)?;
            ctx.store
                .put_stream(&pending.oid, pending.size, req.into_body())
                .await
                .map_err(store_err)?;
            ctx.lock().basic_uploads.remove(*ticket);
            Ok(mutated(StatusCode::OK.into_response()))
        }
        (Method::PUT, ["part", upload_id, n]) => {
            let sig = sig_of(&req);
            let n: u32 = n.parse().map_err(|_| bad_url())?;
            let (offset, expected) = {
                let st = ctx.lock();
                let up = st.multipart_uploads.get(*upload_id).ok_or_else(bad_url)?;
                if sig.as_deref() != Some(up.sig.as_str()) || n == 0 || n > up.parts {
                    return Err(bad_url());
                }
                let offset = u64::from(n - 1) * up.chunk_size;
                (offset, up.chunk_size.min(up.size - offset))
            };
            ctx.store
                .put_part(upload_id, offset, expected, req.into_body())
                .await
                .map_err(store_err)?;
            let mut resp = StatusCode::OK.into_response();
            if let Ok(v) = HeaderValue::from_str(&etag_for(upload_id, n)) {
                resp.headers_mut().insert("etag", v);
            }
            Ok(mutated(resp))
        }
        (Method::POST, ["complete", upload_id]) => {
            let sig = sig_of(&req);
            let body: CompleteIn = body_json(req.into_body()).await?;
            let (oid, size, parts) = {
                let st = ctx.lock();
                let up = st.multipart_uploads.get(*upload_id).ok_or_else(bad_url)?;
                if sig.as_deref() != Some(up.sig.as_str()) {
                    return Err(bad_url());
                }
                (up.oid.clone(), up.size, up.parts)
            };
            if body.oid != oid {
                return Err(ApiError::bad_request(format!(
                    "completion oid {} does not match the upload's {oid}",
                    body.oid
                )));
            }
            let mut numbers: Vec<u32> = body.parts.iter().map(|p| p.part_number).collect();
            numbers.sort_unstable();
            if numbers != (1..=parts).collect::<Vec<_>>() {
                return Err(ApiError::bad_request(format!(
                    "completion must list parts 1..={parts} exactly once"
                )));
            }
            if let Some(p) = body.parts.iter().find(|p| {
                p.etag.trim_matches('"') != etag_for(upload_id, p.part_number).trim_matches('"')
            }) {
                return Err(ApiError::bad_request(format!(
                    "ETag of part {} does not match the uploaded part",
                    p.part_number
                )));
            }
            ctx.store
                .complete_multipart(upload_id, &oid, size)
                .await
                .map_err(store_err)?;
            ctx.lock().multipart_uploads.remove(*upload_id);
            Ok(mutated(lfs_json(StatusCode::OK, json!({}))))
        }
        _ => Err(super::not_found_route()),
    }
}
