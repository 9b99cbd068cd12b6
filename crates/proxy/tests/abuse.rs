//! The proxy under abuse (issue 15): one anonymous caller must not deny service, tunnel past the path
//! preset, grow the rate limiter's table, or confuse the framing guard. Timeouts are configured small
//! (1 s) so nothing here sleeps to synchronise; the `timeout`s below are upper bounds for a hung proxy.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads a whole response (the proxy closes the connection after it), failing after `secs`.
async fn response_within(s: &mut TcpStream, secs: u64) -> Raw {
    let mut buf = Vec::new();
    let read = s.read_to_end(&mut buf);
    match tokio::time::timeout(Duration::from_secs(secs), read).await {
        Ok(_) => parse(&buf),
        Err(_) => panic!(
            "no complete response within {secs} s; got {:?}",
            String::from_utf8_lossy(&buf)
        ),
    }
}

fn code_of(r: &Raw) -> String {
    r.text()
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_and_others_keep_working() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_BODY_TIMEOUT_SECS", "1")]).await;
    let mut slow = TcpStream::connect(proxy.addr).await.unwrap();
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    // Another caller is served while the stalled body holds its connection.
    assert_eq!(get(proxy.addr, "/echo", "").await.status, 200);
    let r = response_within(&mut slow, 15).await;
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(code_of(&r).contains("\"error\":\"request_timeout\""));
    proxy.stop().await;
}

#[tokio::test]
async fn a_trickled_request_body_is_cut_by_the_minimum_rate() {
    let up = start_upstream().await;
    let proxy = start_proxy(
        &up.origin,
        &[
            ("PROXY_BODY_TIMEOUT_SECS", "1"),
            ("PROXY_MIN_BODY_RATE", "1000"),
        ],
    )
    .await;
    let s = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    // One byte every 100 ms: never idle for the 1 s gap, but far below 1000 bytes/s.
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut buf = Vec::new();
    let read = rd.read_to_end(&mut buf);
    let done = tokio::time::timeout(Duration::from_secs(15), read).await;
    trickle.abort();
    assert!(done.is_ok(), "a trickled body was not cut");
    let r = parse(&buf);
    assert_eq!(r.status, 408, "{}", r.text());
    proxy.stop().await;
}

/// Opens a POST whose body the proxy has started reading (it answered `100 Continue`) and keeps it open.
async fn held_upload(addr: std::net::SocketAddr, from: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: p\r\nX-Forwarded-For: {from}\r\nContent-Length: 5\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"100 Continue\r\n\r\n").await;
    s
}

#[tokio::test]
async fn one_caller_cannot_take_every_slot() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_MAX_CONNECTIONS_PER_CALLER", "2")]).await;
    let mut first = held_upload(proxy.addr, "1.1.1.1").await;
    let _second = held_upload(proxy.addr, "1.1.1.1").await;
    let r = get(proxy.addr, "/echo", "X-Forwarded-For: 1.1.1.1\r\n").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("\"error\":\"too_many_connections\""));
    assert_eq!(r.header("connection"), Some("close"));
    // Everyone else keeps working.
    let r = get(proxy.addr, "/echo", "X-Forwarded-For: 2.2.2.2\r\n").await;
    assert_eq!(r.status, 200);
    // A finished request gives its slot back.
    first.write_all(b"hello").await.unwrap();
    let r = response_within(&mut first, 15).await;
    assert_eq!(r.status, 200);
    let r = get(proxy.addr, "/echo", "X-Forwarded-For: 1.1.1.1\r\n").await;
    assert_eq!(r.status, 200, "{}", r.text());
    proxy.stop().await;
}

#[tokio::test]
async fn only_websocket_upgrades_are_tunnelled() {
    let up = start_upstream().await;
    let h2c = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: p\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
        )
    };
    let proxy = start_proxy(&up.origin, &[]).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(h2c("/ws").as_bytes()).await.unwrap();
    let r = response_within(&mut s, 15).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let proxy2 = start_proxy(&up.origin, &[("PROXY_PATH_PRESET", "gradio")]).await;
    let mut s = TcpStream::connect(proxy2.addr).await.unwrap();
    s.write_all(h2c("/queue/join").as_bytes()).await.unwrap();
    let r = response_within(&mut s, 15).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        up.seen().is_empty(),
        "a non-WebSocket upgrade reached the upstream"
    );
    proxy.stop().await;
    proxy2.stop().await;
}

#[tokio::test]
async fn rate_limit_groups_callers_by_address() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_RATE_LIMIT", "0.01:2")]).await;
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    // A port does not make a new caller.
    assert_eq!(
        get(proxy.addr, "/echo", &from("1.1.1.1:1")).await.status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/echo", &from("1.1.1.1:2")).await.status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/echo", &from("1.1.1.1:3")).await.status,
        429
    );
    assert_eq!(get(proxy.addr, "/echo", &from("1.1.1.1")).await.status, 429);
    // IPv6 callers are their /64.
    assert_eq!(
        get(proxy.addr, "/echo", &from("2001:db8:1:2::1"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/echo", &from("[2001:db8:1:2::2]:443"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/echo", &from("2001:db8:1:2:ffff::3"))
            .await
            .status,
        429
    );
    assert_eq!(
        get(proxy.addr, "/echo", &from("2001:db8:1:3::1"))
            .await
            .status,
        200
    );
    proxy.stop().await;
}

