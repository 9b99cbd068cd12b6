//! The `hf-space-proxy` binary as the Space runs it: configuration from the environment, the
//! `listening on` line, access logs on stderr without secrets, a clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::*;

#[tokio::test]
async fn binary_serves_logs_without_secrets_and_stops_on_sigterm() {
    let up = start_upstream().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hf-space-proxy"))
        .env_clear()
        .env("PROXY_TARGET_URL", &up.origin)
        .env("PROXY_HF_TOKEN", TOKEN)
        .env("PROXY_API_KEYS", "bin-key-1")
        .env("PROXY_LISTEN", "127.0.0.1:0")
        .env("SPACE_HOST", "alice-app-proxy.hf.space")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // Blocks until the proxy has bound its port: the line is printed after bind.
    stdout.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect(&line)
        .parse()
        .unwrap();

    let r = get(
        addr,
        "/echo?__sign=abc",
        &format!("X-Proxy-Key: bin-key-1\r\nAuthorization: Bearer {CALLER_TOKEN}\r\n"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        up.last().headers["x-hf-authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(get(addr, "/echo", "").await.status, 401);
    assert_eq!(
        get(addr, "/json", "X-Proxy-Key: bin-key-1\r\n")
            .await
            .status,
        200
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("\"GET /echo\" 200"), "{stderr}");
    assert!(stderr.contains("\"GET /echo\" 401"), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    for secret in [TOKEN, CALLER_TOKEN, "bin-key-1", "__sign"] {
        assert!(!stderr.contains(secret), "{secret} in stderr: {stderr}");
    }
}

#[test]
fn configuration_errors_exit_2_without_echoing_the_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_hf-space-proxy"))
        .env_clear()
        .env("PROXY_TARGET_URL", "https://alice-app.hf.space")
        .env("PROXY_HF_TOKEN", format!("{TOKEN}\u{7f}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PROXY_HF_TOKEN"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_hf-space-proxy"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PROXY_TARGET_URL"));
}
