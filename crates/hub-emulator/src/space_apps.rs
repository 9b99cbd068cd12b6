//! Space apps: every Space gets its own loopback listener, fronted like `*.hf.space`
//! (private Spaces need a read-capable token in `Authorization` or `X-HF-Authorization`;
//! `X-HF-Authorization` is stripped; the peer is appended to `X-Forwarded-For`), with a
//! built-in test app behind it.

use crate::auth;
use crate::context::{Shared, SpaceRun};
use crate::server::{self, Peer};
use crate::state::{AppHandle, KeyValue};
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

static NEXT_APP: AtomicU64 = AtomicU64::new(1);

struct AppCtx {
    hub: Weak<Shared>,
    id: u64,
    client: Client<HttpConnector, Body>,
}

/// Binds `127.0.0.1:0` and serves the app until the handle is dropped.
pub fn start(hub: &Arc<Shared>) -> std::io::Result<AppHandle> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let port = std_listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    let id = NEXT_APP.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = watch::channel(false);
    let ctx = Arc::new(AppCtx {
        hub: Arc::downgrade(hub),
        id,
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let app = router(ctx);
    tokio::spawn(server::serve(listener, app, rx));
    Ok(AppHandle::new(id, port, tx))
}

fn router(ctx: Arc<AppCtx>) -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/sse", get(sse))
        .route("/ws", get(ws))
        .route("/download", get(download))
        .route("/slow", get(slow))
        .route("/redirect", get(redirect))
        .route("/config", get(config))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(ctx, gate))
}

/// Bearer tokens of `X-HF-Authorization` and `Authorization`, in that order.
fn tokens_of(headers: &HeaderMap) -> Vec<String> {
    ["x-hf-authorization", "authorization"]
        .iter()
        .filter_map(|h| auth::bearer(headers, h))
        .collect()
}

/// The edge in front of the app: access check and header rewriting.
async fn gate(State(app): State<Arc<AppCtx>>, mut req: Request, next: Next) -> Response {
    let Some(hub) = app.hub.upgrade() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "emulator stopped").into_response();
    };
    let tokens = tokens_of(req.headers());
    let verdict = {
        let st = hub.lock();
        let repo = st.repos.values().find(|r| {
            r.space
                .as_ref()
                .and_then(|s| s.app.as_ref())
                .is_some_and(|a| a.id == app.id)
        });
        let upstream = repo.and_then(|r| {
            let s = r.space.as_ref()?;
            Some(match &s.upstream {
                Some(origin) => Upstream::Known(origin.clone()),
                None => {
                    let values = |m: &std::collections::BTreeMap<String, KeyValue>| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.value.clone()))
                            .collect()
                    };
                    Upstream::Ask(SpaceRun {
                        repo_id: r.id(),
                        variables: values(&s.variables),
                        secrets: values(&s.secrets),
                    })
                }
            })
        });
        match repo {
            None => Err(StatusCode::NOT_FOUND),
            Some(r) if !r.private => Ok(upstream),
            // Any of the tokens with read access to the Space lets the request through.
            Some(r) => {
                let allowed = tokens.iter().filter_map(|t| st.tokens.get(t)).any(|g| {
                    let c = auth::Caller {
                        user: g.user.clone(),
                        role: g.role,
                    };
                    auth::can_read(&st, Some(&c), r)
                });
                match (allowed, tokens.is_empty()) {
                    (true, _) => Ok(upstream),
                    (false, true) => Err(StatusCode::UNAUTHORIZED),
                    (false, false) => Err(StatusCode::NOT_FOUND),
                }
            }
        }
    };
    let upstream = match verdict {
        Ok(Some(Upstream::Known(origin))) => Some(origin),
        Ok(Some(Upstream::Ask(run))) => run_app(&hub, run).await,
        Ok(None) => None,
        Err(status) => {
            // Read a small body first, so the refusal does not cost the caller its connection.
            if !req.headers().contains_key("expect") {
                let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
            }
            return refused(status);
        }
    };
    let peer = req.extensions().get::<Peer>().map(|c| c.0.ip().to_string());
    let headers = req.headers_mut();
    headers.remove("x-hf-authorization");
    if let Some(peer) = peer {
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) if !prev.trim().is_empty() => format!("{prev}, {peer}"),
            _ => peer,
        };
        if let Ok(v) = HeaderValue::from_str(&xff) {
            headers.insert("x-forwarded-for", v);
        }
    }
    match upstream {
        Some(origin) => forward(&app.client, &origin, req).await,
        None => next.run(req).await,
    }
}

/// Where a Space app's requests go: a known origin, or the runner is asked (once it answers, it is known).
enum Upstream {
    Known(String),
    Ask(SpaceRun),
}