#[tokio::test]
async fn rate_limit_counts_refusals_and_operations_paths() {
    let up = start_upstream().await;
    let proxy = start_proxy(
        &up.origin,
        &[("PROXY_RATE_LIMIT", "0.01:2"), ("PROXY_API_KEYS", "k1")],
    )
    .await;
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    assert_eq!(
        get(proxy.addr, "/.proxy/healthz", &from("3.3.3.3"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/.proxy/healthz", &from("3.3.3.3"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/.proxy/healthz", &from("3.3.3.3"))
            .await
            .status,
        429
    );
    assert_eq!(get(proxy.addr, "/echo", &from("4.4.4.4")).await.status, 401);
    assert_eq!(get(proxy.addr, "/echo", &from("4.4.4.4")).await.status, 401);
    assert_eq!(get(proxy.addr, "/echo", &from("4.4.4.4")).await.status, 429);
    proxy.stop().await;
}

#[tokio::test]
async fn the_framing_guard_judges_request_heads_only() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let inner = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
    // A body that looks like an ambiguous head, in the same read as its own head.
    let mut req = format!(
        "POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        inner.len()
    )
    .into_bytes();
    req.extend_from_slice(inner);
    let r = raw(proxy.addr, &req).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The same body in a later read must not fail the next request on the connection.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(
        format!(
            "POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            inner.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"100 Continue\r\n\r\n").await;
    s.write_all(inner).await.unwrap();
    read_until(
        &mut s,
        &mut buf,
        format!("body-bytes: {}\n", inner.len()).as_bytes(),
    )
    .await;
    s.write_all(b"GET /echo HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    let r = parse(&rest);
    assert_eq!(r.status, 200, "{}", r.text());
    // A chunked body that looks like a head passes too.
    let mut req =
        b"POST /echo HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    req.extend_from_slice(format!("{:x}\r\n", inner.len()).as_bytes());
    req.extend_from_slice(inner);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = raw(proxy.addr, &req).await;
    assert_eq!(r.status, 200, "{}", r.text());
    proxy.stop().await;
}

#[tokio::test]
async fn readyz_requires_the_key_when_keys_are_on() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_API_KEYS", "k1")]).await;
    let r = get(proxy.addr, "/.proxy/readyz", "").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        up.seen().is_empty(),
        "an anonymous readyz woke the upstream"
    );
    assert_eq!(
        get(proxy.addr, "/.proxy/readyz", "X-Proxy-Key: k1\r\n")
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.addr, "/.proxy/readyz", "X-Proxy-Key: k1\r\n")
            .await
            .status,
        200
    );
    assert_eq!(up.seen().len(), 1, "readiness is cached");
    // Liveness stays open.
    assert_eq!(get(proxy.addr, "/.proxy/healthz", "").await.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn sign_param_is_stripped_in_every_spelling() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(
        proxy.addr,
        "/echo?a=1&__%73ign=x&__SIGN=y&%5f%5FSiGn=z&b=2",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(up.last().target, "/echo?a=1&b=2");
    proxy.stop().await;
}

#[tokio::test]
async fn upstream_session_cookie_and_signed_location_never_reach_callers() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(proxy.addr, "/leak", "").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.headers_named("set-cookie"), vec!["route=r2; Path=/"]);
    assert_eq!(
        r.header("location"),
        Some("https://alice-app-proxy.hf.space/next?x=1")
    );
    proxy.stop().await;
}

#[tokio::test]
async fn trace_is_refused() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = raw(
        proxy.addr,
        b"TRACE /echo HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.text());
    assert!(up.seen().is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn bad_chunked_framing_from_the_client_is_400() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = raw(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhi\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    proxy.stop().await;
}

#[tokio::test]
async fn two_origin_or_two_host_headers_are_400() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = raw(
        proxy.addr,
        b"GET /echo HTTP/1.1\r\nHost: p\r\nOrigin: https://a.example\r\nOrigin: https://b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = raw(
        proxy.addr,
        b"GET /echo HTTP/1.1\r\nHost: p\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(up.seen().is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn the_callers_host_never_chooses_the_rewritten_origin() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_PUBLIC_ORIGIN", "")]).await;
    let r = raw(
        proxy.addr,
        b"GET /json HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("evil.example"), "{}", r.text());
    assert!(up.last().headers.get("x-forwarded-host").is_none());
    proxy.stop().await;
}

#[tokio::test]
async fn the_access_log_never_holds_raw_forwarded_for_text() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(
        proxy.addr,
        "/echo",
        "X-Forwarded-For: 1.1.1.1 \"GET /admin HTTP/1.1\" 200 0ms\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    let logs = proxy.stop().await;
    assert!(logs.iter().all(|l| !l.contains("/admin")), "{logs:?}");
    assert!(
        logs.iter().any(|l| l.contains("\"GET /echo\" 200")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn asterisk_and_authority_targets_never_reach_the_upstream() {
    // Only origin-form (`/path`) and absolute-form (`http://host/path`) targets are forwarded: `OPTIONS *` and an
    // authority-form target (CONNECT's) are refused before anything is sent.
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    for request in [
        &b"OPTIONS * HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n"[..],
        &b"GET example.com:443 HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n"[..],
    ] {
        let r = raw(proxy.addr, request).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert!(up.seen().is_empty());
    proxy.stop().await;
}
