//! The token never appears in any error's Display or Debug, whatever went wrong, and is never
//! sent where it does not belong.

mod common;

use common::*;
use hub::{CommitOperation, CommitRequest, CreateRepo, HubClient, LfsObject, Token};
use hub_emulator::FaultRule;

fn assert_clean(what: &str, err: &hub::HubError, secret: &str) {
    let display = err.to_string();
    let debug = format!("{err:?}");
    let alt = format!("{err:#?}");
    for text in [&display, &debug, &alt] {
        assert!(!text.contains(secret), "{what}: token leaked in {text}");
        assert!(
            !text.contains(&secret[3..]),
            "{what}: token body leaked in {text}"
        );
    }
}

#[tokio::test]
async fn errors_never_contain_the_token() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/secret-test");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let mut errors = Vec::new();

    errors.push((
        "bad token",
        client(&emu, "hf_wrong_token_0123456789")
            .whoami()
            .await
            .unwrap_err(),
    ));
    errors.push((
        "forbidden",
        c.create_repo(&model("bob/x"), &CreateRepo::default())
            .await
            .unwrap_err(),
    ));
    let stale = CommitRequest {
        summary: "s".into(),
        parent_commit: Some("0".repeat(40)),
        operations: vec![CommitOperation::AddBytes {
            path: "f".into(),
            content: ALICE.as_bytes().to_vec(),
        }],
        ..Default::default()
    };
    errors.push(("412", c.commit(&repo, "main", &stale).await.unwrap_err()));
    let lfs = CommitRequest {
        summary: "s".into(),
        operations: vec![CommitOperation::AddLfs {
            path: "w.bin".into(),
            sha256: "ab".repeat(32),
            size: 5,
        }],
        ..Default::default()
    };
    errors.push((
        "unknown lfs",
        c.commit(&repo, "main", &lfs).await.unwrap_err(),
    ));
    errors.push((
        "missing repo",
        c.list_tree(&model("alice/none"), "main").await.unwrap_err(),
    ));
    emu.inject(FaultRule::parse("* /api/ 500").unwrap());
    errors.push(("5xx exhausted", c.whoami().await.unwrap_err()));
    emu.inject(FaultRule::parse("* /alice/ drop").unwrap());
    let obj = LfsObject {
        oid: "cd".repeat(32),
        size: 3,
    };
    errors.push((
        "dropped",
        c.lfs_batch(&repo, "main", &[obj]).await.unwrap_err(),
    ));
    emu.clear_faults();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let offline = HubClient::new(&dead, Token::new(ALICE))
        .unwrap()
        .with_retry_policy(hub::RetryPolicy::fast());
    errors.push(("refused", offline.whoami().await.unwrap_err()));

    assert_eq!(errors.len(), 8);
    for (what, err) in &errors {
        assert_clean(what, err, ALICE);
    }
    assert!(!format!("{c:?}").contains(ALICE));
    assert_eq!(emu.token_leaks(), 0);
}

#[tokio::test]
async fn token_goes_to_verify_but_never_to_transfer_urls() {
    let (url, seen) = scripted(vec![answer("200 OK", &[("ETag", "\"etag-1\"")], "{}")]).await;
    let c = HubClient::new(&url, Token::new(ALICE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.bin", b"abc");
    let basic: hub::LfsBatchObject = serde_json::from_value(serde_json::json!({
        "oid": "ab", "size": 3,
        "actions": {"upload": {"href": format!("{url}/put?sig=1")}, "verify": {"href": format!("{url}/verify")}}
    }))
    .unwrap();
    c.upload_lfs(&basic, &file, None).await.unwrap();
    let multi: hub::LfsBatchObject = serde_json::from_value(serde_json::json!({
        "oid": "cd", "size": 3,
        "actions": {"upload": {"href": format!("{url}/complete"), "header": {
            "chunk_size": "2", "00001": format!("{url}/part1"), "00002": format!("{url}/part2")}}}
    }))
    .unwrap();
    c.upload_lfs(&multi, &file, None).await.unwrap();
    let heads = seen.lock().unwrap().clone();
    let line = |h: &String| h.lines().next().unwrap_or_default().to_string();
    let lines: Vec<String> = heads.iter().map(line).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for head in &heads {
        let authed = head.to_ascii_lowercase().contains(&format!(
            "authorization: bearer {}",
            ALICE.to_ascii_lowercase()
        ));
        let is_verify = line(head).starts_with("POST /verify");
        assert_eq!(authed, is_verify, "token on {:?}", line(head));
    }
    assert!(lines.iter().any(|l| l.starts_with("PUT /part2")));
    assert!(heads
        .iter()
        .any(|h| h.starts_with("PUT /part1") && h.contains("content-length: 2")));
}
