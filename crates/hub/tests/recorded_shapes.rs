//! `crates/hub` parses every response shape huggingface.co was recorded giving (`tests/fixtures/space_api.json`,
//! from the official client's production cassettes): a scripted server plays each recorded answer to the call
//! that gets it.

use hub::{
    CommitOperation, CommitRequest, CreateRepo, HubClient, PreuploadFile, RepoId, RepoRef,
    RetryPolicy, SpaceStage, Token, UploadMode,
};
use serde_json::Value;

mod common;

use common::{answer, scripted};

const TOKEN: &str = "hf_recorded_token_1a2b3c4d";

/// The recorded answer named `name`, as an HTTP/1.1 response for the repo `alice/app`.
fn recorded(name: &str) -> String {
    let text = include_str!("fixtures/space_api.json");
    let all: Vec<Value> = serde_json::from_str(text).expect("fixture is JSON");
    let entry = all
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no recorded answer {name}"));
    let status = match entry["status"].as_u64() {
        Some(200) => "200 OK",
        Some(409) => "409 Conflict",
        other => panic!("{name}: unexpected status {other:?}"),
    };
    let (body, kind) = match &entry["body"] {
        Value::String(s) => (s.clone(), "text/plain; charset=utf-8"),
        v => (v.to_string(), "application/json; charset=utf-8"),
    };
    let body = body.replace("{ns}", "alice").replace("{name}", "app");
    answer(status, &[("content-type", kind)], &body)
}

async fn client_for(names: &[&str]) -> (HubClient, common::Seen) {
    let (url, seen) = scripted(names.iter().map(|n| recorded(n)).collect()).await;
    let client = HubClient::new(&url, Token::new(TOKEN))
        .expect("client")
        .with_retry_policy(RetryPolicy::fast());
    (client, seen)
}

fn space() -> RepoRef {
    RepoRef::space(RepoId::parse("alice/app").expect("id"))
}

#[tokio::test]
async fn create_and_the_409_of_an_existing_space_parse() {
    let (client, _) = client_for(&["create", "create_again"]).await;
    let created = client
        .create_repo(&space(), &CreateRepo::default())
        .await
        .expect("create");
    assert!(!created.already_existed);
    assert!(
        created.url.ends_with("/spaces/alice/app"),
        "{}",
        created.url
    );
    let again = client
        .create_repo(&space(), &CreateRepo::default())
        .await
        .expect("409 is success");
    assert!(again.already_existed);
    assert!(again.url.ends_with("/spaces/alice/app"), "{}", again.url);
}

#[tokio::test]
async fn preupload_answers_parse_with_and_without_a_remote_oid() {
    let (client, _) = client_for(&["preupload_new_file", "preupload_known_file"]).await;
    let file = PreuploadFile {
        path: "app.py".into(),
        size: 12,
        sample: b"print('hi')\n".to_vec(),
    };
    let new = client
        .preupload(&space(), "main", std::slice::from_ref(&file), false, None)
        .await
        .expect("preupload");
    assert_eq!(new[0].upload_mode, UploadMode::Regular);
    assert!(!new[0].should_ignore);
    assert_eq!(new[0].remote_oid, None);
    assert_eq!(
        new[0].head.as_deref(),
        Some("1111111111111111111111111111111111111111")
    );
    let known = client
        .preupload(&space(), "main", &[file], false, None)
        .await
        .expect("preupload");
    assert_eq!(
        known[0].remote_oid.as_deref(),
        Some("2222222222222222222222222222222222222222")
    );
}

#[tokio::test]
async fn the_commit_answer_parses() {
    let (client, _) = client_for(&["commit"]).await;
    let info = client
        .commit(
            &space(),
            "main",
            &CommitRequest {
                summary: "Upload app.py".into(),
                operations: vec![CommitOperation::AddBytes {
                    path: "app.py".into(),
                    content: b"print('hi')\n".to_vec(),
                }],
                ..CommitRequest::default()
            },
        )
        .await
        .expect("commit");
    assert_eq!(info.commit_oid, "3333333333333333333333333333333333333333");
    assert!(info
        .commit_url
        .ends_with("/commit/3333333333333333333333333333333333333333"));
    assert_eq!(info.pr_url, None);
}

#[tokio::test]
async fn runtime_answers_parse_building_running_and_paused() {
    // The pause answer is a runtime object too; crates/hub never pauses, so it is read as a runtime.
    let (client, _) = client_for(&[
        "runtime_building",
        "runtime_static_running",
        "pause",
        "restart",
    ])
    .await;
    let id = space().id;
    let building = client.space_runtime(&id).await.expect("runtime");
    assert_eq!(building.stage, SpaceStage::Building);
    assert_eq!(building.hardware.as_deref(), Some("cpu-basic"));
    assert_eq!((building.error_message, building.sha), (None, None));
    let running = client.space_runtime(&id).await.expect("runtime");
    assert_eq!(running.stage, SpaceStage::Running);
    assert_eq!(running.hardware, None, "a static Space has no hardware");
    let paused = client.space_runtime(&id).await.expect("runtime");
    assert_eq!(paused.stage.as_str(), "PAUSED");
    let restarted = client.restart_space(&id).await.expect("restart");
    assert_eq!(restarted.stage, SpaceStage::Building);
}

#[tokio::test]
async fn secrets_and_variables_answers_parse() {
    let (client, _) = client_for(&[
        "secret_add",
        "secret_delete_missing",
        "variables_none",
        "variable_add",
        "variable_delete_missing",
    ])
    .await;
    let id = space().id;
    client
        .add_space_secret(
            &id,
            "KEY",
            &Token::new("hf_secret_value_0000").expect("token"),
        )
        .await
        .expect("add secret");
    client
        .delete_space_secret(&id, "MISSING")
        .await
        .expect("deleting a missing secret is fine");
    assert!(client.space_variables(&id).await.expect("list").is_empty());
    client
        .add_space_variable(&id, "COLOR", "blue")
        .await
        .expect("add variable");
    client
        .delete_space_variable(&id, "MISSING")
        .await
        .expect("deleting a missing variable is fine");
}

#[tokio::test]
async fn variables_with_descriptions_parse() {
    let (client, _) = client_for(&["variable_add"]).await;
    let vars = client.space_variables(&space().id).await.expect("list");
    assert_eq!(vars.get("COLOR").map(String::as_str), Some("blue"));
    assert_eq!(vars.get("MODEL").map(String::as_str), Some("alice/model"));
}

#[tokio::test]
async fn the_plain_text_ok_of_a_delete_parses() {
    let (client, _) = client_for(&["delete"]).await;
    assert!(client.delete_repo(&space()).await.expect("delete"));
}
