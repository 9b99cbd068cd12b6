//! Commit rules: parentCommit (412), atomicity, LFS objects must be uploaded, uploads are verified.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn stale_parent_commit_is_412_and_changes_nothing() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let first = api.head_sha("models", "alice/m").await;
    let r = api
        .commit(
            "models",
            "alice/m",
            Some(&first),
            &[file_line("a.txt", b"a")],
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let second = api.head_sha("models", "alice/m").await;
    assert_ne!(first, second);
    let r = api
        .commit(
            "models",
            "alice/m",
            Some(&first),
            &[file_line("b.txt", b"b")],
        )
        .await;
    assert_status(&r, StatusCode::PRECONDITION_FAILED);
    assert_eq!(api.head_sha("models", "alice/m").await, second);
    assert!(!api
        .files("models", "alice/m")
        .await
        .contains(&"b.txt".to_string()));
    // A short prefix of the current head is accepted.
    let r = api
        .commit(
            "models",
            "alice/m",
            Some(&second[..7]),
            &[file_line("c.txt", b"c")],
        )
        .await;
    assert_status(&r, StatusCode::OK);
}

#[tokio::test]
async fn failed_commit_is_atomic() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    api.commit("models", "alice/m", None, &[file_line("keep.txt", b"keep")])
        .await;
    let sha = api.head_sha("models", "alice/m").await;
    let before = api.files("models", "alice/m").await;
    let mutations = emu.mutation_count();
    // A valid addition followed by the deletion of a missing file: nothing may change.
    let r = api
        .commit(
            "models",
            "alice/m",
            None,
            &[
                file_line("new.txt", b"new"),
                json!({"key": "deletedFile", "value": {"path": "keep.txt"}}),
                json!({"key": "deletedFile", "value": {"path": "missing.txt"}}),
            ],
        )
        .await;
    assert_status(&r, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&r).await.as_deref(), Some("EntryNotFound"));
    assert_eq!(api.head_sha("models", "alice/m").await, sha);
    assert_eq!(api.files("models", "alice/m").await, before);
    assert_eq!(
        emu.mutation_count(),
        mutations,
        "a failed commit counted as a mutation"
    );
    let r = api.commit("models", "alice/m", None, &[]).await;
    assert_status(&r, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lfs_file_that_was_never_uploaded_is_rejected() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let sha = api.head_sha("models", "alice/m").await;
    let r = api
        .commit(
            "models",
            "alice/m",
            None,
            &[
                file_line("ok.txt", b"ok"),
                lfs_line("w.bin", b"never uploaded"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.head_sha("models", "alice/m").await, sha);
}

async fn batch(api: &Api<'_>, id: &str, content: &[u8], transfers: &[&str]) -> Value {
    let r = api
        .post_json(
            &format!("/{id}.git/info/lfs/objects/batch"),
            json!({"operation": "upload", "transfers": transfers, "hash_algo": "sha256",
                   "objects": [{"oid": sha256(content), "size": content.len()}], "ref": {"name": "main"}}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    r.json().await.expect("batch json")
}

#[tokio::test]
async fn basic_lfs_upload_commit_and_download() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let b = batch(&api, "alice/m", &content, &["basic", "multipart"]).await;
    let href = b["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .expect("href")
        .to_string();
    assert!(href.starts_with(emu.url()), "{href}");
    // A body that does not hash to the oid is refused.
    let bad = client()
        .put(&href)
        .body(vec![0u8; content.len()])
        .send()
        .await
        .expect("put");
    assert_status(&bad, StatusCode::BAD_REQUEST);
    // Upload URLs need no Authorization.
    let ok = client()
        .put(&href)
        .body(content.clone())
        .send()
        .await
        .expect("put");
    assert_status(&ok, StatusCode::OK);
    // Verify (authenticated) and a second batch: now already stored, no actions.
    let verify = b["objects"][0]["actions"]["verify"]["href"]
        .as_str()
        .expect("verify");
    let r = api
        .post_json(
            verify,
            json!({"oid": sha256(&content), "size": content.len()}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let again = batch(&api, "alice/m", &content, &["basic"]).await;
    assert!(again["objects"][0].get("actions").is_none(), "{again}");
    let r = api
        .commit("models", "alice/m", None, &[lfs_line("w.bin", &content)])
        .await;
    assert_status(&r, StatusCode::OK);
    let commit: Value = r.json().await.expect("json");
    let head = api
        .req(Method::HEAD, "/alice/m/resolve/main/w.bin")
        .send()
        .await
        .expect("head");
    assert_status(&head, StatusCode::OK);
    let h = head.headers();
    assert_eq!(
        h["x-repo-commit"],
        commit["commitOid"].as_str().expect("oid")
    );
    assert_eq!(
        h["x-linked-etag"].to_str().expect("etag"),
        format!("\"{}\"", sha256(&content))
    );
    assert_eq!(
        h["content-length"].to_str().expect("len"),
        content.len().to_string()
    );
    let body = api
        .get("/alice/m/resolve/main/w.bin")
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&body[..], &content[..]);
    let tree: Value = api
        .get("/api/models/alice/m/tree/main")
        .await
        .json()
        .await
        .expect("tree");
    let w = tree
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["path"] == "w.bin")
        .expect("w.bin")
        .clone();
    assert_eq!(w["lfs"]["oid"], sha256(&content));
    assert_eq!(w["size"], content.len());
}

#[tokio::test]
async fn multipart_upload_with_etags() {
    let emu = builder().multipart(1000, 400).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let content: Vec<u8> = (0..1500u32).map(|i| (i % 7) as u8).collect();
    let b = batch(&api, "alice/m", &content, &["basic", "multipart"]).await;
    let upload = &b["objects"][0]["actions"]["upload"];
    let header = upload["header"].as_object().expect("header");
    assert_eq!(header["chunk_size"], "400");
    let mut parts: Vec<(u32, String)> = header
        .iter()
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_digit()))
        .map(|(k, v)| (k.parse().expect("n"), v.as_str().expect("url").to_string()))
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 4);
    let mut etags = Vec::new();
    for (i, url) in &parts {
        let start = (*i as usize - 1) * 400;
        let chunk = content[start..(start + 400).min(content.len())].to_vec();
        let r = client().put(url).body(chunk).send().await.expect("part");
        assert_status(&r, StatusCode::OK);
        let etag = r.headers()["etag"].to_str().expect("etag").to_string();
        assert!(!etag.is_empty());
        etags.push(json!({"partNumber": i, "etag": etag}));
    }
    // Not stored before completion.
    let r = api
        .commit("models", "alice/m", None, &[lfs_line("big.bin", &content)])
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let href = upload["href"].as_str().expect("href");
    let r = client()
        .post(href)
        .header("content-type", "application/vnd.git-lfs+json")
        .json(&json!({"oid": sha256(&content), "parts": etags}))
        .send()
        .await
        .expect("complete");
    assert_status(&r, StatusCode::OK);
    let r = api
        .commit("models", "alice/m", None, &[lfs_line("big.bin", &content)])
        .await;
    assert_status(&r, StatusCode::OK);
    let body = api
        .get("/alice/m/resolve/main/big.bin")
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&body[..], &content[..]);
    // Part URLs are signed: a wrong signature is refused.
    let forged = parts[0].1.replace("sig=", "sig=x");
    let r = client()
        .put(&forged)
        .body(vec![0u8; 400])
        .send()
        .await
        .expect("put");
    assert_status(&r, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn preupload_modes_and_oids() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    api.commit("models", "alice/m", None, &[file_line("a.txt", b"hello\n")])
        .await;
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let r = api
        .post_json(
            "/api/models/alice/m/preupload/main",
            json!({"files": [
                {"path": "a.txt", "sample": b64(b"hello\n"), "size": 6},
                {"path": "w.safetensors", "sample": b64(b"abc"), "size": 3},
                {"path": "huge.txt", "sample": b64(b"abc"), "size": 11 * 1024 * 1024},
                {"path": "img.png", "sample": b64(b"\x89PNG\x00\x01"), "size": 6},
                {"path": "logs/x.log", "sample": b64(b"x"), "size": 1}
            ], "gitIgnore": "*.log\n"}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    let modes: Vec<(String, String, bool)> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("p").to_string(),
                f["uploadMode"].as_str().expect("m").to_string(),
                f["shouldIgnore"].as_bool().expect("b"),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            ("a.txt".into(), "regular".into(), false),
            ("w.safetensors".into(), "lfs".into(), false),
            ("huge.txt".into(), "lfs".into(), false),
            ("img.png".into(), "lfs".into(), false),
            ("logs/x.log".into(), "regular".into(), true),
        ]
    );
    // git hash-object of "hello\n"
    assert_eq!(
        v["files"][0]["oid"],
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
    assert!(v["files"][1].get("oid").is_none());
}

#[tokio::test]
async fn create_pr_commits_to_a_pr_branch_and_keeps_main() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let main = api.head_sha("models", "alice/m").await;
    let body = format!(
        "{}\n{}\n",
        json!({"key": "header", "value": {"summary": "pr", "description": ""}}),
        file_line("pr.txt", b"from a PR")
    );
    let r = api
        .req(Method::POST, "/api/models/alice/m/commit/main?create_pr=1")
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("commit");
    assert_status(&r, StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v["pullRequestUrl"],
        format!("{}/alice/m/discussions/1", emu.url())
    );
    assert_eq!(api.head_sha("models", "alice/m").await, main);
    let pr: Value = api
        .get("/api/models/alice/m/revision/refs%2Fpr%2F1")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(pr["sha"], v["commitOid"]);
    let text = api
        .get("/alice/m/resolve/refs%2Fpr%2F1/pr.txt")
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(text, "from a PR");
    assert_status(
        &api.get("/alice/m/resolve/main/pr.txt").await,
        StatusCode::NOT_FOUND,
    );
}
