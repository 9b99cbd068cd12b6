//! Spaces: stage machine, secrets and variables, logs, and the per-Space app.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn stage(api: &Api<'_>, id: &str) -> (String, Option<String>) {
    let v: Value = api
        .get(&format!("/api/spaces/{id}/runtime"))
        .await
        .json()
        .await
        .expect("json");
    assert!(v["hardware"].is_object(), "hardware must be an object: {v}");
    (
        v["stage"].as_str().expect("stage").to_string(),
        v["errorMessage"].as_str().map(str::to_string),
    )
}

#[tokio::test]
async fn stage_machine_follows_commits() {
    let emu = builder().build_polls(2).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/app", "space", false, Some("docker"))
            .await,
        StatusCode::OK,
    );
    // A fresh docker Space has no Dockerfile.
    assert_eq!(stage(&api, "alice/app").await.0, "BUILDING");
    assert_eq!(stage(&api, "alice/app").await.0, "BUILDING");
    assert_eq!(stage(&api, "alice/app").await.0, "NO_APP_FILE");
    let readme = b"---\nsdk: docker\napp_port: 7860\n---\n";
    api.commit(
        "spaces",
        "alice/app",
        None,
        &[
            file_line("Dockerfile", b"FROM x\n"),
            file_line("README.md", readme),
        ],
    )
    .await;
    assert_eq!(emu.space_stage("alice/app").as_deref(), Some("BUILDING"));
    let seen: Vec<String> = [0, 1, 2, 3].iter().map(|_| String::new()).collect();
    let mut stages = seen;
    for s in stages.iter_mut() {
        *s = stage(&api, "alice/app").await.0;
    }
    assert_eq!(stages, ["BUILDING", "BUILDING", "RUNNING", "RUNNING"]);
    // README without sdk → CONFIG_ERROR.
    api.commit(
        "spaces",
        "alice/app",
        None,
        &[file_line("README.md", b"# no front matter\n")],
    )
    .await;
    for _ in 0..2 {
        stage(&api, "alice/app").await;
    }
    let (s, err) = stage(&api, "alice/app").await;
    assert_eq!(s, "CONFIG_ERROR");
    assert!(err.expect("errorMessage").contains("sdk"));
    // BUILD_ERROR file → BUILD_ERROR with its text; restart rebuilds.
    api.commit(
        "spaces",
        "alice/app",
        None,
        &[
            file_line("README.md", readme),
            file_line("BUILD_ERROR", b"pip failed\n"),
        ],
    )
    .await;
    for _ in 0..2 {
        stage(&api, "alice/app").await;
    }
    assert_eq!(
        stage(&api, "alice/app").await,
        ("BUILD_ERROR".into(), Some("pip failed".into()))
    );
    let r = api
        .post_json("/api/spaces/alice/app/restart", json!({}))
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(stage(&api, "alice/app").await.0, "BUILDING");
    let logs = api.get("/api/spaces/alice/app/logs/build").await;
    assert_eq!(logs.headers()["content-type"], "text/event-stream");
    let text = logs.text().await.expect("text");
    assert!(text.lines().any(|l| l.starts_with("data: {")), "{text}");
    // Static Spaces come with index.html and run; gradio without app.py does not.
    api.create("alice/site", "space", false, Some("static"))
        .await;
    stage(&api, "alice/site").await;
    assert_eq!(stage(&api, "alice/site").await.0, "BUILDING");
    assert_eq!(stage(&api, "alice/site").await.0, "RUNNING");
    api.create("alice/gr", "space", false, Some("gradio")).await;
    for _ in 0..2 {
        stage(&api, "alice/gr").await;
    }
    assert_eq!(stage(&api, "alice/gr").await.0, "NO_APP_FILE");
}

