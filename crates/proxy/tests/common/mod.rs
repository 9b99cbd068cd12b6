//! Test fixtures: a local upstream (hyper) that behaves like a Space app, a proxy started in-process on
//! 127.0.0.1:0 with captured log lines, and a raw HTTP/1.1 client for exact bytes on the wire.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};

pub const TOKEN: &str = "hf_proxytesttoken_5f1c2a9b7e";
pub const CALLER_TOKEN: &str = "hf_callertoken_0d9e8f";

type UpBody = BoxBody<Bytes, Infallible>;

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: HeaderMap,
    pub body_len: usize,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub origin: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Lets `/sse` send its second event.
    pub release: Arc<Notify>,
    flaky: Arc<AtomicUsize>,
    /// TCP connections the upstream has accepted.
    pub accepted: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("upstream saw no request")
    }
}

/// A body fed from a channel, so a test decides when each chunk goes out.
struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);
impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// N bytes of 'x', generated lazily in 64 KiB frames.
struct Repeat(u64);
impl hyper::body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        let n = self.0.min(64 * 1024);
        self.0 -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n as usize])))))
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0)
    }
}

fn full(s: impl Into<Bytes>) -> UpBody {
    Full::new(s.into()).boxed()
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn upstream_handle(
    mut req: Request<Incoming>,
    origin: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
    flaky: Arc<AtomicUsize>,
) -> Result<Response<UpBody>, Infallible> {
    let method = req.method().to_string();
    let target = req.uri().to_string();
    let headers = req.headers().clone();
    let path = req.uri().path().to_owned();
    let q = query_map(req.uri().query());
    let is_upgrade = req.headers().contains_key("upgrade");
    let on_upgrade = is_upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = if path == "/hang" || is_upgrade {
        Bytes::new()
    } else {
        req.into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default()
    };
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        headers: headers.clone(),
        body_len: body.len(),
    });

    let mut resp = Response::new(full(""));
    match path.as_str() {
        "/sse" => {
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send(Bytes::from(format!("data: {{\"root\": \"{origin}\"}}\n\n")));
            tokio::spawn(async move {
                release.notified().await;
                let _ = tx.send(Bytes::from_static(b"data: done\n\n"));
            });
            *resp.body_mut() = ChannelBody(rx).boxed();
            resp.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
        }
        "/ws" => {
            let Some(on_upgrade) = on_upgrade else {
                *resp.status_mut() = hyper::StatusCode::BAD_REQUEST;
                return Ok(resp);
            };
            tokio::spawn(async move {
                if let Ok(up) = on_upgrade.await {
                    let mut io = TokioIo::new(up);
                    let mut buf = [0u8; 4096];
                    loop {
                        match io.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if io.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }
            });
            *resp.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
            let h = resp.headers_mut();
            h.insert("upgrade", "websocket".parse().unwrap());
            h.insert("connection", "Upgrade".parse().unwrap());
            h.insert(
                "sec-websocket-accept",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().unwrap(),
            );
        }
        "/big" => {
            let n: u64 = q.get("bytes").and_then(|v| v.parse().ok()).unwrap_or(1024);
            *resp.body_mut() = Repeat(n).boxed();
        }
        "/hang" => std::future::pending::<()>().await,
        "/redirect-away" => {
            *resp.status_mut() = hyper::StatusCode::FOUND;
            resp.headers_mut().insert(
                "location",
                "http://elsewhere.example/landing".parse().unwrap(),
            );
        }
        "/redirect-self" => {
            *resp.status_mut() = hyper::StatusCode::FOUND;
            resp.headers_mut()
                .insert("location", format!("{origin}/next").parse().unwrap());
        }
        "/json" => {
            let escaped = origin.replace('/', "\\/");
            *resp.body_mut() = full(format!("{{\"root\":\"{origin}\",\"escaped\":\"{escaped}/file=x\",\"other\":\"https://huggingface.co\"}}"));
            resp.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
        }
        "/vnd-json" => {
            // A JSON media type by suffix (RFC 6839), as JSON:API answers.
            *resp.body_mut() = full(format!("{{\"root\":\"{origin}\"}}"));
            resp.headers_mut().insert(
                "content-type",
                "application/vnd.api+json; charset=utf-8".parse().unwrap(),
            );
        }
        "/html" => {
            *resp.body_mut() = full(format!(
                "<html><script src=\"{origin}/assets/app.js\"></script></html>"
            ));
            resp.headers_mut()
                .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        }
        "/plain-origin" => {
            *resp.body_mut() = full(origin.clone());
            resp.headers_mut()
                .insert("content-type", "application/octet-stream".parse().unwrap());
        }
        "/leak" => {
            // What a Space behind the Hub's edge can send back: its session cookie and a signed redirect.
            *resp.status_mut() = hyper::StatusCode::FOUND;
            let h = resp.headers_mut();
            h.append(
                "set-cookie",
                "spaces-jwt=eyJupstream; Path=/; Secure".parse().unwrap(),
            );
            h.append("set-cookie", "route=r2; Path=/".parse().unwrap());
            h.insert(
                "location",
                format!("{origin}/next?__sign=eyJsigned&x=1")
                    .parse()
                    .unwrap(),
            );
        }
        "/cookie" => {
            let h = resp.headers_mut();
            h.append(
                "set-cookie",
                "route=r1; Domain=127.0.0.1; Path=/; HttpOnly"
                    .parse()
                    .unwrap(),
            );
            h.insert(
                "access-control-allow-origin",
                "https://evil.example".parse().unwrap(),
            );
            h.insert("access-control-allow-credentials", "true".parse().unwrap());
            h.insert("x-proxied-host", "10.0.0.7".parse().unwrap());
            h.insert("x-proxied-replica", "abc".parse().unwrap());
            h.insert("x-app", "kept".parse().unwrap());
        }
        "/unavailable" => {
            *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        }
        "/late-unavailable" => {
            // A waking Space that takes 1.3 s to say it is not ready yet.
            tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
            *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        }
        "/flaky" => {
            if flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                *resp.body_mut() = full("waking up");
            } else {
                *resp.body_mut() = full("awake");
            }
        }
        _ => {
            // Echo, like a Space app behind the Hub's edge: the edge strips X-HF-Authorization first.
            let mut out = format!("{method} {target}\n");
            for (k, v) in &headers {
                if k == "x-hf-authorization" || k == "authorization" {
                    continue;
                }
                out.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("?")));
            }
            out.push_str(&format!("body-bytes: {}\n", body.len()));
            *resp.body_mut() = full(out);
            resp.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
        }
    }
    Ok(resp)
}

