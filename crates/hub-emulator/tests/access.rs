//! Visibility and permissions: private repos are invisible to others, read tokens cannot write,
//! plans gate Space SDKs, and tokens in URLs are noticed.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn private_repos_are_invisible_to_others() {
    let emu = start().await;
    let alice = Api::new(&emu, ALICE);
    let bob = Api::new(&emu, BOB);
    let anon = Api::anonymous(&emu);
    assert_status(
        &alice.create("alice/secret", "model", true, None).await,
        StatusCode::OK,
    );
    assert_status(&alice.get("/api/models/alice/secret").await, StatusCode::OK);
    for path in [
        "/api/models/alice/secret",
        "/api/models/alice/secret/tree/main",
        "/alice/secret/resolve/main/.gitattributes",
    ] {
        let r = bob.get(path).await;
        assert_status(&r, StatusCode::NOT_FOUND);
        assert_eq!(
            error_code(&r).await.as_deref(),
            Some("RepoNotFound"),
            "{path}"
        );
        let r = anon.get(path).await;
        assert_status(&r, StatusCode::UNAUTHORIZED);
        assert_eq!(
            error_code(&r).await.as_deref(),
            Some("RepoNotFound"),
            "{path}"
        );
    }
    // Same answer as a repo that does not exist.
    let r = bob.get("/api/models/alice/nothing").await;
    assert_status(&r, StatusCode::NOT_FOUND);
    // Bob cannot delete it either, and listings hide it.
    let r = bob
        .delete_json(
            "/api/repos/delete",
            json!({"name": "secret", "organization": "alice"}),
        )
        .await;
    assert_status(&r, StatusCode::NOT_FOUND);
    let list: Value = bob
        .get("/api/models?author=alice")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list, json!([]));
    let list: Value = alice
        .get("/api/models?author=alice")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["id"], "alice/secret");
    // Making it public makes it visible.
    let r = alice
        .req(reqwest::Method::PUT, "/api/models/alice/secret/settings")
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .expect("put");
    assert_status(&r, StatusCode::OK);
    assert_status(&bob.get("/api/models/alice/secret").await, StatusCode::OK);
}

#[tokio::test]
async fn read_tokens_and_strangers_cannot_write() {
    let emu = start().await;
    let alice = Api::new(&emu, ALICE);
    let ro = Api::new(&emu, ALICE_READ);
    let bob = Api::new(&emu, BOB);
    assert_status(
        &ro.create("alice/x", "model", false, None).await,
        StatusCode::FORBIDDEN,
    );
    alice.create("alice/m", "model", false, None).await;
    let before = emu.mutation_count();
    assert_status(
        &ro.commit("models", "alice/m", None, &[file_line("a.txt", b"a")])
            .await,
        StatusCode::FORBIDDEN,
    );
    assert_status(
        &bob.commit("models", "alice/m", None, &[file_line("a.txt", b"a")])
            .await,
        StatusCode::FORBIDDEN,
    );
    assert_status(
        &bob.create("acme/x", "model", false, None).await,
        StatusCode::FORBIDDEN,
    );
    assert_eq!(emu.mutation_count(), before);
    // Alice may write to her org.
    assert_status(
        &alice.create("acme/x", "model", false, None).await,
        StatusCode::OK,
    );
    let bad = Api::new(&emu, "hf_unknown");
    assert_status(&bad.get("/api/whoami-v2").await, StatusCode::UNAUTHORIZED);
    assert_status(
        &bad.get("/api/models/acme/x").await,
        StatusCode::UNAUTHORIZED,
    );
}

#[tokio::test]
async fn whoami_reports_plans_and_roles() {
    let emu = start().await;
    let v: Value = Api::new(&emu, ALICE)
        .get("/api/whoami-v2")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["name"], "alice");
    assert_eq!(v["isPro"], true);
    assert_eq!(v["orgs"][0]["name"], "acme");
    assert_eq!(v["orgs"][0]["plan"], "team");
    assert_eq!(v["auth"]["accessToken"]["role"], "write");
    let v: Value = Api::new(&emu, ALICE_READ)
        .get("/api/whoami-v2")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["auth"]["accessToken"]["role"], "read");
    let v: Value = Api::new(&emu, CAROL)
        .get("/api/whoami-v2")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (v["isPro"].clone(), v["plan"].clone()),
        (json!(false), json!("free"))
    );
}

#[tokio::test]
async fn free_plan_may_only_create_static_spaces() {
    let emu = start().await;
    let carol = Api::new(&emu, CAROL);
    for sdk in ["docker", "gradio"] {
        let r = carol.create("carol/app", "space", false, Some(sdk)).await;
        assert_status(&r, StatusCode::PAYMENT_REQUIRED);
        let v: Value = r.json().await.expect("json");
        assert!(
            v["error"].as_str().expect("error").contains("paid plan"),
            "{v}"
        );
    }
    assert_status(
        &carol
            .create("carol/app", "space", false, Some("static"))
            .await,
        StatusCode::OK,
    );
    // A free org is refused too, a team org is not.
    let emu = builder()
        .org_with_plan("poor", &["alice"], hub_emulator::Plan::Free)
        .start()
        .await
        .expect("start");
    let alice = Api::new(&emu, ALICE);
    assert_status(
        &alice
            .create("poor/app", "space", false, Some("docker"))
            .await,
        StatusCode::PAYMENT_REQUIRED,
    );
    assert_status(
        &alice
            .create("acme/app", "space", false, Some("docker"))
            .await,
        StatusCode::OK,
    );
}

#[tokio::test]
async fn create_is_idempotent_with_url_in_409() {
    let emu = start().await;
    let alice = Api::new(&emu, ALICE);
    let r = alice.create("alice/d", "dataset", false, None).await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["url"], format!("{}/datasets/alice/d", emu.url()));
    let r = alice.create("alice/D", "dataset", false, None).await;
    assert_status(&r, StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["url"], format!("{}/datasets/alice/d", emu.url()));
}

#[tokio::test]
async fn journal_records_requests_and_token_leaks() {
    let emu = start().await;
    let alice = Api::new(&emu, ALICE);
    alice.create("alice/m", "model", false, None).await;
    alice.get("/api/models/alice/m?expand=sha").await;
    let j = emu.journal();
    assert_eq!(j.len(), 2);
    assert_eq!(
        (
            j[0].method.as_str(),
            j[0].path.as_str(),
            j[0].status,
            j[0].mutating
        ),
        ("POST", "/api/repos/create", 200, true)
    );
    assert!(j[0].bytes_in > 0);
    assert_eq!(
        (j[1].path.as_str(), j[1].mutating),
        ("/api/models/alice/m", false)
    );
    assert_eq!(emu.token_leaks(), 0);
    Api::anonymous(&emu)
        .get(&format!("/api/models/alice/m?token={ALICE}"))
        .await;
    assert_eq!(emu.token_leaks(), 1);
    assert!(emu.journal().iter().all(|e| !e.path.contains(ALICE)));
    // The control API sees the same journal and can clear it.
    let j: Value = client()
        .get(format!("{}/_emulator/journal", emu.url()))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(j.as_array().expect("array").len(), 3);
    client()
        .delete(format!("{}/_emulator/journal", emu.url()))
        .send()
        .await
        .expect("delete");
    assert!(emu.journal().is_empty());
}
