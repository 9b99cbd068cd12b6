//! The request pipeline: local answers (operations, CORS preflight, refusals) first, then forwarding with
//! header policy, wake-up retries, timeouts, streaming bodies, origin rewriting and WebSocket tunnels.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST, ORIGIN};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::body::{empty, Body, Cut, CutFlag, Guarded};
use crate::config::{Config, Origin};
use crate::errors::ProxyError;
use crate::framing;
use crate::headers::{self, Injected};
use crate::limits::{self, Caller, CallerSlot, CallerSlots, RateLimiter};
use crate::ops::{self, Readiness};
use crate::preset;
use crate::race::{race, Either};
use crate::rewrite::{self, Patterns, Rewriter};
use crate::timer::ConnTimer;
use crate::upstream::{self, Lease, Upstream, UpstreamError};
use crate::websocket::{spawn_tunnel, TunnelLimits};

const MAX_BACKOFF: Duration = Duration::from_secs(4);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Shared by every connection.
pub(crate) struct State {
    pub cfg: Config,
    pub upstream: Arc<Upstream>,
    pub rate: Option<RateLimiter>,
    /// Concurrent requests per caller; `None` when `PROXY_MAX_CONNECTIONS_PER_CALLER` is 0.
    pub caller_slots: Option<Arc<CallerSlots>>,
    pub readiness: Readiness,
    host_value: HeaderValue,
    origin_value: HeaderValue,
    /// `X-Forwarded-Host`: the public origin's authority.
    forwarded_host: Option<HeaderValue>,
    /// Rewrite patterns when the public origin is configured. Never derived from the caller's `Host`: a
    /// caller must not choose the origin written into responses (they may be cached or shared).
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
        let forwarded_host = cfg
            .public_origin
            .as_ref()
            .and_then(|o| HeaderValue::from_str(&o.authority).ok());
        Ok(State {
            rate: cfg.rate_limit.map(RateLimiter::new),
            caller_slots: (cfg.max_per_caller > 0).then(|| CallerSlots::new(cfg.max_per_caller)),
            readiness: Readiness::default(),
            upstream,
            host_value,
            origin_value,
            forwarded_host,
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
                forwarded_host: self.forwarded_host.as_ref(),
                upgrade,
                keep_encoding,
            },
        );
    }
}

/// One client connection.
pub(crate) struct Conn {
    pub state: Arc<State>,
    /// The peer's address (the caller when there is no usable `X-Forwarded-For`).
    pub peer_ip: IpAddr,
    /// The connection-cap permit; WebSocket tunnels keep a clone so they count too.
    pub permit: Arc<OwnedSemaphorePermit>,
    /// Requests seen on this connection so far (the position of the next one).
    pub requests: AtomicU64,
    /// Position of the first request head with ambiguous framing (`framing::Sniffer`), or `NO_BAD_HEAD`.
    pub bad_head: Arc<AtomicU64>,
    /// The connection's one timer: hyper's header read timeout, and the wait for a bodiless request's
    /// response head (requests on a connection are sequential, so they never overlap).
    pub timer: ConnTimer,
}

