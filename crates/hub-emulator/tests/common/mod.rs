//! Shared helpers for the emulator's own tests: a started emulator and a few raw HTTP calls.
#![allow(dead_code)]

use base64::Engine;
use hub_emulator::{Emulator, Plan, Role};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;

pub const ALICE: &str = "hf_alice_write";
pub const ALICE_READ: &str = "hf_alice_read";
pub const BOB: &str = "hf_bob_write";
pub const CAROL: &str = "hf_carol_write";

/// The ideal Hub: these tests pin the emulator's answers step by step (a commit shows BUILDING at once, whoami
/// has its `plan` field); the realistic defaults are pinned by `realism.rs`, flag by flag.
pub fn builder() -> hub_emulator::EmulatorBuilder {
    Emulator::builder()
        .instant()
        .user("alice", ALICE, Role::Write)
        .user("alice", ALICE_READ, Role::Read)
        .user("bob", BOB, Role::Write)
        .user_with_plan("carol", CAROL, Role::Write, Plan::Free)
        .org("acme", &["alice"])
}

pub async fn start() -> Emulator {
    builder().start().await.expect("emulator starts")
}

pub fn client() -> Client {
    Client::builder().build().expect("client")
}

pub struct Api<'a> {
    pub emu: &'a Emulator,
    pub http: Client,
    pub token: Option<&'a str>,
}

impl<'a> Api<'a> {
    pub fn new(emu: &'a Emulator, token: &'a str) -> Self {
        Api {
            emu,
            http: client(),
            token: Some(token),
        }
    }
    pub fn anonymous(emu: &'a Emulator) -> Self {
        Api {
            emu,
            http: client(),
            token: None,
        }
    }
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.emu.url())
        };
        let r = self.http.request(method, url);
        match self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }
    pub async fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET")
    }
    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.req(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }
    pub async fn delete_json(&self, path: &str, body: Value) -> Response {
        self.req(reqwest::Method::DELETE, path)
            .json(&body)
            .send()
            .await
            .expect("DELETE")
    }
    /// Creates a repo; `kind` is model/dataset/space.
    pub async fn create(&self, id: &str, kind: &str, private: bool, sdk: Option<&str>) -> Response {
        let (ns, name) = id.split_once('/').expect("ns/name");
        let mut body = json!({"name": name, "organization": ns, "type": kind, "private": private});
        if let Some(s) = sdk {
            body["sdk"] = json!(s);
        }
        self.post_json("/api/repos/create", body).await
    }
    pub async fn head_sha(&self, types: &str, id: &str) -> String {
        let v: Value = self
            .get(&format!("/api/{types}/{id}"))
            .await
            .json()
            .await
            .expect("json");
        v["sha"].as_str().expect("sha").to_string()
    }
    /// Posts an NDJSON commit made of `lines` (after the header).
    pub async fn commit(
        &self,
        types: &str,
        id: &str,
        parent: Option<&str>,
        lines: &[Value],
    ) -> Response {
        let mut header = json!({"summary": "test commit", "description": ""});
        if let Some(p) = parent {
            header["parentCommit"] = json!(p);
        }
        let mut body = json!({"key": "header", "value": header}).to_string();
        body.push('\n');
        for l in lines {
            body.push_str(&l.to_string());
            body.push('\n');
        }
        self.req(
            reqwest::Method::POST,
            &format!("/api/{types}/{id}/commit/main"),
        )
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("commit")
    }
    pub async fn files(&self, types: &str, id: &str) -> Vec<String> {
        let v: Value = self
            .get(&format!("/api/{types}/{id}"))
            .await
            .json()
            .await
            .expect("json");
        let mut f: Vec<String> = v["siblings"]
            .as_array()
            .expect("siblings")
            .iter()
            .map(|s| s["rfilename"].as_str().expect("rfilename").to_string())
            .collect();
        f.sort();
        f
    }
}

pub fn file_line(path: &str, content: &[u8]) -> Value {
    json!({"key": "file", "value": {"path": path, "content": base64::engine::general_purpose::STANDARD.encode(content), "encoding": "base64"}})
}

pub fn lfs_line(path: &str, content: &[u8]) -> Value {
    json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha256(content), "size": content.len()}})
}

pub fn sha256(content: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(content))
}

pub async fn error_code(resp: &Response) -> Option<String> {
    resp.headers()
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn assert_status(resp: &Response, status: StatusCode) {
    assert_eq!(
        resp.status(),
        status,
        "unexpected status for {}",
        resp.url()
    );
}
