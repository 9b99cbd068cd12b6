//! The request pipeline: local answers (operations, CORS preflight, refusals) first, then forwarding with
//! header policy, wake-up retries, timeouts, streaming bodies, origin rewriting and WebSocket tunnels.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST, ORIGIN};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::body::{empty, Body, Cap, Guarded};
use crate::config::{Config, Origin};
use crate::errors::ProxyError;
use crate::framing;
use crate::headers::{self, Injected};
use crate::limits::{self, RateLimiter};
use crate::ops::{self, Readiness};
use crate::preset;
use crate::race::{race, Either};
use crate::rewrite::{self, Patterns, Rewriter};
use crate::upstream::{self, Upstream, UpstreamError};
use crate::websocket::{spawn_tunnel, TunnelLimits};

const MAX_BACKOFF: Duration = Duration::from_secs(4);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Shared by every connection.
pub(crate) struct State {
    pub cfg: Config,
    pub upstream: Arc<Upstream>,
    pub rate: Option<RateLimiter>,
    pub readiness: Readiness,
    host_value: HeaderValue,
    origin_value: HeaderValue,
    /// Rewrite patterns when the public origin is configured; else derived per request from `Host`.
    patterns: Option<Arc<Patterns>>,
    pub shutdown: watch::Receiver<bool>,
}

impl State {
    pub fn new(cfg: Config, shutdown: watch::Receiver<bool>) -> Result<State, String> {
        let upstream = Arc::new(Upstream::new(&cfg)?);
        let host_value = HeaderValue::from_str(&cfg.target.authority).map_err(|_| {
            "PROXY_TARGET_URL has a host that is not a valid Host header".to_owned()
        })?;
        let origin_value = HeaderValue::from_str(&cfg.target.origin)
            .map_err(|_| "PROXY_TARGET_URL is not a valid Origin header".to_owned())?;
        let patterns = cfg
            .public_origin
            .as_ref()
            .map(|o| Patterns::new(&cfg.target, o));
        Ok(State {
            rate: cfg.rate_limit.map(RateLimiter::new),
            readiness: Readiness::default(),
            upstream,
            host_value,
            origin_value,
            patterns,
            shutdown,
            cfg,
        })
    }

    /// Applies the request header policy (strip caller credentials and hop-by-hop, add ours).
    pub fn inject(
        &self,
        h: &mut HeaderMap,
        public: Option<&Origin>,
        upgrade: bool,
        keep_encoding: bool,
    ) {
        let token = self.cfg.token.as_ref().map(|t| (&self.cfg.token_header, t));
        headers::prepare_request(
            h,
            &Injected {
                host: &self.host_value,
                upstream_origin: &self.origin_value,
                token,
                public,
                upgrade,
                keep_encoding,
            },
        );
    }
}

/// One client connection.
pub(crate) struct Conn {
    pub state: Arc<State>,
    /// The peer's IP address, formatted once per connection (rate-limit key and log fallback).
    pub peer_ip: String,
    /// The connection-cap permit; WebSocket tunnels keep a clone so they count too.
    pub permit: Arc<OwnedSemaphorePermit>,
    /// Set by `framing::Sniffer` when a request head on this connection had ambiguous framing.
    pub bad_framing: Arc<AtomicBool>,
}

