//! The proxy Space template embedded at build time, and its incremental upload: files whose git blob id
//! matches the remote are skipped, so an unchanged template makes no commit and no rebuild.

use std::collections::{BTreeMap, BTreeSet};

use hub::{
    CommitOperation, CommitRequest, HubClient, HubError, PreuploadFile, RepoId, RepoRef, TreeEntry,
    UploadMode,
};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use super::{ProvisionError, Report};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/proxy_template.rs"));
}

/// Placeholders the template's README may contain; replaced when the files are written.
pub const TARGET_PLACEHOLDER: &str = "{{TARGET_REPO_ID}}";
pub const PROXY_PLACEHOLDER: &str = "{{PROXY_REPO_ID}}";

/// Files in the Space that a deploy never deletes even though the template lacks them.
const KEEP: &[&str] = &[".gitattributes"];

/// How many times a commit is re-planned after someone else pushed meanwhile (412).
const COMMIT_ATTEMPTS: usize = 3;

/// The embedded template's paths and bytes, as compiled in.
pub fn embedded() -> &'static [(&'static str, &'static [u8])] {
    embedded::FILES
}

/// Fails when the binary was built without a complete proxy crate next to it.
pub fn check_complete() -> Result<(), ProvisionError> {
    let missing: Vec<&str> = embedded::REQUIRED
        .iter()
        .copied()
        .filter(|r| !embedded::FILES.iter().any(|(p, _)| p == r))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProvisionError::Failed(format!(
            "this hf-deploy build has an incomplete proxy template (missing {}); rebuild it from a full checkout",
            missing.join(", ")
        )))
    }
}

/// The files to write into the proxy Space of `target`, placeholders replaced.
pub fn render(target: &RepoId, proxy: &RepoId) -> Vec<(String, Vec<u8>)> {
    embedded()
        .iter()
        .map(|(path, bytes)| {
            let content = if *path == "README.md" {
                String::from_utf8_lossy(bytes)
                    .replace(TARGET_PLACEHOLDER, &target.to_string())
                    .replace(PROXY_PLACEHOLDER, &proxy.to_string())
                    .into_bytes()
            } else {
                bytes.to_vec()
            };
            (path.to_string(), content)
        })
        .collect()
}

/// The git blob id of `content`, which is what the tree API reports as `oid` for regular files.
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// What a sync would change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub add: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
    pub unchanged: usize,
}

impl SyncPlan {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }

    /// `2 added, 1 updated, 0 deleted, 7 unchanged`.
    pub fn summary(&self) -> String {
        format!(
            "{} added, {} updated, {} deleted, {} unchanged",
            self.add.len(),
            self.update.len(),
            self.delete.len(),
            self.unchanged
        )
    }
}

/// Compares the wanted files with the remote tree.
pub fn plan(files: &[(String, Vec<u8>)], remote: &[TreeEntry]) -> SyncPlan {
    let remote: BTreeMap<&str, &TreeEntry> = remote.iter().map(|e| (e.path.as_str(), e)).collect();
    let wanted: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let mut out = SyncPlan::default();
    for (path, content) in files {
        match remote.get(path.as_str()) {
            None => out.add.push(path.clone()),
            Some(entry) if same_content(entry, content) => out.unchanged += 1,
            Some(_) => out.update.push(path.clone()),
        }
    }
    out.delete = remote
        .keys()
        .filter(|p| !wanted.contains(*p) && !KEEP.contains(p))
        .map(|p| p.to_string())
        .collect();
    out
}

fn same_content(entry: &TreeEntry, content: &[u8]) -> bool {
    if entry.size != content.len() as u64 {
        return false;
    }
    match &entry.lfs_sha256 {
        Some(sha) => sha.eq_ignore_ascii_case(&hex::encode(Sha256::digest(content))),
        None => entry.oid.eq_ignore_ascii_case(&git_blob_sha1(content)),
    }
}

