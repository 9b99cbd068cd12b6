//! `POST /api/{types}/{id}/commit/{rev}`: one NDJSON commit (docs/hub-protocol.md#commit). Never retried once
//! it may have reached the server: the caller re-reads the head and re-plans.

use std::path::PathBuf;

use base64::Engine as _;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::{read_json, HubClient, RetryMode};
use crate::encode;
use crate::error::{HubError, Result};
use crate::repo_id::RepoRef;

/// One change in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOperation {
    /// A regular (non-LFS) file, read from `source` and base64-encoded at send time. `git_sha1` is the
    /// blob id the caller planned with: content that no longer matches it is refused, never committed.
    AddRegular {
        path: String,
        source: PathBuf,
        git_sha1: String,
    },
    /// A regular file from memory (generated README, proxy template…).
    AddBytes { path: String, content: Vec<u8> },
    /// A file whose content is already in LFS storage.
    AddLfs {
        path: String,
        sha256: String,
        size: u64,
    },
    /// Removes a file.
    Delete { path: String },
}

impl CommitOperation {
    /// The path in the repo.
    pub fn path(&self) -> &str {
        match self {
            CommitOperation::AddRegular { path, .. }
            | CommitOperation::AddBytes { path, .. }
            | CommitOperation::AddLfs { path, .. }
            | CommitOperation::Delete { path } => path,
        }
    }
}

/// A commit to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitRequest {
    pub summary: String,
    pub description: String,
    /// The head this commit builds on; the Hub answers 412 when it moved.
    pub parent_commit: Option<String>,
    /// Open a pull request instead of committing to the revision.
    pub create_pr: bool,
    pub operations: Vec<CommitOperation>,
}

/// The Hub's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub commit_oid: String,
    pub commit_url: String,
    pub pr_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCommit {
    commit_oid: String,
    #[serde(default)]
    commit_url: Option<String>,
    #[serde(default)]
    pull_request_url: Option<String>,
}

/// The header line.
pub(crate) fn header_line(commit: &CommitRequest) -> String {
    let mut value = json!({ "summary": commit.summary, "description": commit.description });
    if let Some(parent) = &commit.parent_commit {
        value["parentCommit"] = json!(parent);
    }
    json!({ "key": "header", "value": value }).to_string()
}

/// The line of one operation; `content` is the regular file's bytes when the
/// operation carries a path to read.
pub(crate) fn operation_line(op: &CommitOperation, content: Option<&[u8]>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let line = match op {
        CommitOperation::AddRegular { path, .. } => json!({ "key": "file", "value": {
            "content": b64.encode(content.unwrap_or_default()), "path": path, "encoding": "base64" } }),
        CommitOperation::AddBytes { path, content } => json!({ "key": "file", "value": {
            "content": b64.encode(content), "path": path, "encoding": "base64" } }),
        CommitOperation::AddLfs { path, sha256, size } => json!({ "key": "lfsFile", "value": {
            "path": path, "algo": "sha256", "oid": sha256, "size": size } }),
        CommitOperation::Delete { path } => {
            json!({ "key": "deletedFile", "value": { "path": path } })
        }
    };
    line.to_string()
}

/// The whole NDJSON body, reading regular files from disk. The reads and the encoding run on one blocking
/// thread: a `tokio::fs::read` per file meant one blocking-pool round trip per file, 5,000 per commit part
/// (perf, issue 7).
pub(crate) async fn encode_body(commit: &CommitRequest) -> Result<Vec<u8>> {
    let commit = commit.clone();
    tokio::task::spawn_blocking(move || encode_body_blocking(&commit))
        .await
        .map_err(|e| HubError::Io(std::io::Error::other(format!("encoding the commit: {e}"))))?
}

fn encode_body_blocking(commit: &CommitRequest) -> Result<Vec<u8>> {
    let mut body = header_line(commit).into_bytes();
    body.push(b'\n');
    for op in &commit.operations {
        let content = match op {
            CommitOperation::AddRegular {
                path,
                source,
                git_sha1,
            } => {
                let content = std::fs::read(source).map_err(|e| {
                    HubError::Io(std::io::Error::new(
                        e.kind(),
                        format!("reading {}: {e}", source.display()),
                    ))
                })?;
                if !crate::hash::hash_bytes(&content)
                    .git_sha1
                    .eq_ignore_ascii_case(git_sha1)
                {
                    return Err(HubError::Io(std::io::Error::other(format!(
                        "{path} changed after it was hashed ({}), so it is not what the plan compared; \
                         nothing was committed: rerun once the folder is stable",
                        source.display()
                    ))));
                }
                Some(content)
            }
            _ => None,
        };
        body.extend_from_slice(operation_line(op, content.as_deref()).as_bytes());
        body.push(b'\n');
    }
    Ok(body)
}

