//! Spaces: runtime stages after a commit, logs, restart, secrets and variables, app probe.

mod common;

use common::*;
use hub::{CommitOperation, CommitRequest, CreateRepo, LogKind, RepoId, RepoRef, RepoType, Token};

#[tokio::test]
async fn space_lifecycle() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let id = RepoId::parse("alice/site").unwrap();
    let space = RepoRef::new(RepoType::Space, id.clone());
    c.create_repo(
        &space,
        &CreateRepo {
            visibility: Some(hub::Visibility::Private),
            space_sdk: Some(hub::SpaceSdk::Static),
            hardware: None,
        },
    )
    .await
    .unwrap();

    // Settings first (recommended before the first app commit).
    let secret = Token::new("hf_proxy_secret_value_123").unwrap();
    c.add_space_secret(&id, "PROXY_HF_TOKEN", &secret)
        .await
        .unwrap();
    c.add_space_variable(&id, "PROXY_TARGET_URL", "http://127.0.0.1:1")
        .await
        .unwrap();
    c.add_space_variable(&id, "OTHER", "x").await.unwrap();
    assert_eq!(
        emu.space_secret("alice/site", "PROXY_HF_TOKEN").as_deref(),
        Some(secret.expose())
    );
    assert_eq!(c.list_space_secrets(&id).await.unwrap(), ["PROXY_HF_TOKEN"]);
    let vars = c.space_variables(&id).await.unwrap();
    assert_eq!(
        vars.get("PROXY_TARGET_URL").map(String::as_str),
        Some("http://127.0.0.1:1")
    );
    c.delete_space_variable(&id, "OTHER").await.unwrap();
    c.delete_space_variable(&id, "OTHER").await.unwrap();
    assert!(!c.space_variables(&id).await.unwrap().contains_key("OTHER"));
    c.delete_space_secret(&id, "PROXY_HF_TOKEN").await.unwrap();
    assert!(c.list_space_secrets(&id).await.unwrap().is_empty());

    let readme = "---\nsdk: static\n---\n# site\n";
    let commit = CommitRequest {
        summary: "app".into(),
        operations: vec![
            CommitOperation::AddBytes {
                path: "README.md".into(),
                content: readme.as_bytes().to_vec(),
            },
            CommitOperation::AddBytes {
                path: "index.html".into(),
                content: b"<h1>hi</h1>".to_vec(),
            },
        ],
        ..Default::default()
    };
    let app_commit = c.commit(&space, "main", &commit).await.unwrap();
    let mut stages = Vec::new();
    for _ in 0..10 {
        let rt = c.space_runtime(&id).await.unwrap();
        assert_eq!(rt.sha.as_deref(), Some(app_commit.commit_oid.as_str()));
        stages.push(rt.stage.to_string());
        if !rt.stage.is_transitional() {
            break;
        }
    }
    assert_eq!(
        stages.first().map(String::as_str),
        Some("BUILDING"),
        "{stages:?}"
    );
    assert_eq!(
        stages.last().map(String::as_str),
        Some("RUNNING"),
        "{stages:?}"
    );

    let logs = c.space_logs(&id, LogKind::Build).await.unwrap();
    assert!(!logs.is_empty(), "build logs expected");

    let restarted = c.restart_space(&id).await.unwrap();
    assert!(!restarted.stage.as_str().is_empty());

    let info = c.repo_info(&space, None).await.unwrap().unwrap();
    let host = info.host.expect("space host");
    // Private Space app, probed without a token: refused, and the probe itself does not fail.
    let status = c.probe_app(&host, "/").await.unwrap();
    assert!(
        matches!(status, 401 | 403 | 404),
        "private app answered {status} without a token"
    );
    assert_eq!(emu.token_leaks(), 0);
}

#[tokio::test]
async fn failed_build_exposes_stage_and_message() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let id = RepoId::parse("alice/broken").unwrap();
    let space = RepoRef::new(RepoType::Space, id.clone());
    c.create_repo(
        &space,
        &CreateRepo {
            visibility: Some(hub::Visibility::Public),
            space_sdk: Some(hub::SpaceSdk::Docker),
            hardware: None,
        },
    )
    .await
    .unwrap();
    let commit = CommitRequest {
        summary: "no Dockerfile".into(),
        operations: vec![CommitOperation::AddBytes {
            path: "README.md".into(),
            content: b"---\nsdk: docker\n---\n".to_vec(),
        }],
        ..Default::default()
    };
    c.commit(&space, "main", &commit).await.unwrap();
    let mut last = None;
    for _ in 0..10 {
        let rt = c.space_runtime(&id).await.unwrap();
        let done = !rt.stage.is_transitional();
        last = Some(rt);
        if done {
            break;
        }
    }
    let rt = last.unwrap();
    assert_eq!(rt.stage.as_str(), "NO_APP_FILE", "{rt:?}");
}
