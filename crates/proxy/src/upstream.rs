//! The one upstream: request-target building, connections (TCP, TLS with SNI), and a small pool of
//! HTTP/1.1 connections.
//!
//! The upstream's address comes only from configuration. A request's path is used as the request-target
//! on a connection that is already open to that address, so no path (`//evil`), absolute-form URI or
//! `Host` header can point the proxy elsewhere: there is no URL joining anywhere.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::body::Body;
use crate::config::{Config, Target};

/// How long an idle connection is kept for reuse.
const IDLE_FOR: Duration = Duration::from_secs(30);

/// Why the upstream call failed. Details stay in the log; callers get a fixed message.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// DNS, TCP, TLS or HTTP failure: 502.
    Unreachable(String),
    /// Connect timeout: 504.
    Timeout,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) struct Upstream {
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    /// Idle connections, oldest first, each with the time it was checked in. Only connections whose
    /// response was read to the end come back (see `Lease`), so the newest is taken without a scan, and
    /// stale ones are pruned from the old end. Capped at `PROXY_MAX_CONNECTIONS`.
    idle: Mutex<VecDeque<(SendRequest<Body>, Instant)>>,
    max_pooled: usize,
}

/// The request-target for the upstream: the caller's path and query as-is (origin-form). A caller's
/// path is never parsed as a URL, so `//host/x` stays a path on the fixed upstream.
pub(crate) fn request_target(path: &str, query: Option<&str>) -> Result<Uri, ()> {
    if !path.starts_with('/') {
        return Err(());
    }
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    // Parsing "//x" as a Uri would make "x" an authority; build from parts so it stays a path.
    let pq = hyper::http::uri::PathAndQuery::try_from(pq).map_err(|_| ())?;
    let mut parts = hyper::http::uri::Parts::default();
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts).map_err(|_| ())
}

impl Upstream {
    pub fn new(config: &Config) -> Result<Upstream, String> {
        let tls = if config.target.https {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for der in &config.extra_roots {
                roots
                    .add(der.clone())
                    .map_err(|e| format!("extra root certificate rejected: {e}"))?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(config.target.host.clone()).map_err(|_| {
                format!(
                    "PROXY_TARGET_URL host {:?} is not a valid TLS name",
                    config.target.host
                )
            })?;
            Some((TlsConnector::from(Arc::new(tls)), name))
        } else {
            None
        };
        Ok(Upstream {
            target: config.target.clone(),
            tls,
            connect_timeout: config.connect_timeout,
            idle: Mutex::new(VecDeque::new()),
            max_pooled: config.max_connections,
        })
    }

    async fn connect(&self) -> Result<Box<dyn Io>, UpstreamError> {
        let addr = (self.target.host.as_str(), self.target.port);
        let tcp = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(UpstreamError::Timeout),
            Ok(Err(e)) => return Err(UpstreamError::Unreachable(format!("connect: {e}"))),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => {
                match tokio::time::timeout(
                    self.connect_timeout,
                    connector.connect(name.clone(), tcp),
                )
                .await
                {
                    Err(_) => Err(UpstreamError::Timeout),
                    Ok(Err(e)) => Err(UpstreamError::Unreachable(format!("tls: {e}"))),
                    Ok(Ok(s)) => Ok(Box::new(s)),
                }
            }
        }
    }

    async fn open(&self) -> Result<SendRequest<Body>, UpstreamError> {
        let io = TokioIo::new(self.connect().await?);
        let (mut sender, conn) = http1::handshake(io)
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("handshake: {e}")))?;
        // with_upgrades: the same connection can carry a WebSocket handshake and then the tunnel.
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        sender
            .ready()
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("handshake: {e}")))?;
        Ok(sender)
    }

    /// Takes the most recently used idle connection (its socket is the likeliest to be warm and open).
    fn checkout(&self) -> Option<SendRequest<Body>> {
        let mut idle = match self.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        prune(&mut idle, now);
        while let Some((sender, _)) = idle.pop_back() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns a connection whose response has been read to the end; anything else is dropped (closed):
    /// an HTTP/1.1 connection with an unread body or an upgrade cannot carry another request.
    fn checkin(&self, sender: SendRequest<Body>) {
        if !sender.is_ready() {
            return;
        }
        let mut idle = match self.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        prune(&mut idle, now);
        if idle.len() < self.max_pooled {
            idle.push_back((sender, now));
        }
    }

    /// Sends one request; a pooled connection the upstream had closed is replaced transparently (the
    /// request is only retried when hyper says it was never written).
    pub async fn send(
        self: &Arc<Self>,
        mut req: Request<Body>,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        loop {
            let (mut sender, reused) = match self.checkout() {
                Some(s) => (s, true),
                None => (self.open().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let lease = Lease {
                        upstream: Arc::clone(self),
                        sender: Some(sender),
                    };
                    return Ok((resp, lease));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        req = unsent;
                        continue;
                    }
                    _ => {
                        return Err(UpstreamError::Unreachable(format!(
                            "request: {}",
                            e.into_error()
                        )))
                    }
                },
            }
        }
    }
}

/// Drops idle connections that the upstream closed or that waited longer than `IDLE_FOR` (oldest first,
/// so each check is O(1) amortised: every entry is looked at once on its way out).
fn prune(idle: &mut VecDeque<(SendRequest<Body>, Instant)>, now: Instant) {
    while idle
        .front()
        .is_some_and(|(s, since)| s.is_closed() || now.duration_since(*since) >= IDLE_FOR)
    {
        idle.pop_front();
    }
}

/// The connection a response came on. Keep it as long as the response body: dropped after the body was
/// read to the end, it goes back to the pool; dropped earlier, the connection closes.
pub(crate) struct Lease {
    upstream: Arc<Upstream>,
    sender: Option<SendRequest<Body>>,
}

impl Lease {
    /// For a connection that became a tunnel: it never goes back to the pool.
    pub fn discard(mut self) {
        self.sender = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.upstream.checkin(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::request_target;

    #[test]
    fn targets_stay_paths() {
        let u = request_target("//evil.example/x", Some("a=1")).unwrap();
        assert!(u.authority().is_none());
        assert_eq!(u.to_string(), "//evil.example/x?a=1");
        let u = request_target("/@evil.example", None).unwrap();
        assert!(u.authority().is_none());
        assert!(request_target("evil.example", None).is_err());
    }
}
