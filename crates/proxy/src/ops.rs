//! Operations paths under `/.proxy/`: liveness never touches the upstream (pingers must not wake the
//! private Space); readiness needs the caller's key when keys are on (it sends an authenticated request
//! upstream and can wake the Space), probes once per `READY_TTL` at most, with one attempt bounded by
//! `PROBE_TIMEOUT` (never the wake-up retries of ordinary requests), and caches the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Mutex;

use crate::body::{empty, full, Body};
use crate::errors::ProxyError;
use crate::handler::State;

pub(crate) const PREFIX: &str = "/.proxy/";
const READY_TTL: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Cached readiness: when it was probed and whether the upstream answered below 500.
#[derive(Default)]
pub(crate) struct Readiness(Mutex<Option<(Instant, bool)>>);

fn json(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `authorized`: keys are off, or the request carries a valid one.
pub(crate) async fn handle(
    state: &Arc<State>,
    method: &Method,
    path: &str,
    authorized: bool,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return ProxyError::MethodNotAllowed.response();
    }
    match path {
        "/.proxy/healthz" => json(StatusCode::OK, "{\"status\":\"ok\"}"),
        "/.proxy/readyz" if !authorized => ProxyError::Unauthorized.response(),
        "/.proxy/readyz" => {
            if ready(state).await {
                json(StatusCode::OK, "{\"status\":\"ready\"}")
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{\"status\":\"upstream not ready\"}",
                )
            }
        }
        _ => ProxyError::NotFound.response(),
    }
}

async fn ready(state: &Arc<State>) -> bool {
    // Holding the lock across the probe makes concurrent readyz calls share one probe.
    let mut cached = state.readiness.0.lock().await;
    if let Some((at, ok)) = *cached {
        if at.elapsed() < READY_TTL {
            return ok;
        }
    }
    let ok = probe(state).await;
    *cached = Some((Instant::now(), ok));
    ok
}

async fn probe(state: &Arc<State>) -> bool {
    let mut req = Request::new(empty());
    *req.uri_mut() = hyper::Uri::from_static("/");
    state.inject(req.headers_mut(), None, false, false);
    match tokio::time::timeout(PROBE_TIMEOUT, state.upstream.send(req)).await {
        Ok(Ok((resp, _lease))) => {
            let ok = resp.status().as_u16() < 500;
            // Drop the body; the connection is not reused unless it was read to the end.
            drop(resp);
            ok
        }
        _ => false,
    }
}
