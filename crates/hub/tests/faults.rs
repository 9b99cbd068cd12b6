//! Retries under injected 429/5xx/dropped connections: idempotent calls and LFS transfers
//! converge to the exact tree; the commit is never repeated once the server may have acted.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hub::{CommitOperation, CommitRequest, CreateRepo, HubError};
use hub_emulator::FaultRule;

fn fault(spec: &str) -> FaultRule {
    FaultRule::parse(spec).expect("valid fault spec")
}

fn statuses(emu: &hub_emulator::Emulator, method: &str, path_part: &str) -> Vec<u16> {
    emu.journal()
        .iter()
        .filter(|e| e.method == method && e.path.contains(path_part))
        .map(|e| e.status)
        .collect()
}

#[tokio::test]
async fn upload_converges_under_faults() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/flaky");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = MULTIPART_THRESHOLD as usize + 2 * PART as usize + 5;
    let files = vec![
        (
            "a.txt",
            write(dir.path(), "a.txt", &content(3000, 7, false)),
        ),
        (
            "small.bin",
            write(dir.path(), "small.bin", &content(10_000, 8, true)),
        ),
        (
            "big.bin",
            write(dir.path(), "big.bin", &content(big, 9, true)),
        ),
    ];
    emu.inject(fault(
        "POST /api/models/alice/flaky/preupload/* 429 retry-after=0 first=2",
    ));
    emu.inject(fault(
        "POST /alice/flaky.git/info/lfs/objects/batch 500 first=1",
    ));
    emu.inject(fault("PUT /_lfs/ 503 first=3"));
    emu.inject(fault("PUT /_lfs/ drop every=4 times=2"));
    emu.inject(fault("POST /_lfs/ 502 first=1"));
    emu.inject(fault("GET /api/models/alice/flaky/tree/* drop first=1"));
    emu.inject(fault("GET /api/models/alice/flaky/tree/* 504 first=1"));

    let up = upload(&c, &repo, &files, None)
        .await
        .expect("upload converges");
    assert!(up.commit.is_some());
    assert_eq!(up.multipart, 1);
    assert_tree(&c, &repo, &files).await;

    // Every fault actually fired, so the retries were exercised.
    let pre = statuses(&emu, "POST", "/preupload/");
    assert_eq!(pre.iter().filter(|s| **s == 429).count(), 2, "{pre:?}");
    assert!(statuses(&emu, "POST", "/info/lfs/objects/batch").contains(&500));
    let puts = statuses(&emu, "PUT", "/_lfs/");
    assert_eq!(puts.iter().filter(|s| **s == 503).count(), 3, "{puts:?}");
    assert_eq!(
        puts.iter().filter(|s| **s == 0).count(),
        2,
        "dropped connections {puts:?}"
    );
    let tree = statuses(&emu, "GET", "/tree/");
    assert!(tree.contains(&0) && tree.contains(&504), "{tree:?}");
    assert_eq!(emu.token_leaks(), 0);
}

#[tokio::test]
async fn rate_limit_wait_is_honoured() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    emu.inject(fault("GET /api/whoami-v2 429 retry-after=1 first=1"));
    let started = Instant::now();
    assert_eq!(c.whoami().await.unwrap().name, "alice");
    // `RateLimit: "api";r=0;t=1` means: wait for the window to reset (t + 1 s, like huggingface_hub).
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "waited only {:?}",
        started.elapsed()
    );
    assert_eq!(statuses(&emu, "GET", "/api/whoami-v2"), [429, 200]);
}

#[tokio::test]
async fn retries_are_bounded() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/down");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    emu.inject(fault("GET /api/models/alice/down 503"));
    let err = c.repo_info(&repo, None).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    assert_eq!(
        statuses(&emu, "GET", "/api/models/alice/down").len(),
        6,
        "six tries in all"
    );
}

fn one_file(summary: &str) -> CommitRequest {
    CommitRequest {
        summary: summary.into(),
        operations: vec![CommitOperation::AddBytes {
            path: format!("{summary}.txt"),
            content: b"x".to_vec(),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn commit_is_not_retried_after_5xx_or_drop() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/once");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();

    emu.inject(fault("POST /api/models/alice/once/commit/* 503 first=1"));
    let err = c.commit(&repo, "main", &one_file("a")).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(statuses(&emu, "POST", "/commit/"), [503]);

    emu.clear_faults();
    emu.inject(fault("POST /api/models/alice/once/commit/* drop first=1"));
    let err = c.commit(&repo, "main", &one_file("b")).await.unwrap_err();
    assert!(matches!(err, HubError::Network { .. }), "{err:?}");
    assert_eq!(statuses(&emu, "POST", "/commit/"), [503, 0]);

    // A 429 means the Hub did not act on it: that one is retried.
    emu.clear_faults();
    emu.inject(fault(
        "POST /api/models/alice/once/commit/* 429 retry-after=0 first=1",
    ));
    c.commit(&repo, "main", &one_file("c")).await.unwrap();
    assert_eq!(statuses(&emu, "POST", "/commit/"), [503, 0, 429, 200]);
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = hub::HubClient::new(&url, hub::Token::new(ALICE))
        .unwrap()
        .with_retry_policy(hub::RetryPolicy::fast());
    let err = c.whoami().await.unwrap_err();
    assert!(matches!(err, HubError::Network { .. }), "{err:?}");
    assert!(err.is_retryable());
}