pub async fn start_upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let origin = format!("http://{addr}");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let release = Arc::new(Notify::new());
    let flaky = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (s, r, f, o) = (seen.clone(), release.clone(), flaky.clone(), origin.clone());
    let a = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (s, r, f, o) = (s.clone(), r.clone(), f.clone(), o.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    upstream_handle(req, o.clone(), s.clone(), r.clone(), f.clone())
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Upstream {
        addr,
        origin,
        seen,
        release,
        flaky,
        accepted,
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Stops the proxy, waits for it, and checks that no log line ever held a token.
    pub async fn stop(mut self) -> Vec<String> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            d.await.unwrap().unwrap();
        }
        let logs = self.logs();
        for line in &logs {
            assert!(!line.contains(TOKEN), "token in log line: {line}");
            assert!(
                !line.contains(CALLER_TOKEN),
                "caller token in log line: {line}"
            );
        }
        logs
    }
}

/// Starts the proxy in front of `target` with `PROXY_HF_TOKEN=TOKEN` plus `extra` variables.
pub async fn start_proxy(target: &str, extra: &[(&str, &str)]) -> Proxy {
    let mut vars: Vec<(String, String)> = vec![
        ("PROXY_TARGET_URL".into(), target.into()),
        ("PROXY_HF_TOKEN".into(), TOKEN.into()),
        (
            "PROXY_PUBLIC_ORIGIN".into(),
            "https://alice-app-proxy.hf.space".into(),
        ),
        ("PROXY_WAKE_RETRY_SECS".into(), "0".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    let config = hf_space_proxy::Config::from_map(vars)
        .unwrap()
        .with_log_sink(Arc::new(move |line: &str| {
            sink.lock().unwrap().push(line.to_owned())
        }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(hf_space_proxy::serve(config, listener, async move {
        let _ = rx.await;
    }));
    Proxy {
        addr,
        logs,
        stop: Some(tx),
        done: Some(done),
    }
}

/// A parsed response from the raw client.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(b, b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..eol])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// Parses a complete response (head + body as read until EOF).
pub fn parse(raw: &[u8]) -> Raw {
    let end = find(raw, b"\r\n\r\n").expect("no header end");
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Raw {
        status,
        headers,
        body,
    }
}

/// Sends exact bytes (the request should say `Connection: close`), reads to EOF, and checks that no
/// token appears anywhere in the response.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains(TOKEN), "token in a response: {text}");
    assert!(
        !text.contains(CALLER_TOKEN),
        "caller token in a response: {text}"
    );
    parse(&buf)
}

/// `GET path` with extra header lines (each ending in \r\n).
pub async fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> Raw {
    let req = format!("GET {path} HTTP/1.1\r\nHost: alice-app-proxy.hf.space\r\n{extra_headers}Connection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

/// Reads from `s` into `buf` until `needle` appears.
pub async fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) {
    let mut chunk = [0u8; 8192];
    while find(buf, needle).is_none() {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "EOF before {:?}; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}
