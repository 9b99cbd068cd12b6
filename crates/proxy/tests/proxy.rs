//! Behaviour of the proxy against a local upstream: header policy, streaming, WebSockets, CORS, errors,
//! limits, SSRF attempts and origin rewriting. Every response is checked for the token (see `raw`), and
//! every proxy's log lines when it stops.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn injects_token_and_strips_caller_credentials() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(
        proxy.addr,
        "/echo?x=1&__sign=signed.jwt&y=2",
        &format!(
            "Authorization: Bearer {CALLER_TOKEN}\r\nX-HF-Authorization: Bearer {CALLER_TOKEN}\r\n\
             Proxy-Authorization: Basic Zm9vOmJhcg==\r\nX-IP-Token: iptok\r\nCookie: a=1; spaces-jwt=eyJcaller; b=2\r\n\
             Connection: x-hop-secret\r\nX-Hop-Secret: 1\r\nX-Forwarded-Host: evil.example\r\nKeep-Alive: timeout=5\r\n\
             Accept-Encoding: gzip\r\nX-App-Header: kept\r\n"
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = up.last();
    let h = &seen.headers;
    assert_eq!(h["x-hf-authorization"], format!("Bearer {TOKEN}").as_str());
    assert!(h.get("authorization").is_none());
    assert!(h.get("proxy-authorization").is_none());
    assert!(h.get("x-ip-token").is_none());
    assert!(h.get("x-hop-secret").is_none());
    assert!(h.get("keep-alive").is_none());
    assert_eq!(h["cookie"], "a=1; b=2");
    assert_eq!(seen.target, "/echo?x=1&y=2");
    assert_eq!(h["host"], up.addr.to_string().as_str());
    assert_eq!(h["x-forwarded-host"], "alice-app-proxy.hf.space");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["accept-encoding"], "identity");
    assert_eq!(h["x-app-header"], "kept");
    proxy.stop().await;
}

#[tokio::test]
async fn token_header_can_be_authorization() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_TOKEN_HEADER", "authorization")]).await;
    let r = get(
        proxy.addr,
        "/echo",
        &format!("Authorization: Bearer {CALLER_TOKEN}\r\n"),
    )
    .await;
    assert_eq!(r.status, 200);
    let h = up.last().headers;
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}").as_str());
    assert!(h.get("x-hf-authorization").is_none());
    proxy.stop().await;
}

#[tokio::test]
async fn response_headers_are_cleaned() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(proxy.addr, "/cookie", "Origin: https://caller.example\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), Some("route=r1; Path=/; HttpOnly"));
    assert!(r.header("x-proxied-host").is_none());
    assert!(r.header("x-proxied-replica").is_none());
    assert_eq!(r.headers_named("access-control-allow-origin"), vec!["*"]);
    assert!(r.header("access-control-allow-credentials").is_none());
    assert_eq!(r.header("x-app"), Some("kept"));
    proxy.stop().await;
}

#[tokio::test]
async fn sse_event_arrives_before_upstream_finishes() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(
        b"GET /sse HTTP/1.1\r\nHost: p\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    // The upstream holds its second event until `release`: the first must already be here.
    read_until(&mut s, &mut buf, b"}\n\n").await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.contains("data: {\"root\": \"https://alice-app-proxy.hf.space\"}"),
        "{text}"
    );
    assert!(!text.contains(&up.origin), "private origin leaked: {text}");
    assert!(!text.contains("done"));
    up.release.notify_one();
    read_until(&mut s, &mut buf, b"data: done\n\n").await;
    proxy.stop().await;
}

