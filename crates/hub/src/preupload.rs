//! Before the commit: preupload (the Hub decides LFS vs regular) and the LFS batch
//! negotiation (docs/hub-protocol.md#preupload, #lfs-batch).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{read_json, HubClient, RetryMode};
use crate::encode;
use crate::error::{HubError, Result};
use crate::repo_id::RepoRef;

/// Most files per preupload / LFS batch request: what huggingface_hub sends (256; the
/// Hub's limit). Larger slices are split internally.
pub const MAX_FILES_PER_REQUEST: usize = 256;

/// A file to ask preupload about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreuploadFile {
    pub path: String,
    pub size: u64,
    /// The first (up to) 512 bytes.
    pub sample: Vec<u8>,
}

/// How the Hub wants a file committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    Lfs,
    Regular,
}

/// The Hub's answer for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreuploadResult {
    pub path: String,
    pub upload_mode: UploadMode,
    /// The path matches the repo's `.gitignore`: neither upload nor commit it.
    pub should_ignore: bool,
    /// Oid of the file already at that path: sha256 for LFS, git blob sha1 for regular.
    pub remote_oid: Option<String>,
    /// The revision's head the Hub answered for (`commitOid`). Preupload is a POST, never served from the CDN:
    /// when this differs from the head read from `revision/{rev}`, that read was stale (or the branch moved).
    pub head: Option<String>,
}

/// An LFS object to negotiate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LfsObject {
    /// sha256, lower-case hex.
    pub oid: String,
    pub size: u64,
}

/// One object of the batch answer: with actions when it must be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LfsBatchObject {
    pub oid: String,
    pub size: u64,
    #[serde(default)]
    pub(crate) actions: Option<LfsActions>,
    /// The batch picked the `xet` transfer: the object goes through [`HubClient::upload_xet`].
    #[serde(skip)]
    pub via_xet: bool,
}

impl LfsBatchObject {
    /// False when the Hub already stores this object. Through Xet the batch does not say: the
    /// upload sends only the chunks the store lacks, so an object already there costs no bytes.
    pub fn needs_upload(&self) -> bool {
        self.via_xet || self.actions.as_ref().is_some_and(|a| a.upload.is_some())
    }