/// The Space's real app, started by the emulator's runner on its first request and remembered as its
/// upstream; `None` keeps the built-in test app.
async fn run_app(hub: &Shared, run: SpaceRun) -> Option<String> {
    let runner = hub.app_runner.lock().ok()?.clone()?;
    let repo_id = run.repo_id.clone();
    let origin = runner(run).await?;
    let mut st = hub.lock();
    if let Some(space) = st
        .repos
        .values_mut()
        .find(|r| r.space.is_some() && r.id() == repo_id)
        .and_then(|r| r.space.as_mut())
    {
        space.upstream = Some(origin.clone());
    }
    Some(origin)
}

fn refused(status: StatusCode) -> Response {
    let msg = if status == StatusCode::UNAUTHORIZED {
        "Sign in or pass a token with read access to this private Space"
    } else {
        "Space not found"
    };
    (status, msg).into_response()
}

/// Streams the request to `origin` (plain HTTP; WebSocket upgrades are not forwarded).
async fn forward(client: &Client<HttpConnector, Body>, origin: &str, req: Request) -> Response {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let uri: Uri = match format!("{}{pq}", origin.trim_end_matches('/')).parse() {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_GATEWAY, "invalid upstream URL").into_response(),
    };
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    match client.request(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream error: {e}")).into_response(),
    }
}

async fn echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<Value> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let v = if values.len() == 1 {
            values.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        };
        headers.insert(name.as_str().to_string(), v);
    }
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "bodyBytes": body.len(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct SseQ {
    n: Option<u64>,
    interval_ms: Option<u64>,
}

async fn sse(Query(q): Query<SseQ>) -> Response {
    let n = q.n.unwrap_or(5);
    let interval = Duration::from_millis(q.interval_ms.unwrap_or(100));
    let stream = futures::stream::unfold(0u64, move |i| async move {
        if i >= n {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        let ev = format!("id: {i}\nevent: tick\ndata: {{\"i\": {i}, \"n\": {n}}}\n\n");
        Some((Ok::<_, std::io::Error>(Bytes::from(ev)), i + 1))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|socket: WebSocket| async move {
        let mut socket = socket;
        while let Some(Ok(msg)) = socket.recv().await {
            let reply = match msg {
                Message::Text(t) => Message::Text(t),
                Message::Binary(b) => Message::Binary(b),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}

static CHUNK: [u8; 65536] = [b'x'; 65536];

async fn download(Query(q): Query<HashMap<String, String>>) -> Response {
    let total: u64 = q
        .get("bytes")
        .and_then(|b| b.parse().ok())
        .unwrap_or(1 << 20);
    let stream = futures::stream::unfold(total, |left| async move {
        if left == 0 {
            return None;
        }
        let n = left.min(CHUNK.len() as u64) as usize;
        Some((
            Ok::<_, std::io::Error>(Bytes::from_static(&CHUNK[..n])),
            left - n as u64,
        ))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, total)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn slow(Query(q): Query<HashMap<String, String>>) -> Response {
    let ms: u64 = q.get("ms").and_then(|b| b.parse().ok()).unwrap_or(1000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slow {ms}\n").into_response()
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("to").and_then(|t| HeaderValue::from_str(t).ok()) {
        Some(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        None => (StatusCode::BAD_REQUEST, "missing ?to=URL").into_response(),
    }
}

/// The public origin as Gradio computes it: `X-Forwarded-Host` (+ `X-Forwarded-Proto`) else `Host`.
fn public_root(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .unwrap_or_else(|| "localhost".into());
    let proto = first("x-forwarded-proto").unwrap_or_else(|| "http".into());
    format!("{proto}://{host}")
}

async fn config(headers: HeaderMap) -> Response {
    let root = public_root(&headers);
    let file = "/tmp/gradio/example.txt";
    axum::Json(json!({
        "version": "5.0.0",
        "mode": "blocks",
        "root": root,
        "api_prefix": "/gradio_api",
        "theme": "default",
        "components": [
            {"id": 1, "type": "markdown", "props": {"value": "Hello from the emulator's test app"}},
            {"id": 2, "type": "file", "props": {"value": {"path": file, "url": format!("{root}/file={file}"), "orig_name": "example.txt"}}}
        ],
        "dependencies": [],
        "file_url": format!("{root}/file={file}"),
    }))
    .into_response()
}

async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if let Some(file) = path.strip_prefix("/file=") {
        return format!("file {file}\n").into_response();
    }
    if path == "/" {
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><html><body><h1>hub-emulator test app</h1></body></html>",
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}
