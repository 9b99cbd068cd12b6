//! The binary: one `listening on` line, the demo user without flags, clean exit on SIGTERM,
//! bad flags exit 2 without echoing the token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hub-emulator")
}

#[tokio::test]
async fn prints_the_url_serves_the_demo_user_and_stops_on_sigterm() {
    let mut child = Command::new(bin())
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        line
    })
    .await
    .expect("join");
    let url = line
        .strip_prefix("listening on ")
        .expect("first line")
        .trim_end()
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && line.ends_with('\n'),
        "{line:?}"
    );
    let who: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/whoami-v2"))
        .bearer_auth("hf_demo_write")
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert_eq!(who["name"], "demo");
    assert_eq!(who["isPro"], true);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn bad_flags_exit_2_without_echoing_the_token() {
    let out = Command::new(bin())
        .args(["--user", "alice:hf_very_secret:admin"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown role"), "{err}");
    assert!(!err.contains("hf_very_secret"), "{err}");
    let out = Command::new(bin())
        .args(["--fault", "GET nowhere 503"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_the_hub_at_its_worst() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--build-lag-ms",
        "--build-ms",
        "--settings-restart",
        "--commit-max-ops",
        "--commit-timeout-ms",
        "--commit-lands-then-fails",
        "--stale-reads-ms",
        "--latency-ms",
        "--bandwidth",
        "--hub-accounts",
        "land-then-drop",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    // The realistic defaults are stated, and so are the downloads and the never-stale control route.
    for text in [
        "--stale-reads-ms 200",
        "--commit-max-ops 25000",
        "--commit-timeout-ms 60000",
        "Range: bytes=A-B",
        "/raw/REV/PATH",
        "refs/BRANCH",
        "sdk streamlit answers 400",
    ] {
        assert!(help.contains(text), "--help lacks {text}");
    }
    let out = Command::new(bin())
        .args(["--bandwidth", "fast"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn realism_flags_reach_the_emulator() {
    let mut child = Command::new(bin())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--hub-accounts",
            "--latency-ms",
            "200",
            "--bandwidth",
            "200mbit",
            "--settings-restart",
            "--build-lag-ms",
            "10",
            "--build-ms",
            "10",
            "--commit-max-ops",
            "5",
            "--commit-timeout-ms",
            "60000",
            "--stale-reads-ms",
            "10",
            "--commit-lands-then-fails",
            "drop p=0.3 seed=42",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        line
    })
    .await
    .expect("join");
    let url = line
        .strip_prefix("listening on ")
        .expect("first line")
        .trim_end()
        .to_string();
    let started = std::time::Instant::now();
    let who: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/whoami-v2"))
        .bearer_auth("hf_demo_write")
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(who.get("plan").is_none(), "{who}");
    assert_eq!(who["isPro"], true);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
}
