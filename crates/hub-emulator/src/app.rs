//! The Hub's HTTP entry point: request ids, fault injection, the journal, then routing.

use crate::context::Ctx;
use crate::errors::ApiError;
use crate::faults::FaultAction;
use crate::journal::{JournalEntry, Landed, Mutated, Restarted};
use crate::server::ConnKiller;
use crate::shaping;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub fn router(ctx: Ctx) -> Router {
    Router::new().fallback(entry).with_state(ctx)
}

async fn entry(State(ctx): State<Ctx>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let raw_path = req.uri().path().to_string();
    let control = raw_path.starts_with("/_emulator/");
    let seq = ctx.request_seq.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("Root=1-emu-{seq:08x}");

    let mut journal_path = raw_path.clone();
    if !control && ctx.token_in(&req.uri().to_string()) {
        ctx.token_leaks.fetch_add(1, Ordering::Relaxed);
        eprintln!("hub-emulator: WARNING a token appeared in a request URL ({method} request)");
        journal_path = "[path containing a token, redacted]".to_string();
    }

    // Link shaping and "land, then fail" apply to the Hub's API and LFS transfers, never to
    // the control API.
    let (latency_ms, bandwidth) = if control {
        (0, None)
    } else {
        let st = ctx.lock();
        (st.config.realism.latency_ms, st.config.realism.bandwidth)
    };
    shaping::latency(latency_ms).await;
    let mut land_then: Option<Option<u16>> = None;
    if !control {
        match ctx.faults.check(&method, &raw_path) {
            Some(FaultAction::LandThen { status }) => land_then = Some(status),
            Some(FaultAction::Delay { ms }) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            Some(FaultAction::Drop) => {
                ctx.journal.push(JournalEntry {
                    method,
                    path: journal_path,
                    status: 0,
                    mutating: false,
                    bytes_in: 0,
                    restart: None,
                });
                if let Some(k) = req.extensions().get::<ConnKiller>() {
                    k.kill();
                }
                // The connection task drops this future with the connection.
                std::future::pending::<()>().await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Some(FaultAction::Status {
                status,
                retry_after,
            }) => {
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let mut err = ApiError::new(code, format!("Injected fault: {status}"));
                if let Some(s) = retry_after {
                    err = err.header("retry-after", s.to_string());
                    if status == 429 {
                        err = err
                            .header("ratelimit", format!("\"api\";r=0;t={s}"))
                            .header("ratelimit-policy", "\"fixed window\";\"api\";q=1000;w=300");
                    }
                }
                let mut resp = err.into_response();
                set_request_id(&mut resp, &request_id);
                ctx.journal.push(JournalEntry {
                    method,
                    path: journal_path,
                    status,
                    mutating: false,
                    bytes_in: 0,
                    restart: None,
                });
                return resp;
            }
            None => {}
        }
    }

    // The handler reads the body through a tap that counts bytes (journal `bytes_in`) and leaves
    // what it did not read here, to be drained below.
    let parts_killer = req.extensions().get::<ConnKiller>().cloned();
    let counter = Arc::new(AtomicU64::new(0));
    let expects_continue = req.headers().contains_key("expect");
    let (parts, body) = req.into_parts();
    let body = match bandwidth {
        Some(rate) => Body::from_stream(shaping::throttle(body.into_data_stream(), rate)),
        None => body,
    };
    let tap = Tap {
        inner: Arc::new(Mutex::new(Some(body.into_data_stream()))),
        counter: counter.clone(),
    };
    let leftover = tap.inner.clone();
    let req = Request::from_parts(parts, Body::from_stream(tap));
    let mut resp = crate::routes::dispatch(ctx.clone(), req).await;
    // A body left unread makes hyper close the connection after the answer, and a client that
    // reuses it from its pool then fails ("Remote end closed connection without response").
    // Drain small leftovers so keep-alive survives; huge or 100-continue bodies are dropped.
    let rest = leftover.lock().ok().and_then(|mut g| g.take());
    if let (Some(mut rest), false) = (rest, expects_continue) {
        let mut drained = 0usize;
        while let Some(Ok(b)) = rest.next().await {
            drained += b.len();
            counter.fetch_add(b.len() as u64, Ordering::Relaxed);
            if drained > DRAIN_LIMIT {
                break;
            }
        }
    }
    let changed = resp.extensions().get::<Mutated>().is_some()
        && (resp.status().is_success() || resp.extensions().get::<Landed>().is_some());
    let restart = resp
        .extensions()
        .get::<Restarted>()
        .filter(|_| resp.status().is_success())
        .map(|r| r.0.to_string());
    let mut entry = JournalEntry {
        method,
        path: journal_path,
        status: resp.status().as_u16(),
        mutating: changed,
        bytes_in: counter.load(Ordering::Relaxed),
        restart,
    };
    // The change has landed; the client is told otherwise (or nothing at all).
    if let (Some(fail), true) = (land_then, changed) {
        match fail {
            Some(status) => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                resp = ApiError::new(
                    code,
                    format!("Injected fault after the change landed: {status}"),
                )
                .into_response();
                entry.status = status;
            }
            None => {
                entry.status = 0;
                ctx.journal.push(entry);
                if let Some(k) = parts_killer {
                    k.kill();
                }
                std::future::pending::<()>().await;
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    set_request_id(&mut resp, &request_id);
    if let Some(rate) = bandwidth {
        let (head, body) = resp.into_parts();
        resp = Response::from_parts(
            head,
            Body::from_stream(shaping::throttle(body.into_data_stream(), rate)),
        );
    }
    if !control {
        ctx.journal.push(entry);
    }
    resp
}

/// Bytes of an unread request body drained to keep the connection alive.
const DRAIN_LIMIT: usize = 1 << 20;

/// A request body stream shared with the entry point (see `entry`).
struct Tap {
    inner: Arc<Mutex<Option<axum::body::BodyDataStream>>>,
    counter: Arc<AtomicU64>,
}

impl futures::Stream for Tap {
    type Item = Result<bytes::Bytes, axum::Error>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(stream) = guard.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let r = std::pin::Pin::new(stream).poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(b))) = &r {
            self.counter.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        r
    }
}

fn set_request_id(resp: &mut Response<Body>, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
}