pub(crate) async fn handle(
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    let method = req.method().clone();
    // Path only: queries can carry signed URLs or keys.
    let path = crate::log::sanitize(req.uri().path(), 200);
    let origin = req.headers().get(ORIGIN).cloned();
    let caller = limits::caller_key(req.headers(), &conn.peer_ip, None);
    let mut resp = route(&conn, req).await;
    crate::cors::decorate(
        resp.headers_mut(),
        origin.as_ref(),
        &conn.state.cfg.allow_origins,
    );
    conn.state.cfg.log.line(&format!(
        "{} \"{method} {path}\" {} {}ms",
        crate::log::sanitize(&caller, 64),
        resp.status().as_u16(),
        start.elapsed().as_millis()
    ));
    Ok(resp)
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

async fn route(conn: &Arc<Conn>, req: Request<Incoming>) -> Response<Body> {
    let state = &conn.state;
    let cfg = &state.cfg;
    let path = req.uri().path().to_owned();
    if path.starts_with(ops::PREFIX) {
        return ops::handle(state, req.method(), &path).await;
    }
    if conn.bad_framing.load(Ordering::SeqCst) {
        let mut r = ProxyError::BadRequest(framing::AMBIGUOUS).response();
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    if let Err(why) = framing::check_parsed(req.headers()) {
        return ProxyError::BadRequest(why).response();
    }
    if req.method() == Method::CONNECT {
        return ProxyError::MethodNotAllowed.response();
    }
    let Ok(decoded) = preset::normalise(&path) else {
        return ProxyError::BadPath.response();
    };
    if let Some(r) = crate::cors::preflight(req.method(), req.headers(), &cfg.allow_origins) {
        return r;
    }
    if headers::wants_upgrade(req.headers()) {
        let own = own_origin(cfg, req.headers());
        if !crate::cors::upgrade_allowed(req.headers(), &cfg.allow_origins, own.as_deref()) {
            return ProxyError::OriginNotAllowed.response();
        }
    }
    let api_key = if cfg.api_keys.is_empty() {
        None
    } else {
        let presented = req
            .headers()
            .get(limits::API_KEY_HEADER)
            .map(HeaderValue::as_bytes);
        match limits::check_api_key(&cfg.api_keys, presented) {
            Some(k) => Some(k),
            None => return ProxyError::Unauthorized.response(),
        }
    };
    if let Some(rl) = &state.rate {
        let key = limits::caller_key(req.headers(), &conn.peer_ip, api_key);
        if let Err(retry_after_secs) = rl.check(&key, std::time::Instant::now()) {
            return ProxyError::RateLimited { retry_after_secs }.response();
        }
    }
    if let Some(p) = cfg.preset {
        let query = req
            .uri()
            .query()
            .map(preset::decode_query)
            .unwrap_or_default();
        if !p.allows(&decoded, &query) {
            return ProxyError::PathNotAllowed.response();
        }
    }
    if content_length(req.headers()).is_some_and(|n| n > cfg.max_body_bytes) {
        return ProxyError::TooLarge.response();
    }
    forward(conn, req).await
}

/// The proxy's own public origin as a string (`https://host`), configured or derived.
fn own_origin(cfg: &Config, h: &HeaderMap) -> Option<String> {
    let o = match &cfg.public_origin {
        Some(o) => o.clone(),
        None => derive_origin(h)?,
    };
    Some(format!("{}://{}", o.scheme(), o.authority))
}

/// The caller-facing origin when none is configured: from `Host` and `X-Forwarded-Proto`.
fn derive_origin(h: &HeaderMap) -> Option<Origin> {
    let host = h.get(HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !ok {
        return None;
    }
    let https = h
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    Some(Origin {
        https,
        authority: host.to_ascii_lowercase(),
    })
}

fn build(method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Request<Body> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    req
}

async fn forward(conn: &Arc<Conn>, mut req: Request<Incoming>) -> Response<Body> {
    let state = &conn.state;
    let cfg = &state.cfg;
    let upgrade = headers::wants_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let derived = if cfg.public_origin.is_none() {
        derive_origin(req.headers())
    } else {
        None
    };
    let public = cfg.public_origin.as_ref().or(derived.as_ref());
    let patterns = match (&state.patterns, public) {
        (Some(p), _) => Some(Arc::clone(p)),
        (None, Some(o)) => Some(Patterns::new(&cfg.target, o)),
        (None, None) => None,
    };

    let (parts, body) = req.into_parts();
    let query = parts.uri.query().and_then(headers::strip_sign);
    let Ok(uri) = upstream::request_target(parts.uri.path(), query.as_deref()) else {
        return ProxyError::BadPath.response();
    };
    let keep_encoding = rewrite::is_static_asset(parts.uri.path());
    let mut headers = parts.headers;
    state.inject(&mut headers, public, upgrade, keep_encoding);

    let replayable = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && body.is_end_stream();
    let tripped = Arc::new(AtomicBool::new(false));
    let result = if replayable {
        drop(body);
        send_with_wake_retry(state, &parts.method, &uri, &headers).await
    } else {
        let (tx, rx) = oneshot::channel();
        let body = Guarded::new(body, cfg.idle_timeout, Some(cfg.max_stream))
            .with_cap(Cap {
                limit: cfg.max_body_bytes,
                seen: 0,
                tripped: Arc::clone(&tripped),
            })
            .with_end_signal(tx)
            .boxed();
        send_after_body(state, build(parts.method, uri, headers, body), rx).await
    };

    let mut resp = match result {
        Ok(r) => r,
        Err(_) if tripped.load(Ordering::SeqCst) => return ProxyError::TooLarge.response(),
        Err(UpstreamError::Timeout) => {
            cfg.log.line("upstream timeout");
            return ProxyError::Timeout.response();
        }
        Err(UpstreamError::Unreachable(detail)) => {
            cfg.log.line(&format!(
                "upstream unreachable: {}",
                crate::log::sanitize(&detail, 200)
            ));
            return ProxyError::Unreachable.response();
        }
    };

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return ProxyError::Unreachable.response();
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        let (mut parts, _) = resp.into_parts();
        headers::clean_response(&mut parts.headers, true, patterns.as_ref());
        let limits = TunnelLimits {
            idle: cfg.idle_timeout,
            lifetime: cfg.max_stream,
        };
        spawn_tunnel(
            client_upgrade,
            upstream_upgrade,
            limits,
            state.shutdown.clone(),
            cfg.log.clone(),
            Arc::clone(&conn.permit),
        );
        return Response::from_parts(parts, empty());
    }

    let (mut parts, body) = resp.into_parts();
    headers::clean_response(&mut parts.headers, false, patterns.as_ref());
    let mut guarded = Guarded::new(body, cfg.idle_timeout, Some(cfg.max_stream));
    if let Some(p) = patterns.filter(|_| rewrite::is_rewritable(&parts.headers)) {
        // The length changes when an origin is replaced.
        parts.headers.remove(CONTENT_LENGTH);
        guarded = guarded.with_rewriter(Rewriter::new(p));
    }
    Response::from_parts(parts, guarded.boxed())
}

/// Sends a request with a body; the time-to-first-byte clock starts once the body has been sent.
async fn send_after_body(
    state: &Arc<State>,
    req: Request<Body>,
    body_done: oneshot::Receiver<()>,
) -> Result<Response<Incoming>, UpstreamError> {
    let ttfb = state.cfg.ttfb_timeout;
    let deadline = async {
        let _ = body_done.await;
        tokio::time::sleep(ttfb).await;
    };
    match race(state.upstream.send(req), deadline).await {
        Either::Left(r) => r,
        Either::Right(()) => Err(UpstreamError::Timeout),
    }
}

/// Bodiless idempotent requests are retried while the upstream is unreachable or answers 502/503 (a
/// sleeping Space wakes on its first request), for at most `PROXY_WAKE_RETRY_SECS`.
async fn send_with_wake_retry(
    state: &Arc<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response<Incoming>, UpstreamError> {
    let cfg = &state.cfg;
    let give_up_at = Instant::now() + cfg.wake_retry;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let req = build(method.clone(), uri.clone(), headers.clone(), empty());
        let result = match tokio::time::timeout(cfg.ttfb_timeout, state.upstream.send(req)).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Timeout),
        };
        let waking = match &result {
            Err(UpstreamError::Unreachable(_)) => true,
            Ok(resp) => matches!(resp.status().as_u16(), 502 | 503),
            Err(UpstreamError::Timeout) => false,
        };
        if !waking || Instant::now() + backoff > give_up_at {
            return result;
        }
        cfg.log.line("upstream not ready (waking?); retrying");
        drop(result);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