    /// True when the upload goes in parts.
    pub fn is_multipart(&self) -> bool {
        self.actions
            .as_ref()
            .and_then(|a| a.upload.as_ref())
            .is_some_and(|u| u.header.contains_key("chunk_size"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct LfsActions {
    #[serde(default)]
    pub(crate) upload: Option<LfsAction>,
    #[serde(default)]
    pub(crate) verify: Option<LfsAction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct LfsAction {
    pub(crate) href: String,
    #[serde(default)]
    pub(crate) header: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPreupload {
    files: Vec<RawPreuploadFile>,
    #[serde(default)]
    commit_oid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPreuploadFile {
    path: String,
    upload_mode: String,
    should_ignore: bool,
    #[serde(default)]
    oid: Option<String>,
}

#[derive(Deserialize)]
struct RawBatch {
    #[serde(default)]
    transfer: Option<String>,
    objects: Vec<RawBatchObject>,
}

#[derive(Deserialize)]
struct RawBatchObject {
    oid: String,
    size: u64,
    #[serde(default)]
    actions: Option<LfsActions>,
    #[serde(default)]
    error: Option<RawLfsError>,
}

#[derive(Deserialize)]
struct RawLfsError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

impl HubClient {
    /// Asks the Hub how each file must be uploaded and what it already holds there.
    /// Sent in chunks of [`MAX_FILES_PER_REQUEST`]; answers come back in request order.
    pub async fn preupload(
        &self,
        repo: &RepoRef,
        revision: &str,
        files: &[PreuploadFile],
        create_pr: bool,
        git_ignore: Option<&str>,
    ) -> Result<Vec<PreuploadResult>> {
        let mut url =
            self.repo_api_url(repo, &format!("/preupload/{}", encode::revision(revision)));
        if create_pr {
            url.push_str("?create_pr=1");
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::with_capacity(files.len());
        for chunk in files.chunks(MAX_FILES_PER_REQUEST) {
            let mut body = json!({
                "files": chunk.iter().map(|f| json!({
                    "path": f.path, "sample": b64.encode(&f.sample), "size": f.size
                })).collect::<Vec<_>>()
            });
            // The `.gitignore` being committed, so `shouldIgnore` is judged against it rather than the repo's
            // current one (as the official client does).
            if let Some(text) = git_ignore {
                body["gitIgnore"] = json!(text);
            }
            let raw: RawPreupload = self
                .run(RetryMode::Idempotent, "preupload", || async {
                    let response = self
                        .execute(self.request(Method::POST, &url).json(&body), true, &[])
                        .await?;
                    read_json(response).await
                })
                .await?;
            let head = raw.commit_oid.filter(|o| !o.is_empty());
            let mut by_path: HashMap<String, RawPreuploadFile> =
                raw.files.into_iter().map(|f| (f.path.clone(), f)).collect();
            for f in chunk {
                let r = by_path.remove(&f.path).ok_or_else(|| {
                    HubError::invalid(format!("preupload: no answer for {:?}", f.path))
                })?;
                let upload_mode = match r.upload_mode.as_str() {
                    "lfs" => UploadMode::Lfs,
                    "regular" => UploadMode::Regular,
                    other => {
                        return Err(HubError::invalid(format!(
                            "preupload: unknown uploadMode {other:?} for {:?}",
                            f.path
                        )))
                    }
                };
                out.push(PreuploadResult {
                    path: r.path,
                    upload_mode,
                    should_ignore: r.should_ignore,
                    remote_oid: r.oid.filter(|o| !o.is_empty()),
                    head: head.clone(),
                });
            }
        }
        Ok(out)
    }

    /// LFS batch negotiation (`basic` + `multipart`), in chunks of [`MAX_FILES_PER_REQUEST`].
    /// Objects without actions are already stored. Any per-object error fails the call.
    pub async fn lfs_batch(
        &self,
        repo: &RepoRef,
        revision: &str,
        objects: &[LfsObject],
    ) -> Result<Vec<LfsBatchObject>> {
        let url = format!(
            "{}/{}{}.git/info/lfs/objects/batch",
            self.endpoint(),
            repo.repo_type.url_prefix(),
            repo.id
        );
        let mut out = Vec::with_capacity(objects.len());
        // The official client's order: the Hub picks `xet` when offered and the repo has it.
        let transfers: &[&str] = match self.inner.xet {
            true => &["basic", "multipart", "xet"],
            false => &["basic", "multipart"],
        };
        for chunk in objects.chunks(MAX_FILES_PER_REQUEST) {
            let body = json!({
                "operation": "upload",
                "transfers": transfers,
                "objects": chunk,
                "hash_algo": "sha256",
                "ref": { "name": revision },
            });
            let raw: RawBatch = self
                .run(RetryMode::Idempotent, "LFS batch", || async {
                    let request = self
                        .request(Method::POST, &url)
                        .header("accept", "application/vnd.git-lfs+json")
                        .header("content-type", "application/vnd.git-lfs+json")
                        .body(body.to_string());
                    let response = self.execute(request, true, &[]).await?;
                    read_json(response).await
                })
                .await?;
            let errors: Vec<String> = raw
                .objects
                .iter()
                .filter_map(|o| {
                    o.error
                        .as_ref()
                        .map(|e| format!("{} ({}): {}", o.oid, e.code, e.message))
                })
                .collect();
            if !errors.is_empty() {
                return Err(HubError::Status {
                    status: 422,
                    code: None,
                    message: format!("LFS batch refused objects: {}", errors.join("; ")),
                });
            }
            let via_xet = raw.transfer.as_deref() == Some("xet") && self.inner.xet;
            out.extend(raw.objects.into_iter().map(|o| LfsBatchObject {
                oid: o.oid,
                size: o.size,
                actions: o.actions,
                via_xet,
            }));
        }
        Ok(out)
    }
}