impl HubClient {
    /// Sends the commit. 412 ([`HubError::PreconditionFailed`]) means the parent moved.
    /// Retried only when the server cannot have acted (connection refused, 429).
    pub async fn commit(
        &self,
        repo: &RepoRef,
        revision: &str,
        commit: &CommitRequest,
    ) -> Result<CommitInfo> {
        if commit.summary.trim().is_empty() {
            return Err(HubError::InvalidInput {
                message: "the commit message (summary) is empty".into(),
            });
        }
        if commit.operations.is_empty() {
            return Err(HubError::InvalidInput {
                message: "a commit needs at least one operation".into(),
            });
        }
        let body = bytes::Bytes::from(encode_body(commit).await?);
        let mut url = self.repo_api_url(repo, &format!("/commit/{}", encode::revision(revision)));
        if commit.create_pr {
            url.push_str("?create_pr=1");
        }
        let raw: RawCommit = self
            .run(RetryMode::NotProcessedOnly, "commit", || async {
                let request = self
                    .request(Method::POST, &url)
                    .header("content-type", "application/x-ndjson")
                    .body(body.clone());
                let response = self.execute(request, true, &[]).await?;
                read_json(response).await
            })
            .await?;
        let commit_url = raw
            .commit_url
            .map(|u| self.fix_endpoint(&u))
            .unwrap_or_else(|| format!("{}/commit/{}", self.repo_url(repo), raw.commit_oid));
        Ok(CommitInfo {
            commit_oid: raw.commit_oid,
            commit_url,
            pr_url: raw.pull_request_url.map(|u| self.fix_endpoint(&u)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ndjson_lines() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.txt");
        std::fs::write(&src, b"hello\n").unwrap();
        let commit = CommitRequest {
            summary: "s".into(),
            description: String::new(),
            parent_commit: Some("abc".into()),
            create_pr: false,
            operations: vec![
                CommitOperation::Delete {
                    path: "old.txt".into(),
                },
                CommitOperation::AddRegular {
                    path: "a.txt".into(),
                    source: src,
                    git_sha1: "ce013625030ba8dba906f756967f9e9ca394464a".into(),
                },
                CommitOperation::AddBytes {
                    path: "b.txt".into(),
                    content: b"x".to_vec(),
                },
                CommitOperation::AddLfs {
                    path: "w.bin".into(),
                    sha256: "ff".into(),
                    size: 12,
                },
            ],
        };
        let body = encode_body(&commit).await.unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            json!({"key":"header","value":{"summary":"s","description":"","parentCommit":"abc"}})
        );
        assert_eq!(
            lines[1],
            json!({"key":"deletedFile","value":{"path":"old.txt"}})
        );
        assert_eq!(
            lines[2],
            json!({"key":"file","value":{"content":"aGVsbG8K","path":"a.txt","encoding":"base64"}})
        );
        assert_eq!(lines[3]["value"]["content"], "eA==");
        assert_eq!(
            lines[4],
            json!({"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":"ff","size":12}})
        );
    }

    /// A file rewritten between hashing and commit is refused, not committed with content the plan never saw.
    #[tokio::test]
    async fn content_that_changed_since_hashing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.txt");
        std::fs::write(&src, b"hello\n").unwrap();
        let planned = crate::hash::hash_bytes(b"hello\n").git_sha1;
        std::fs::write(&src, b"HELLO\n").unwrap();
        let commit = CommitRequest {
            summary: "s".into(),
            operations: vec![CommitOperation::AddRegular {
                path: "a.txt".into(),
                source: src,
                git_sha1: planned,
            }],
            ..Default::default()
        };
        let err = encode_body(&commit).await.unwrap_err().to_string();
        assert!(err.contains("a.txt changed after it was hashed"), "{err}");
    }

    #[test]
    fn header_without_parent() {
        let c = CommitRequest {
            summary: "x".into(),
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&header_line(&c)).unwrap();
        assert!(v["value"].get("parentCommit").is_none());
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn every_line_is_one_json_object_that_roundtrips(path in "\\PC{1,60}", content in proptest::collection::vec(any::<u8>(), 0..300)) {
                let op = CommitOperation::AddBytes { path: path.clone(), content: content.clone() };
                let line = operation_line(&op, None);
                prop_assert!(!line.contains('\n'));
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                prop_assert_eq!(v["key"].as_str(), Some("file"));
                prop_assert_eq!(v["value"]["path"].as_str(), Some(path.as_str()));
                let b64 = base64::engine::general_purpose::STANDARD;
                let decoded = b64.decode(v["value"]["content"].as_str().unwrap()).unwrap();
                prop_assert_eq!(decoded, content);
                let del = operation_line(&CommitOperation::Delete { path: path.clone() }, None);
                prop_assert!(!del.contains('\n'));
            }

            #[test]
            fn header_survives_any_summary(summary in "\\PC{0,200}", description in "(\\PC|\n){0,200}") {
                let c = CommitRequest { summary: summary.clone(), description: description.clone(), ..Default::default() };
                let line = header_line(&c);
                prop_assert!(!line.contains('\n'));
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                prop_assert_eq!(v["value"]["summary"].as_str(), Some(summary.as_str()));
                prop_assert_eq!(v["value"]["description"].as_str(), Some(description.as_str()));
            }
        }
    }
}
