//! `hf-deploy-demo`: runs offline, in seconds, tells its story on stderr and, with `--json`, reports what
//! happened; the demo token never shows.

use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_deploys_calls_through_the_proxy_and_redeploys_nothing() {
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hf-deploy-demo"))
        .arg("--json")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .await
        .expect("hf-deploy-demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stderr}",
        out.status.code()
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the demo should take seconds"
    );
    assert!(
        !stdout.contains("hf_demo_write") && !stderr.contains("hf_demo_write"),
        "the demo token leaked"
    );
    let json: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(json["proxy_status"], 200, "{stderr}");
    assert!(
        matches!(json["direct_status"].as_u64(), Some(401 | 403 | 404)),
        "{json}"
    );
    assert_eq!(json["token_in_response"], false);
    assert_eq!(json["second_deploy_changed"], false);
    assert_eq!(json["second_deploy_writes"], 0);
    assert_eq!(json["proxy_repo_id"], "demo/private-echo-proxy");
    // The proxy Space's URL serves the real proxy from the start: the first deploy's own probe reaches it.
    let first = stderr
        .split("Deploying the same folder again")
        .next()
        .unwrap_or_default();
    assert!(
        first.contains("is live (/.proxy/healthz 200)") && !first.contains("/.proxy/healthz with"),
        "the first deploy's probe should reach the proxy:\n{first}"
    );
    let redeploy = stderr
        .split("Deploying the same folder again")
        .nth(1)
        .unwrap_or_default();
    assert!(
        !redeploy.contains("/.proxy/healthz with"),
        "the redeploy's probe should reach the proxy:\n{redeploy}"
    );
    for step in [
        "Plan for space demo/private-echo",
        "already up to date",
        "through the proxy",
    ] {
        assert!(stderr.contains(step), "the story lacks {step:?}:\n{stderr}");
    }
    // The proxy gets its own read-only token, as recommended: nothing to warn about.
    assert!(
        !stderr.contains("hf_demo_read") && !stdout.contains("hf_demo_read"),
        "the proxy token leaked"
    );
    assert!(!stderr.contains("can write"), "{stderr}");
    // The proxy's log lines belong to the steps that caused them, before the end.
    let done = stderr.find("Done in").expect("the end");
    assert!(
        !stderr[done..].contains("ip:127.0.0.1"),
        "proxy log lines after the end:\n{stderr}"
    );
    assert!(stderr.contains("proxy log | "), "{stderr}");
}

/// The demo's deploys run this binary as `hf-deploy`: its command line, its version, its exit codes.
#[test]
fn as_hf_deploy_the_demo_binary_is_hf_deploy() {
    let bin = env!("CARGO_BIN_EXE_hf-deploy-demo");
    let version = std::process::Command::new(bin)
        .args(["--as-hf-deploy", "--version"])
        .output()
        .expect("hf-deploy-demo runs");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("hf-deploy {}", env!("CARGO_PKG_VERSION"))
    );
    // A token flag is refused as hf-deploy refuses it: bad input, exit 2.
    let refused = std::process::Command::new(bin)
        .args(["--as-hf-deploy", "deploy", "--hf-token=hf_x"])
        .env_clear()
        .output()
        .expect("hf-deploy-demo runs");
    assert_eq!(refused.status.code(), Some(2));
}
