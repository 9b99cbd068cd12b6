//! Shared setup for the integration tests: an emulator with a few users, clients with fast
//! retries, generated files, and a small "upload a folder" helper built only from the public API.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use hub::{
    CommitInfo, CommitOperation, CommitRequest, HubClient, LfsObject, PreuploadFile, RepoId,
    RepoRef, RepoType, RetryPolicy, Token, UploadMode,
};
use hub_emulator::{Emulator, Plan, Role};

pub const ALICE: &str = "hf_alice_write_8c1d0f5e7a9b";
pub const BOB: &str = "hf_bob_read_4f2e9a7c1b3d";
pub const CAROL: &str = "hf_carol_free_2b7d5e1a9c4f";

/// Multipart above 1 MiB, in 256 KiB parts.
pub const MULTIPART_THRESHOLD: u64 = 1 << 20;
pub const PART: u64 = 256 << 10;

pub async fn emulator() -> Emulator {
    // The ideal Hub: these tests check the client's parsing of each answer, step by step (whoami's plans, a
    // Space's stages right after a commit); the deploy's tests run against the realistic default. Without Xet:
    // `upload` below drives the LFS transfers themselves (the deploy's tests cover the Xet path).
    Emulator::builder()
        .instant()
        .xet(false)
        .user("alice", ALICE, Role::Write)
        .user("bob", BOB, Role::Read)
        .user_with_plan("carol", CAROL, Role::Write, Plan::Free)
        .org("acme", &["alice"])
        .multipart(MULTIPART_THRESHOLD, PART)
        .start()
        .await
        .expect("emulator starts")
}

pub fn client(emu: &Emulator, token: &str) -> HubClient {
    HubClient::new(emu.url(), Token::new(token))
        .expect("client")
        .with_retry_policy(RetryPolicy::fast())
}

pub fn model(id: &str) -> RepoRef {
    RepoRef::new(RepoType::Model, RepoId::parse(id).expect("valid id"))
}

/// Deterministic bytes; `binary` puts NUL bytes in so the Hub picks LFS.
pub fn content(len: usize, seed: u8, binary: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let b = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed as u32 * 97)
                >> 24;
            if binary {
                b as u8
            } else {
                b'a' + (b % 26) as u8
            }
        })
        .collect()
}

pub fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write");
    path
}

/// What an upload did, for assertions.
#[derive(Debug, Default)]
pub struct Uploaded {
    pub commit: Option<CommitInfo>,
    pub lfs_uploaded: usize,
    pub multipart: usize,
    pub unchanged: usize,
}

/// Preupload → hash → LFS batch → transfers → one commit, skipping unchanged files — the
/// deploy pipeline in miniature, using nothing but the public API.
pub async fn upload(
    client: &HubClient,
    repo: &RepoRef,
    files: &[(&str, PathBuf)],
    parent: Option<String>,
) -> hub::Result<Uploaded> {
    let mut hashed = Vec::new();
    for (path, source) in files {
        let h = hub::hash::hash_file(source, hub::hash::Digests::Both)?;
        hashed.push((path.to_string(), source.clone(), h));
    }
    let pre: Vec<PreuploadFile> = hashed
        .iter()
        .map(|(p, _, h)| PreuploadFile {
            path: p.clone(),
            size: h.size,
            sample: h.sample.clone(),
        })
        .collect();
    let modes = client.preupload(repo, "main", &pre, false, None).await?;
    let mut out = Uploaded::default();
    let mut ops = Vec::new();
    let mut lfs = Vec::new();
    for ((path, source, h), mode) in hashed.iter().zip(&modes) {
        assert_eq!(&mode.path, path);
        let local = match mode.upload_mode {
            UploadMode::Lfs => &h.sha256,
            UploadMode::Regular => &h.git_sha1,
        };
        if mode.remote_oid.as_deref() == Some(local.as_str()) {
            out.unchanged += 1;
            continue;
        }
        match mode.upload_mode {
            UploadMode::Lfs => {
                lfs.push((
                    LfsObject {
                        oid: h.sha256.clone(),
                        size: h.size,
                    },
                    source.clone(),
                ));
                ops.push(CommitOperation::AddLfs {
                    path: path.clone(),
                    sha256: h.sha256.clone(),
                    size: h.size,
                });
            }
            UploadMode::Regular => ops.push(CommitOperation::AddRegular {
                path: path.clone(),
                source: source.clone(),
                git_sha1: h.git_sha1.clone(),
            }),
        }
    }
    if !lfs.is_empty() {
        let objects: Vec<LfsObject> = lfs.iter().map(|(o, _)| o.clone()).collect();
        let answers = client.lfs_batch(repo, "main", &objects).await?;
        for answer in &answers {
            if answer.needs_upload() {
                out.lfs_uploaded += 1;
                if answer.is_multipart() {
                    out.multipart += 1;
                }
            }
            let (_, source) = lfs
                .iter()
                .find(|(o, _)| o.oid == answer.oid)
                .expect("answer for an asked object");
            client.upload_lfs(answer, source, None).await?;
        }
    }
    if ops.is_empty() {
        return Ok(out);
    }
    let commit = CommitRequest {
        summary: "upload from tests".into(),
        description: String::new(),
        parent_commit: parent,
        create_pr: false,
        operations: ops,
    };
    out.commit = Some(client.commit(repo, "main", &commit).await?);
    Ok(out)
}

/// The remote tree must hold exactly these files with these hashes.
pub async fn assert_tree(client: &HubClient, repo: &RepoRef, files: &[(&str, PathBuf)]) {
    let tree = client.list_tree(repo, "main").await.expect("tree");
    for (path, source) in files {
        let h = hub::hash::hash_file(source, hub::hash::Digests::Both).expect("hash");
        let entry = tree
            .iter()
            .find(|e| e.path == *path)
            .unwrap_or_else(|| panic!("{path} missing in {tree:?}"));
        assert_eq!(entry.size, h.size, "{path} size");
        match &entry.lfs_sha256 {
            Some(sha) => {
                assert_eq!(sha, &h.sha256, "{path} lfs sha256");
                let pointer = hub::hash::lfs_pointer(&h.sha256, h.size);
                assert_eq!(
                    entry.oid,
                    hub::hash::hash_bytes(pointer.as_bytes()).git_sha1,
                    "{path} pointer oid"
                );
            }
            None => assert_eq!(entry.oid, h.git_sha1, "{path} git oid"),
        }
    }
    let extra: Vec<&str> = tree
        .iter()
        .map(|e| e.path.as_str())
        .filter(|p| {
            *p != ".gitattributes" && *p != "README.md" && !files.iter().any(|(f, _)| f == p)
        })
        .collect();
    assert!(extra.is_empty(), "unexpected remote files {extra:?}");
}

pub type Seen = Arc<Mutex<Vec<String>>>;

/// A scripted HTTP/1.1 server: serves `answers` in order (one per request, the last one
/// repeated) and records every request head. For Hub answers the emulator does not produce.
pub async fn scripted(answers: Vec<String>) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let answers = Arc::new(answers);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (log, answers) = (log.clone(), answers.clone());
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    sock.read_exact(&mut body).await.unwrap();
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(head.clone());
                        log.len()
                    };
                    let answer = answers
                        .get(n - 1)
                        .or(answers.last())
                        .cloned()
                        .unwrap_or_default();
                    if sock.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

pub fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}
