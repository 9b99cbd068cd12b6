//! `GET /api/{types}/{id}/tree/{rev}?recursive=true`: the files of a revision (docs/hub-protocol.md#tree).

use serde::Deserialize;

use crate::client::HubClient;
use crate::encode;
use crate::error::Result;
use crate::repo_id::RepoRef;

/// One file of the remote tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    /// Content size (the real size for LFS files).
    pub size: u64,
    /// Git blob sha1 (of the pointer file for LFS files).
    pub oid: String,
    /// sha256 of the content, for LFS files.
    pub lfs_sha256: Option<String>,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    File,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: Kind,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    lfs: Option<RawLfs>,
}

#[derive(Deserialize)]
struct RawLfs {
    oid: String,
}

impl HubClient {
    /// Every file (no directories) of `revision`, recursively, all pages.
    pub async fn list_tree(&self, repo: &RepoRef, revision: &str) -> Result<Vec<TreeEntry>> {
        let url = self.repo_api_url(
            repo,
            &format!(
                "/tree/{}?recursive=true&expand=false",
                encode::revision(revision)
            ),
        );
        let mut entries = self
            .get_paged_map(&url, "list tree", |e: RawEntry| {
                (e.kind == Kind::File).then(|| TreeEntry {
                    path: e.path,
                    size: e.size,
                    oid: e.oid,
                    lfs_sha256: e.lfs.map(|l| l.oid),
                })
            })
            .await?;
        entries.shrink_to_fit();
        Ok(entries)
    }
}