#[tokio::test]
async fn secrets_and_variables() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/app", "space", true, Some("docker")).await;
    let r = api
        .post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "TOKEN", "value": "v1"}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    api.post_json(
        "/api/spaces/alice/app/secrets",
        json!({"key": "TOKEN", "value": "v2", "description": "d"}),
    )
    .await;
    assert_eq!(
        emu.space_secret("alice/app", "TOKEN").as_deref(),
        Some("v2")
    );
    let listed: Value = api
        .get("/api/spaces/alice/app/secrets")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["TOKEN"]["description"], "d");
    assert!(
        listed["TOKEN"].get("value").is_none(),
        "secret values must never be returned"
    );
    assert!(listed["TOKEN"]["updatedAt"]
        .as_str()
        .expect("date")
        .ends_with('Z'));
    let peek: Value = client()
        .get(format!("{}/_emulator/spaces/alice/app/secrets", emu.url()))
        .send()
        .await
        .expect("peek")
        .json()
        .await
        .expect("json");
    assert_eq!(peek, json!({"TOKEN": "v2"}));
    let r = api
        .delete_json("/api/spaces/alice/app/secrets", json!({"key": "TOKEN"}))
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(emu.space_secret("alice/app", "TOKEN"), None);
    let vars: Value = api
        .post_json(
            "/api/spaces/alice/app/variables",
            json!({"key": "MODE", "value": "prod"}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(vars["MODE"]["value"], "prod");
    let vars: Value = api
        .get("/api/spaces/alice/app/variables")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(vars["MODE"]["value"], "prod");
    assert_eq!(
        emu.space_variables("alice/app")
            .get("MODE")
            .map(String::as_str),
        Some("prod")
    );
    let vars: Value = api
        .delete_json("/api/spaces/alice/app/variables", json!({"key": "MODE"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(vars, json!({}));
    // Bob (no access) and a read token cannot touch them.
    let r = Api::new(&emu, BOB)
        .post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "X", "value": "y"}),
        )
        .await;
    assert_status(&r, StatusCode::NOT_FOUND);
    let r = Api::new(&emu, ALICE_READ)
        .post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "X", "value": "y"}),
        )
        .await;
    assert_status(&r, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn space_info_and_private_app_access() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/My_App", "space", true, Some("docker"))
        .await;
    let info: Value = api
        .get("/api/spaces/alice/My_App")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(info["sdk"], "docker");
    assert_eq!(info["subdomain"], "alice-my-app");
    let host = info["host"].as_str().expect("host").to_string();
    assert!(host.starts_with("http://127.0.0.1:"), "{host}");
    assert_eq!(
        emu.space_host("alice/My_App").as_deref(),
        Some(host.as_str())
    );
    let http = client();
    let r = http.get(format!("{host}/echo")).send().await.expect("echo");
    assert_status(&r, StatusCode::UNAUTHORIZED);
    let r = http
        .get(format!("{host}/echo"))
        .bearer_auth(BOB)
        .send()
        .await
        .expect("echo");
    assert_status(&r, StatusCode::NOT_FOUND);
    let r = http
        .post(format!("{host}/echo/sub?x=1"))
        .header("x-hf-authorization", format!("Bearer {ALICE_READ}"))
        .header("x-forwarded-for", "203.0.113.9")
        .body("payload")
        .send()
        .await
        .expect("echo");
    assert_status(&r, StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        (
            v["method"].as_str(),
            v["path"].as_str(),
            v["query"].as_str()
        ),
        (Some("POST"), Some("/echo/sub"), Some("x=1"))
    );
    assert_eq!(v["body"], "payload");
    assert!(v["headers"].get("x-hf-authorization").is_none(), "{v}");
    assert_eq!(v["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    let r = http
        .get(format!("{host}/echo"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("echo");
    assert_status(&r, StatusCode::OK);
    // Deleting the Space stops its app.
    api.delete_json(
        "/api/repos/delete",
        json!({"name": "My_App", "organization": "alice", "type": "space"}),
    )
    .await;
    assert!(http
        .get(format!("{host}/echo"))
        .bearer_auth(ALICE)
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn builtin_app_routes() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/pub", "space", false, Some("docker"))
        .await;
    let host = emu.space_host("alice/pub").expect("host");
    let http = client();
    // /config builds absolute URLs from X-Forwarded-Host, else Host.
    let v: Value = http
        .get(format!("{host}/config"))
        .header("x-forwarded-host", "proxy.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(v["root"], "https://proxy.example");
    assert!(v["file_url"]
        .as_str()
        .expect("url")
        .starts_with("https://proxy.example/file="));
    let v: Value = http
        .get(format!("{host}/config"))
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!(v["root"], host);
    let body = http
        .get(format!("{host}/download?bytes=300000"))
        .send()
        .await
        .expect("dl")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(body.len(), 300000);
    let text = http
        .get(format!("{host}/sse?n=3&interval_ms=1"))
        .send()
        .await
        .expect("sse")
        .text()
        .await
        .expect("text");
    assert_eq!(text.matches("data: ").count(), 3, "{text}");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{host}/redirect?to=/echo"))
        .send()
        .await
        .expect("redirect");
    assert_status(&r, StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "/echo");
    assert_eq!(
        http.get(format!("{host}/slow?ms=1"))
            .send()
            .await
            .expect("slow")
            .text()
            .await
            .expect("t"),
        "slow 1\n"
    );
    // /ws echoes a text frame (raw handshake: no WebSocket client in our dependencies).
    let addr = host.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 1024];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed during handshake");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let payload = b"ping!";
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.expect("frame");
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.expect("reply");
    assert_eq!(head[0], 0x81);
    let mut echoed = vec![0u8; (head[1] & 0x7f) as usize];
    s.read_exact(&mut echoed).await.expect("payload");
    assert_eq!(echoed, payload);
}

#[tokio::test]
async fn app_listener_can_forward_to_a_real_upstream() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/proxy", "space", true, Some("docker"))
        .await;
    let host = emu.space_host("alice/proxy").expect("host");
    // A stand-in upstream that reports the headers it received.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/.proxy/healthz",
        axum::routing::get(|h: axum::http::HeaderMap| async move {
            format!("upstream sees xhf={}", h.contains_key("x-hf-authorization"))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert!(emu.set_space_app_upstream("alice/proxy", Some(&upstream)));
    let http = client();
    let r = http
        .get(format!("{host}/.proxy/healthz"))
        .header("x-hf-authorization", format!("Bearer {ALICE}"))
        .send()
        .await
        .expect("get");
    assert_status(&r, StatusCode::OK);
    assert_eq!(r.text().await.expect("text"), "upstream sees xhf=false");
    // The access check still applies in front of the upstream.
    let r = http
        .get(format!("{host}/.proxy/healthz"))
        .send()
        .await
        .expect("get");
    assert_status(&r, StatusCode::UNAUTHORIZED);
    assert!(emu.set_space_app_upstream("alice/proxy", None));
    let r = http
        .get(format!("{host}/.proxy/healthz"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("get");
    assert_status(&r, StatusCode::NOT_FOUND);
}

/// The Hub deprecated its built-in Streamlit SDK (2025-04-30): a new Space cannot be created with it, and the
/// answer says what to do instead. A Space whose README already says `sdk: streamlit` still builds.
#[tokio::test]
async fn streamlit_spaces_are_no_longer_created_but_old_ones_still_build() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    let r = api
        .create("alice/st", "space", false, Some("streamlit"))
        .await;
    assert_status(&r, StatusCode::BAD_REQUEST);
    let error: Value = r.json().await.expect("json");
    let text = error["error"].as_str().expect("error text");
    assert!(
        text.contains("Docker") && text.contains("streamlit-template-space"),
        "{text}"
    );
    assert_eq!(emu.mutation_count(), 0);

    // A legacy Space: created before the deprecation (here: as docker), its README names streamlit.
    api.create("alice/legacy", "space", false, Some("docker"))
        .await;
    api.commit(
        "spaces",
        "alice/legacy",
        None,
        &[
            file_line("README.md", b"---\nsdk: streamlit\n---\n"),
            file_line("app.py", b"import streamlit as st\n"),
        ],
    )
    .await;
    assert_eq!(stage(&api, "alice/legacy").await.0, "BUILDING");
    assert_eq!(stage(&api, "alice/legacy").await.0, "RUNNING");
}