#[tokio::test]
async fn websocket_echo_through_tunnel() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(
        format!(
            "GET /ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {CALLER_TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await;
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let seen = up.last();
    assert_eq!(
        seen.headers["x-hf-authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(
        seen.headers["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    // A masked text frame "hi", then plain bytes: the tunnel is byte-transparent both ways.
    let frame = [0x81u8, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    for msg in [&frame[..], b"second message"] {
        s.write_all(msg).await.unwrap();
        let mut echoed = Vec::new();
        read_until(&mut s, &mut echoed, msg).await;
        assert_eq!(echoed, msg);
    }
    drop(s);
    proxy.stop().await;
}

#[tokio::test]
async fn cors_preflight_answered_locally() {
    let up = start_upstream().await;
    let proxy = start_proxy(
        &up.origin,
        &[(
            "PROXY_ALLOW_ORIGINS",
            "https://app.example, https://other.example",
        )],
    )
    .await;
    let pre = |origin: &'static str| {
        format!(
            "OPTIONS /gradio_api/queue/join HTTP/1.1\r\nHost: p\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        )
    };
    let r = raw(proxy.addr, pre("https://app.example").as_bytes()).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
    let r = raw(proxy.addr, pre("https://evil.example").as_bytes()).await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(
        up.seen().is_empty(),
        "preflights must not reach the upstream"
    );
    // A real request from an allowed origin gets our headers, not the upstream's.
    let r = get(proxy.addr, "/cookie", "Origin: https://other.example\r\n").await;
    assert_eq!(
        r.headers_named("access-control-allow-origin"),
        vec!["https://other.example"]
    );
    let r = get(proxy.addr, "/cookie", "Origin: https://evil.example\r\n").await;
    assert!(r.header("access-control-allow-origin").is_none());
    proxy.stop().await;
}

fn assert_json_error(r: &Raw, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let t = r.text();
    assert!(
        t.starts_with('{') && t.contains(&format!("\"error\":\"{code}\"")),
        "{t}"
    );
    assert!(!t.contains("127.0.0.1"), "upstream internals in error: {t}");
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    // A port that was just free: nothing listens there.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let proxy = start_proxy(&dead, &[]).await;
    let r = get(proxy.addr, "/anything", "").await;
    assert_json_error(&r, 502, "upstream_unreachable");
    let r = raw(
        proxy.addr,
        b"POST /x HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    .await;
    assert_json_error(&r, 502, "upstream_unreachable");
    let logs = proxy.stop().await;
    assert!(
        logs.iter().any(|l| l.contains("upstream unreachable")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_TTFB_TIMEOUT_SECS", "1")]).await;
    let r = get(proxy.addr, "/hang", "").await;
    assert_json_error(&r, 504, "upstream_timeout");
    let r = raw(
        proxy.addr,
        b"POST /hang HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    .await;
    assert_json_error(&r, 504, "upstream_timeout");
    proxy.stop().await;
}

#[tokio::test]
async fn bodies_over_the_cap_are_413() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_MAX_BODY_BYTES", "1000")]).await;
    // Declared too large: refused before anything is read or sent.
    let r = raw(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 1001\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_json_error(&r, 413, "payload_too_large");
    assert!(up.seen().is_empty());
    // Chunked: cut while streaming.
    let mut req = b"POST /echo HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"190\r\n");
        req.extend_from_slice(&[b'a'; 400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = raw(proxy.addr, &req).await;
    assert_json_error(&r, 413, "payload_too_large");
    // Exactly the cap passes.
    let mut at_cap =
        b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
            .to_vec();
    at_cap.extend_from_slice(&[b'a'; 1000]);
    let r = raw(proxy.addr, &at_cap).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("body-bytes: 1000"));
    // Under the cap passes.
    let r = raw(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("body-bytes: 5"));
    proxy.stop().await;
}

#[tokio::test]
async fn rate_limit_is_per_caller_on_last_forwarded_for() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_RATE_LIMIT", "0.01:2")]).await;
    let from = |ip: &str| format!("X-Forwarded-For: 9.9.9.9, {ip}\r\n");
    assert_eq!(get(proxy.addr, "/echo", &from("1.1.1.1")).await.status, 200);
    assert_eq!(get(proxy.addr, "/echo", &from("1.1.1.1")).await.status, 200);
    let r = get(proxy.addr, "/echo", &from("1.1.1.1")).await;
    assert_json_error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Forging the first entry does not help: the key is the last one.
    let r = get(proxy.addr, "/echo", "X-Forwarded-For: 5.5.5.5, 1.1.1.1\r\n").await;
    assert_eq!(r.status, 429);
    // Another caller has its own bucket.
    assert_eq!(get(proxy.addr, "/echo", &from("2.2.2.2")).await.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn ssrf_attempts_stay_on_the_fixed_upstream() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let cases: [(&str, &str); 5] = [
        ("GET //evil.example/x HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n", "//evil.example/x"),
        ("GET http://evil.example/abs?q=1 HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n", "/abs?q=1"),
        ("GET /hosthdr HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", "/hosthdr"),
        ("GET /@evil.example/x HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n", "/@evil.example/x"),
        ("GET http://user@evil.example:80/at HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", "/at"),
    ];
    for (req, expected_target) in cases {
        let before = up.seen().len();
        let r = raw(proxy.addr, req.as_bytes()).await;
        let seen = up.seen();
        if r.status == 400 {
            // hyper may refuse a malformed request line itself; then nothing went anywhere.
            assert_eq!(seen.len(), before, "{req}");
            continue;
        }
        assert_eq!(r.status, 200, "{req}: {}", r.text());
        let last = seen.last().unwrap();
        assert_eq!(last.target, expected_target, "{req}");
        assert_eq!(last.headers["host"], up.addr.to_string().as_str(), "{req}");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn traversal_and_smuggling_are_refused() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    for path in [
        "/a/../echo",
        "/a/%2e%2e/echo",
        "/a/%2E%2E/echo",
        "/a/%252e%252e/echo",
        "/a%5c..%5cecho",
        "/./echo",
    ] {
        let r = get(proxy.addr, path, "").await;
        assert_json_error(&r, 400, "bad_path");
    }
    let r = raw(
        proxy.addr,
        b"GET /a\\b HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = raw(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = raw(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        up.seen().is_empty(),
        "refused requests reached the upstream: {:?}",
        up.seen()
    );
    proxy.stop().await;
}

#[tokio::test]
async fn redirect_to_another_host_is_passed_back_not_followed() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(proxy.addr, "/redirect-away", "").await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("http://elsewhere.example/landing")
    );
    assert_eq!(up.seen().len(), 1);
    let r = get(proxy.addr, "/redirect-self", "").await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("https://alice-app-proxy.hf.space/next")
    );
    proxy.stop().await;
}

#[tokio::test]
async fn private_origin_is_rewritten_in_json_and_html() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let r = get(proxy.addr, "/json", "").await;
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(
        t.contains("\"root\":\"https://alice-app-proxy.hf.space\""),
        "{t}"
    );
    assert!(
        t.contains("\"escaped\":\"https:\\/\\/alice-app-proxy.hf.space/file=x\""),
        "{t}"
    );
    assert!(t.contains("https://huggingface.co"), "{t}");
    assert!(!t.contains(&up.addr.to_string()), "{t}");
    let r = get(proxy.addr, "/vnd-json", "").await;
    assert_eq!(
        r.text(),
        "{\"root\":\"https://alice-app-proxy.hf.space\"}",
        "a +json media type is JSON"
    );
    let r = get(proxy.addr, "/html", "").await;
    assert!(
        r.text()
            .contains("src=\"https://alice-app-proxy.hf.space/assets/app.js\""),
        "{}",
        r.text()
    );
    // Other content types are passed through untouched.
    let r = get(proxy.addr, "/plain-origin", "").await;
    assert_eq!(r.text(), up.origin);
    proxy.stop().await;
}

#[tokio::test]
async fn without_a_public_origin_urls_pass_unchanged() {
    // No PROXY_PUBLIC_ORIGIN or SPACE_HOST: the caller's `Host` must not pick the origin written into
    // responses, so nothing is rewritten.
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_PUBLIC_ORIGIN", "")]).await;
    let r = get(proxy.addr, "/json", "").await;
    assert!(
        r.text().contains(&format!("\"root\":\"{}\"", up.origin)),
        "{}",
        r.text()
    );
    proxy.stop().await;
}

#[tokio::test]
async fn gradio_preset_allows_gradio_paths_only() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_PATH_PRESET", "gradio")]).await;
    for ok in [
        "/",
        "/config",
        "/gradio_api/info",
        "/queue/join",
        "/call/predict",
        "/upload",
        "/file=/tmp/a.png",
        "/heartbeat/x",
        "/assets/a.js",
    ] {
        assert_eq!(get(proxy.addr, ok, "").await.status, 200, "{ok}");
    }
    let before = up.seen().len();
    for bad in [
        "/admin",
        "/echo",
        "/proxy=https://evil.example",
        "/gradio_api/proxy=https://evil.example",
        "/file=http://169.254.169.254/latest",
        "/gradio_api/file=https%3A//evil.example/x",
        "//config",
    ] {
        let r = get(proxy.addr, bad, "").await;
        assert_json_error(&r, 403, "path_not_allowed");
    }
    assert_eq!(up.seen().len(), before);
    proxy.stop().await;
}

#[tokio::test]
async fn api_keys_are_required_when_configured() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_API_KEYS", "key-one, key-two")]).await;
    assert_json_error(&get(proxy.addr, "/echo", "").await, 401, "unauthorized");
    assert_json_error(
        &get(proxy.addr, "/echo", "X-Proxy-Key: key-on\r\n").await,
        401,
        "unauthorized",
    );
    assert_json_error(
        &get(proxy.addr, "/echo", "X-Proxy-Key: key-one2\r\n").await,
        401,
        "unauthorized",
    );
    assert!(up.seen().is_empty());
    let r = get(proxy.addr, "/echo", "X-Proxy-Key: key-two\r\n").await;
    assert_eq!(r.status, 200);
    assert!(
        up.last().headers.get("x-proxy-key").is_none(),
        "the caller's key must not reach the app"
    );
    // Liveness needs no key.
    assert_eq!(get(proxy.addr, "/.proxy/healthz", "").await.status, 200);
    let logs = proxy.stop().await;
    assert!(logs.iter().all(|l| !l.contains("key-two")), "{logs:?}");
}

#[tokio::test]
async fn healthz_never_calls_upstream_and_readyz_probes() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    for _ in 0..3 {
        let r = get(proxy.addr, "/.proxy/healthz", "").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "{\"status\":\"ok\"}");
    }
    assert!(up.seen().is_empty());
    assert_eq!(get(proxy.addr, "/.proxy/readyz", "").await.status, 200);
    assert_eq!(get(proxy.addr, "/.proxy/readyz", "").await.status, 200);
    assert_eq!(up.seen().len(), 1, "readiness is cached");
    assert_eq!(
        up.last().headers["x-hf-authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(get(proxy.addr, "/.proxy/other", "").await.status, 404);
    proxy.stop().await;

    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let proxy = start_proxy(&dead, &[]).await;
    assert_eq!(get(proxy.addr, "/.proxy/readyz", "").await.status, 503);
    assert_eq!(get(proxy.addr, "/.proxy/healthz", "").await.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let n = 32 * 1024 * 1024;
    let r = get(proxy.addr, &format!("/big?bytes={n}"), "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), n);
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    let up_len = 8 * 1024 * 1024;
    s.write_all(format!("PUT /echo HTTP/1.1\r\nHost: p\r\nContent-Length: {up_len}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let chunk = vec![b'u'; 64 * 1024];
    for _ in 0..up_len / chunk.len() {
        s.write_all(&chunk).await.unwrap();
    }
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, format!("body-bytes: {up_len}").as_bytes()).await;
    proxy.stop().await;
}

#[tokio::test]
async fn waking_upstream_is_retried_for_idempotent_requests() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_WAKE_RETRY_SECS", "20")]).await;
    // POST is never replayed: the first 503 goes straight back.
    let r = raw(
        proxy.addr,
        b"POST /flaky HTTP/1.1\r\nHost: p\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    )
    .await;
    assert_eq!(r.status, 503);
    let r = get(proxy.addr, "/flaky", "X-Keep: 1\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "awake");
    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    // Every attempt carries the whole request: the first (a copy kept for the retry) and the retry.
    for s in &seen[1..] {
        assert_eq!((s.method.as_str(), s.target.as_str()), ("GET", "/flaky"));
        assert_eq!(
            s.headers["x-hf-authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(s.headers["x-keep"], "1");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn with_retries_off_a_request_is_sent_once_and_whole() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_WAKE_RETRY_SECS", "0")]).await;
    let r = get(proxy.addr, "/flaky", "X-Keep: 1\r\n").await;
    assert_eq!(r.status, 503);
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/flaky");
    assert_eq!(
        seen[0].headers["x-hf-authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(seen[0].headers["x-keep"], "1");
    proxy.stop().await;
}

#[tokio::test]
async fn wake_retries_stop_at_their_deadline_and_never_replay_bodies() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_WAKE_RETRY_SECS", "1")]).await;
    // Tries at 0, 0.25 and 0.75 s; the next backoff (1 s) would end past the 1 s budget.
    let r = get(proxy.addr, "/unavailable", "").await;
    assert_eq!(r.status, 503);
    let tries = up.seen().len();
    assert!((1..=3).contains(&tries), "{tries} tries in a 1 s budget");
    // A GET with a body is forwarded once, body included: it is not replayable.
    let r = raw(
        proxy.addr,
        b"GET /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert!(r.text().contains("body-bytes: 5"), "{}", r.text());
    proxy.stop().await;
}

#[tokio::test]
async fn an_attempt_that_ends_past_the_deadline_is_the_last() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_WAKE_RETRY_SECS", "1")]).await;
    // The first attempt starts with a retry still possible (0.25 s of backoff fits the 1 s budget) but its 503
    // comes at 1.3 s: no retry may start after the deadline.
    let r = get(proxy.addr, "/late-unavailable", "").await;
    assert_eq!(r.status, 503);
    assert_eq!(up.seen().len(), 1, "a retry started past the deadline");
    proxy.stop().await;
}

#[tokio::test]
async fn connection_cap_answers_503() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_MAX_CONNECTIONS", "1")]).await;
    // Hold the only slot with a keep-alive connection that has completed one request.
    let mut held = TcpStream::connect(proxy.addr).await.unwrap();
    held.write_all(b"GET /echo HTTP/1.1\r\nHost: p\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut held, &mut buf, b"body-bytes: 0\n").await;
    let r = get(proxy.addr, "/echo", "").await;
    assert_json_error(&r, 503, "overloaded");
    drop(held);
    proxy.stop().await;
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let big = "a".repeat(hf_space_proxy::MAX_HEADER_BYTES + 10);
    let r = get(proxy.addr, "/echo", &format!("X-Big: {big}\r\n")).await;
    assert_eq!(r.status, 431);
    assert!(up.seen().is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn keep_alive_reuses_upstream_connections() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    for i in 0..20 {
        let r = get(proxy.addr, &format!("/echo?i={i}"), "").await;
        assert_eq!(r.status, 200);
        assert!(r.text().starts_with(&format!("GET /echo?i={i}\n")));
    }
    // Each response was read to its end before the next request: one upstream connection served all.
    let accepted = up.accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(accepted, 1, "upstream connections opened");
    proxy.stop().await;
}

#[tokio::test]
async fn streams_are_cut_by_idle_timeout_and_by_max_lifetime() {
    for limit in [
        ("PROXY_IDLE_TIMEOUT_SECS", "1"),
        ("PROXY_MAX_STREAM_SECS", "1"),
    ] {
        let up = start_upstream().await;
        let proxy = start_proxy(&up.origin, &[limit]).await;
        let mut s = TcpStream::connect(proxy.addr).await.unwrap();
        s.write_all(b"GET /sse HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        read_until(&mut s, &mut buf, b"}\n\n").await;
        // The upstream never sends its second event (no release): the proxy must end the stream itself.
        let mut rest = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest);
        let closed = tokio::time::timeout(std::time::Duration::from_secs(20), read).await;
        assert!(closed.is_ok(), "{limit:?}: the stream was not cut");
        assert!(!String::from_utf8_lossy(&rest).contains("done"));
        proxy.stop().await;
    }
}

#[tokio::test]
async fn shutdown_drains_in_flight_streams() {
    let up = start_upstream().await;
    let draining = std::sync::Arc::new(tokio::sync::Notify::new());
    let seen_drain = draining.clone();
    let config = hf_space_proxy::Config::from_map([
        ("PROXY_TARGET_URL", up.origin.as_str()),
        ("PROXY_HF_TOKEN", TOKEN),
    ])
    .unwrap()
    .with_log_sink(std::sync::Arc::new(move |line: &str| {
        if line.contains("shutting down") {
            seen_drain.notify_one();
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hf_space_proxy::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /sse HTTP/1.1\r\nHost: p\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"}\n\n").await;
    stop.send(()).unwrap();
    // Only once the proxy is draining does the upstream finish its stream: it must still reach the caller.
    draining.notified().await;
    assert!(!server.is_finished());
    up.release.notify_one();
    read_until(&mut s, &mut buf, b"data: done\n\n").await;
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn expect_continue_is_answered_by_the_proxy() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[]).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"100 Continue\r\n\r\n").await;
    s.write_all(b"hello").await.unwrap();
    read_until(&mut s, &mut buf, b"body-bytes: 5\n").await;
    assert!(up.last().headers.get("expect").is_none());
    proxy.stop().await;
}

#[tokio::test]
async fn idle_websocket_tunnel_is_closed() {
    let up = start_upstream().await;
    let proxy = start_proxy(&up.origin, &[("PROXY_IDLE_TIMEOUT_SECS", "1")]).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await;
    s.write_all(b"ping").await.unwrap();
    read_until(&mut s, &mut buf, b"ping").await;
    let mut rest = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(20), read).await;
    assert!(closed.is_ok(), "an idle tunnel was not closed");
    let logs = proxy.stop().await;
    assert!(
        logs.iter().any(|l| l.contains("websocket tunnel closed")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn websocket_origins_are_checked_and_renamed() {
    let up = start_upstream().await;
    let proxy = start_proxy(
        &up.origin,
        &[("PROXY_ALLOW_ORIGINS", "https://app.example")],
    )
    .await;
    let handshake = |origin: &str| {
        format!("GET /ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nOrigin: {origin}\r\n\r\n")
    };
    // Another site's page must not open a tunnel that carries the proxy's token.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(handshake("https://evil.example").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await;
    assert!(
        buf.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert!(up.seen().is_empty());
    // The proxy's own page (its public origin) may, and the app sees its own origin, matching `Host`.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(handshake("https://alice-app-proxy.hf.space").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await;
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(up.last().headers["origin"], up.origin.as_str());
    // A listed origin passes unchanged.
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(handshake("https://app.example").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await;
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(up.last().headers["origin"], "https://app.example");
    proxy.stop().await;
}