pub(crate) async fn handle(
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    let index = conn.requests.fetch_add(1, Ordering::SeqCst);
    let method = req.method().clone();
    // Path only: queries can carry signed URLs or keys. (A clone of the parsed URI shares its bytes.)
    let uri = req.uri().clone();
    let origin = req.headers().get(ORIGIN).cloned();
    // A parsed address: nothing the caller wrote in `X-Forwarded-For` reaches the log verbatim.
    let ip = limits::caller_ip(req.headers(), conn.peer_ip);
    let mut resp = route(&conn, req, index, ip).await;
    crate::cors::decorate(
        resp.headers_mut(),
        origin.as_ref(),
        &conn.state.cfg.allow_origins,
    );
    conn.state.cfg.log.access(
        ip,
        method.as_str(),
        uri.path(),
        resp.status().as_u16(),
        start.elapsed().as_millis(),
    );
    Ok(resp)
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

async fn route(conn: &Arc<Conn>, req: Request<Incoming>, index: u64, ip: IpAddr) -> Response<Body> {
    let state = &conn.state;
    let cfg = &state.cfg;
    if index >= conn.bad_head.load(Ordering::SeqCst) {
        let mut r = ProxyError::BadRequest(framing::AMBIGUOUS).response();
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    if let Err(why) = framing::check_parsed(req.headers()) {
        return ProxyError::BadRequest(why).response();
    }
    if let Err(why) = single_host_and_origin(req.headers()) {
        return ProxyError::BadRequest(why).response();
    }
    // Who is calling: a valid key, else the address. Checked before anything else so that refusals (401)
    // and operations paths count against the caller's rate limit too.
    let api_key = if cfg.api_keys.is_empty() {
        None
    } else {
        let presented = req
            .headers()
            .get(limits::API_KEY_HEADER)
            .map(HeaderValue::as_bytes);
        limits::check_api_key(&cfg.api_keys, presented)
    };
    let authorized = cfg.api_keys.is_empty() || api_key.is_some();
    let caller = Caller::of(ip, api_key);
    if let Some(rl) = &state.rate {
        if let Err(retry_after_secs) = rl.check(caller, std::time::Instant::now()) {
            return ProxyError::RateLimited { retry_after_secs }.response();
        }
    }
    // Borrowed, not copied: the request moves on only after the last use of `path` and `decoded`.
    let path = req.uri().path();
    if path.starts_with(ops::PREFIX) {
        return ops::handle(state, req.method(), path, authorized).await;
    }
    // CONNECT would open a tunnel; TRACE would echo the request (headers included) back.
    if matches!(*req.method(), Method::CONNECT | Method::TRACE) {
        return ProxyError::MethodNotAllowed.response();
    }
    let Ok(decoded) = preset::normalise(path) else {
        return ProxyError::BadPath.response();
    };
    if let Some(r) = crate::cors::preflight(req.method(), req.headers(), &cfg.allow_origins) {
        return r;
    }
    if headers::wants_upgrade(req.headers()) {
        if !headers::is_websocket(req.headers()) {
            let mut r = ProxyError::BadRequest(ONLY_WEBSOCKET).response();
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        let own = cfg
            .public_origin
            .as_ref()
            .map(|o| format!("{}://{}", o.scheme(), o.authority));
        if !crate::cors::upgrade_allowed(req.headers(), &cfg.allow_origins, own.as_deref()) {
            return ProxyError::OriginNotAllowed.response();
        }
    }
    if !authorized {
        return ProxyError::Unauthorized.response();
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
    let slot = match &state.caller_slots {
        None => None,
        Some(slots) => match slots.acquire(caller) {
            Some(slot) => Some(slot),
            None => return ProxyError::TooManyConnections.response(),
        },
    };
    forward(conn, req, slot).await
}

const ONLY_WEBSOCKET: &str = "only WebSocket upgrades are supported";

/// RFC 9112 3.2: a request with more than one `Host` is refused; two `Origin`s would let the CORS and
/// WebSocket checks read one value while the upstream reads the other.
fn single_host_and_origin(h: &HeaderMap) -> Result<(), &'static str> {
    if h.get_all(HOST).iter().nth(1).is_some() {
        return Err("more than one Host header is refused");
    }
    if h.get_all(ORIGIN).iter().nth(1).is_some() {
        return Err("more than one Origin header is refused");
    }
    Ok(())
}

fn build(method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Request<Body> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    req
}

async fn forward(
    conn: &Arc<Conn>,
    mut req: Request<Incoming>,
    slot: Option<CallerSlot>,
) -> Response<Body> {
    let state = &conn.state;
    let cfg = &state.cfg;
    let upgrade = headers::wants_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let public = cfg.public_origin.as_ref();
    let patterns = state.patterns.clone();

    let (parts, body) = req.into_parts();
    let origin_form = parts.uri.scheme().is_none()
        && parts.uri.authority().is_none()
        && parts.uri.path().starts_with('/');
    let uri = if origin_form && parts.uri.query().is_none() {
        // Already a bare path on the fixed upstream: nothing to strip, nothing to rebuild.
        parts.uri.clone()
    } else {
        let query = parts.uri.query().and_then(headers::strip_sign);
        let Ok(uri) = upstream::request_target(parts.uri.path(), query.as_deref()) else {
            return ProxyError::BadPath.response();
        };
        uri
    };
    let keep_encoding = rewrite::is_static_asset(parts.uri.path());
    let mut headers = parts.headers;
    state.inject(&mut headers, public, upgrade, keep_encoding);

    let replayable = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && body.is_end_stream();
    let cut = CutFlag::default();
    let result = if replayable {
        drop(body);
        send_with_wake_retry(conn, &parts.method, &uri, headers).await
    } else {
        let (tx, rx) = oneshot::channel();
        // A request body may pause for at most `body_timeout` between reads and, after that grace,
        // must average `min_body_rate`: a client that trickles bytes cannot hold a slot for long.
        let body = Guarded::new(body, cfg.body_timeout, Some(cfg.max_stream))
            .with_cap(cfg.max_body_bytes, cut.clone())
            .with_min_rate(cfg.min_body_rate, cfg.body_timeout)
            .with_end_signal(tx)
            .boxed();
        send_after_body(state, build(parts.method, uri, headers, body), rx).await
    };

    let (mut resp, lease) = match (result, cut.get()) {
        (Ok(r), _) => r,
        (Err(_), Cut::TooLarge) => return ProxyError::TooLarge.response(),
        (Err(_), Cut::TooSlow) => {
            cfg.log.line("request body too slow: cut");
            return ProxyError::RequestTimeout.response();
        }
        (Err(_), Cut::ClientError) => {
            let mut r = ProxyError::BadRequest(BAD_BODY).response();
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        (Err(UpstreamError::Timeout), Cut::None) => {
            cfg.log.line("upstream timeout");
            return ProxyError::Timeout.response();
        }
        (Err(UpstreamError::Unreachable(detail)), Cut::None) => {
            cfg.log.line(&format!(
                "upstream unreachable: {}",
                crate::log::sanitize(&detail, 200)
            ));
            return ProxyError::Unreachable.response();
        }
    };

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        // Only a WebSocket handshake the caller asked for becomes a tunnel.
        let Some(client_upgrade) = client_upgrade.filter(|_| headers::is_websocket(resp.headers()))
        else {
            cfg.log
                .line("upstream switched protocols without a WebSocket request");
            return ProxyError::Unreachable.response();
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        lease.discard();
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
            (Arc::clone(&conn.permit), slot),
        );
        return Response::from_parts(parts, empty());
    }

    let (mut parts, body) = resp.into_parts();
    headers::clean_response(&mut parts.headers, false, patterns.as_ref());
    let mut guarded =
        Guarded::new(body, cfg.idle_timeout, Some(cfg.max_stream)).holding(lease, slot);
    if let Some(p) = patterns.filter(|_| rewrite::is_rewritable(&parts.headers)) {
        // The length changes when an origin is replaced.
        parts.headers.remove(CONTENT_LENGTH);
        guarded = guarded.with_rewriter(Rewriter::new(p));
    }
    Response::from_parts(parts, guarded.boxed())
}

const BAD_BODY: &str = "the request body is malformed (invalid chunked encoding) or was cut short";

/// Sends a request with a body; the time-to-first-byte clock starts once the body has been sent.
async fn send_after_body(
    state: &Arc<State>,
    req: Request<Body>,
    body_done: oneshot::Receiver<()>,
) -> Result<(Response<Incoming>, Lease), UpstreamError> {
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
///
/// A retry needs the whole request again, and hyper consumes it when it is sent, so an attempt that could
/// be followed by another sends a copy of the headers; the last possible attempt (the only one when
/// retries are off) sends the headers themselves.
async fn send_with_wake_retry(
    conn: &Conn,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
) -> Result<(Response<Incoming>, Lease), UpstreamError> {
    let state = &conn.state;
    let cfg = &state.cfg;
    let give_up_at = Instant::now() + cfg.wake_retry;
    let mut backoff = FIRST_BACKOFF;
    let mut headers = Some(headers);
    loop {
        let last = out_of_time(backoff, give_up_at);
        let sent = match (&headers, last) {
            (Some(h), false) => h.clone(),
            _ => headers.take().unwrap_or_default(),
        };
        let req = build(method.clone(), uri.clone(), sent, empty());
        let ttfb = conn.timer.until(Instant::now() + cfg.ttfb_timeout);
        let result = match race(state.upstream.send(req), ttfb).await {
            Either::Left(r) => r,
            Either::Right(()) => Err(UpstreamError::Timeout),
        };
        let waking = match &result {
            Err(UpstreamError::Unreachable(_)) => true,
            Ok((resp, _)) => matches!(resp.status().as_u16(), 502 | 503),
            Err(UpstreamError::Timeout) => false,
        };
        if !waking || headers.is_none() || out_of_time(backoff, give_up_at) {
            return result;
        }
        cfg.log.line("upstream not ready (waking?); retrying");
        drop(result);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// True when no retry can follow: the wait before it would end past `give_up_at`. One function for the
/// check before an attempt (copy the headers or not) and after it (retry or not), so the two agree.
fn out_of_time(backoff: Duration, give_up_at: Instant) -> bool {
    Instant::now() + backoff > give_up_at
}
