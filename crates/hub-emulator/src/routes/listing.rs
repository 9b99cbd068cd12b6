//! `GET /api/models|datasets|spaces`: filter by `author` and `search`, paginate with `Link`.

use super::{caller, json};
use crate::auth;
use crate::context::Ctx;
use crate::errors::ApiResult;
use crate::query;
use crate::routes::repos::repo_json;
use crate::state::RepoType;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

pub fn list(ctx: &Ctx, req: Request, rtype: RepoType) -> ApiResult<Response> {
    let q = query::pairs(req.uri().query());
    let st = ctx.lock();
    let caller = caller(&st, req.headers())?;
    let author = query::get(&q, "author").map(str::to_ascii_lowercase);
    let searches: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "search")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    let mut repos: Vec<_> = st
        .repos
        .values()
        .filter(|r| r.rtype == rtype)
        .filter(|r| auth::can_read(&st, caller.as_ref(), r))
        .filter(|r| {
            author
                .as_deref()
                .is_none_or(|a| r.namespace.eq_ignore_ascii_case(a))
        })
        .filter(|r| {
            let id = r.id().to_ascii_lowercase();
            searches.iter().all(|s| id.contains(s.as_str()))
        })
        .collect();
    // Newest first, like the Hub's default listing; ties broken by id for stable pages.
    repos.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id().cmp(&b.id())));
    let full = query::truthy(query::get(&q, "full"));
    let limit = query::get(&q, "limit").and_then(|l| l.parse::<usize>().ok());
    let page = limit
        .unwrap_or(st.config.list_page_size)
        .clamp(1, st.config.list_page_size.max(1));
    let offset = query::get(&q, "cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (offset + page).min(repos.len());
    let items: Vec<serde_json::Value> = repos
        .get(offset..end)
        .unwrap_or(&[])
        .iter()
        .map(|r| {
            let mut v = repo_json(&ctx.base_url, &st, r, r.head().map(|c| c.as_ref()), false);
            // Like the Hub, listings carry the file list only with `full=true`.
            if !full {
                if let Some(o) = v.as_object_mut() {
                    o.remove("siblings");
                }
            }
            v
        })
        .collect();
    let mut resp = json(StatusCode::OK, serde_json::Value::Array(items));
    if end < repos.len() {
        let link = next_link(&ctx.base_url, req.uri().path(), &q, end);
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    Ok(resp)
}

/// An absolute `Link: <…>; rel="next"` carrying every original query parameter plus the cursor.
pub fn next_link(base: &str, path: &str, q: &[(String, String)], cursor: usize) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.iter().filter(|(k, _)| k != "cursor") {
        ser.append_pair(k, v);
    }
    ser.append_pair("cursor", &cursor.to_string());
    format!("<{base}{path}?{}>; rel=\"next\"", ser.finish())
}