/// Makes the Space hold exactly `files` (plus `.gitattributes`) in one commit, or no commit when nothing
/// differs. Returns the plan and the new commit id, if any.
pub async fn sync(
    client: &HubClient,
    repo: &RepoRef,
    files: &[(String, Vec<u8>)],
    dry_run: bool,
    report: &(dyn Report + Send + Sync),
) -> Result<(SyncPlan, Option<String>), ProvisionError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let info = client
            .repo_info(repo, None)
            .await
            .map_err(ProvisionError::hub(format!("reading {}", repo.id)))?
            .ok_or_else(|| {
                ProvisionError::Failed(format!(
                    "proxy Space {} disappeared while deploying",
                    repo.id
                ))
            })?;
        let remote = client
            .list_tree(repo, &info.sha)
            .await
            .map_err(ProvisionError::hub(format!("listing {}", repo.id)))?;
        let planned = plan(files, &remote);
        if planned.is_empty() || dry_run {
            return Ok((planned, None));
        }
        let changed: Vec<&(String, Vec<u8>)> = files
            .iter()
            .filter(|(p, _)| planned.add.contains(p) || planned.update.contains(p))
            .collect();
        ensure_regular(client, repo, &changed).await?;
        let mut operations: Vec<CommitOperation> = changed
            .iter()
            .map(|(path, content)| CommitOperation::AddBytes {
                path: path.clone(),
                content: content.clone(),
            })
            .collect();
        operations.extend(
            planned
                .delete
                .iter()
                .map(|path| CommitOperation::Delete { path: path.clone() }),
        );
        let request = CommitRequest {
            summary: format!(
                "Update proxy template (hf-deploy {})",
                env!("CARGO_PKG_VERSION")
            ),
            description: format!("Template files: {}.", planned.summary()),
            parent_commit: Some(info.sha.clone()),
            create_pr: false,
            operations,
        };
        match client.commit(repo, "main", &request).await {
            Ok(done) => return Ok((planned, Some(done.commit_oid))),
            Err(HubError::PreconditionFailed { .. }) if attempt < COMMIT_ATTEMPTS => {
                report.info(&format!(
                    "proxy Space {} changed while committing; planning again",
                    repo.id
                ));
            }
            Err(e) => {
                return Err(ProvisionError::hub(format!(
                    "committing the template to {}",
                    repo.id
                ))(e))
            }
        }
    }
}

/// The template is small text; the Hub should take every file inline. If it asks for LFS (a
/// `.gitattributes` rule in the Space, say), stop with a clear message instead of committing a broken file.
async fn ensure_regular(
    client: &HubClient,
    repo: &RepoRef,
    changed: &[&(String, Vec<u8>)],
) -> Result<(), ProvisionError> {
    if changed.is_empty() {
        return Ok(());
    }
    let query: Vec<PreuploadFile> = changed
        .iter()
        .map(|(path, content)| PreuploadFile {
            path: path.clone(),
            size: content.len() as u64,
            sample: content.iter().take(512).copied().collect(),
        })
        .collect();
    let answers = client
        .preupload(repo, "main", &query, false)
        .await
        .map_err(ProvisionError::hub(format!(
            "checking upload modes on {}",
            repo.id
        )))?;
    if let Some(lfs) = answers.iter().find(|a| a.upload_mode == UploadMode::Lfs) {
        return Err(ProvisionError::Failed(format!(
            "the Hub wants {} in proxy Space {} stored as LFS; remove the LFS rule for it from the Space's \
             .gitattributes",
            lfs.path, repo.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8]) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            size: content.len() as u64,
            oid: git_blob_sha1(content),
            lfs_sha256: None,
        }
    }

    #[test]
    fn git_blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha1(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn plan_adds_updates_deletes_and_keeps_gitattributes() {
        let files = vec![
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
            ("c".into(), b"3".to_vec()),
        ];
        let remote = vec![
            entry("a", b"1"),
            entry("b", b"old"),
            entry("stale", b"x"),
            entry(".gitattributes", b"*"),
        ];
        let p = plan(&files, &remote);
        assert_eq!(p.add, vec!["c"]);
        assert_eq!(p.update, vec!["b"]);
        assert_eq!(p.delete, vec!["stale"]);
        assert_eq!(p.unchanged, 1);
        let remote: Vec<TreeEntry> = files.iter().map(|(p, c)| entry(p, c)).collect();
        assert!(plan(&files, &remote).is_empty());
    }

    #[test]
    fn render_substitutes_readme_placeholders_only() {
        let target = RepoId::parse("alice/app").unwrap();
        let proxy = RepoId::parse("alice/app-proxy").unwrap();
        for (path, content) in render(&target, &proxy) {
            let text = String::from_utf8_lossy(&content);
            if path == "README.md" {
                assert!(!text.contains(TARGET_PLACEHOLDER) && !text.contains(PROXY_PLACEHOLDER));
            }
        }
    }

    #[test]
    fn embedded_paths_are_sorted_and_relative() {
        let paths: Vec<&str> = embedded().iter().map(|(p, _)| *p).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert!(paths
            .iter()
            .all(|p| !p.starts_with('/') && !p.contains("..") && !p.contains('\\')));
    }
}
