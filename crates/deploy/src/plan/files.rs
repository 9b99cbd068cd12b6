//! The file plan: which files to add, update and delete so the remote tree equals the local folder, and which are
//! unchanged. Unchanged files are found from the remote tree alone (git blob sha1 for regular files, sha256
//! for LFS files), so a no-op deploy asks preupload nothing; only changed files go to preupload for their mode.

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use hub::{HubClient, PreuploadFile, RepoRef, TreeEntry, UploadMode};

use std::sync::Arc;

use crate::failure::Failure;
use crate::source::hash::ALWAYS_LFS_ABOVE;
use crate::source::LocalFile;

/// Files per preupload request: the Hub's limit, as huggingface_hub sends.
const PREUPLOAD_CHUNK: usize = hub::MAX_FILES_PER_REQUEST;
/// Preupload requests in flight at once: a cold deploy of 2,000 files (8 requests) asks in one round trip.
const PREUPLOAD_CONCURRENCY: usize = 8;

/// The only remote file that is never deleted: it holds the repo's LFS rules.
pub const KEEP: &str = ".gitattributes";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Update,
}

/// A file to send.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Shared with the walk's list: a cold deploy of many files does not copy them.
    pub file: Arc<LocalFile>,
    pub change: Change,
    /// Stored in LFS (uploaded before the commit) rather than inline in the commit.
    pub lfs: bool,
}

/// Counts for outputs and the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

/// What a deploy will do to a repo's files.
#[derive(Debug, Clone, Default)]
pub struct FilePlan {
    /// The head commit the plan was made against (`parentCommit` of the first commit).
    pub parent: String,
    pub uploads: Vec<Upload>,
    pub deletes: Vec<String>,
    pub unchanged: usize,
    /// Files the repo's `.gitignore` makes the Hub ignore.
    pub ignored: Vec<String>,
    /// The head preupload answered for (`None` when no file was asked about). When it differs from `parent`, the
    /// reads the plan was made from were stale (the Hub's CDN) or the branch moved since.
    pub answered_head: Option<String>,
}

impl FilePlan {
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            added: self
                .uploads
                .iter()
                .filter(|u| u.change == Change::Add)
                .count(),
            updated: self
                .uploads
                .iter()
                .filter(|u| u.change == Change::Update)
                .count(),
            deleted: self.deletes.len(),
            unchanged: self.unchanged,
        }
    }

    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.file.size).sum()
    }
}

/// The local/remote comparison, before upload modes are known.
#[derive(Debug, Default)]
pub struct Diff<'a> {
    pub changed: Vec<(&'a Arc<LocalFile>, Change)>,
    pub deletes: Vec<String>,
    pub unchanged: usize,
}

fn same_content(local: &LocalFile, remote: &TreeEntry) -> bool {
    match &remote.lfs_sha256 {
        Some(sha256) => sha256.eq_ignore_ascii_case(&local.sha256),
        None => remote.oid.eq_ignore_ascii_case(&local.git_sha1),
    }
}

/// Compares the local files with the remote tree.
pub fn diff<'a>(local: &'a [Arc<LocalFile>], remote: &[TreeEntry], delete_stale: bool) -> Diff<'a> {
    let by_path: HashMap<&str, &TreeEntry> = remote.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut out = Diff::default();
    for file in local {
        match by_path.get(file.path.as_str()) {
            Some(entry) if same_content(file, entry) => out.unchanged += 1,
            Some(_) => out.changed.push((file, Change::Update)),
            None => out.changed.push((file, Change::Add)),
        }
    }
    if delete_stale {
        let local_paths: HashSet<&str> = local.iter().map(|f| f.path.as_str()).collect();
        out.deletes = remote
            .iter()
            .filter(|e| e.path != KEEP && !local_paths.contains(e.path.as_str()))
            .map(|e| e.path.clone())
            .collect();
        out.deletes.sort();
    }
    out
}

impl Diff<'_> {
    /// The changed files that are LFS whatever preupload answers (over 10 MiB): their uploads need not wait for
    /// it. (If preupload then says the repo ignores one, it was uploaded for nothing but is left out of the
    /// commit.)
    pub fn always_lfs(&self) -> Vec<Upload> {
        self.changed
            .iter()
            .filter(|(file, _)| file.size > ALWAYS_LFS_ABOVE)
            .map(|(file, change)| Upload {
                file: Arc::clone(file),
                change: *change,
                lfs: true,
            })
            .collect()
    }

    /// The plan without asking the Hub, for a repo that does not exist yet: modes estimated by size.
    pub fn estimated(self) -> FilePlan {
        FilePlan {
            uploads: self
                .changed
                .into_iter()
                .map(|(file, change)| Upload {
                    file: Arc::clone(file),
                    change,
                    lfs: file.size > ALWAYS_LFS_ABOVE,
                })
                .collect(),
            deletes: self.deletes,
            unchanged: self.unchanged,
            ..FilePlan::default()
        }
    }
}

/// Upload modes already learnt in this run (a re-plan after a 412 asks only about new paths). Keyed by the
/// file's identity: the walk's files live for the whole deploy, and a path + digest key would copy both for
/// every file of a 100,000-file cold deploy.
#[derive(Debug, Default)]
pub struct ModeCache {
    modes: HashMap<usize, (bool, bool)>,
}

fn key(file: &Arc<LocalFile>) -> usize {
    Arc::as_ptr(file) as usize
}

/// Where the plan is made: the repo, revision and whether the commit opens a PR.
pub struct Target<'a> {
    pub client: &'a HubClient,
    pub repo: &'a RepoRef,
    pub revision: &'a str,
    pub create_pr: bool,
    /// The `.gitignore` the commit will hold, when the folder has one: the Hub judges `shouldIgnore` by it.
    pub git_ignore: Option<String>,
}

/// The changed files whose mode preupload must tell: not empty (always regular), not learnt yet.
fn to_ask<'a>(diff: &Diff<'a>, cache: &ModeCache) -> Vec<&'a Arc<LocalFile>> {
    diff.changed
        .iter()
        .map(|(file, _)| *file)
        .filter(|f| f.size > 0 && !cache.modes.contains_key(&key(f)))
        .collect()
}

/// Builds the plan from the diff: preupload for the modes of changed files (empty files are always regular).
pub async fn build(
    target: &Target<'_>,
    parent: String,
    diff: Diff<'_>,
    cache: &mut ModeCache,
) -> Result<FilePlan, Failure> {
    let ask = to_ask(&diff, cache);
    // Chunks go out concurrently (a cold deploy of thousands of files would otherwise wait one round trip
    // per 256 files); samples are read per chunk, so only a few chunks' samples are in memory at once.
    let answers: Vec<Vec<hub::PreuploadResult>> =
        stream::iter(ask.chunks(PREUPLOAD_CHUNK).map(|chunk| async move {
            let mut files = Vec::with_capacity(chunk.len());
            for f in chunk {
                let sample = f
                    .sample()
                    .map_err(|e| Failure::runtime(format!("reading {}: {e}", f.path)))?;
                files.push(PreuploadFile {
                    path: f.path.clone(),
                    size: f.size,
                    sample,
                });
            }
            target
                .client
                .preupload(
                    target.repo,
                    target.revision,
                    &files,
                    target.create_pr,
                    target.git_ignore.as_deref(),
                )
                .await
                .map_err(|e| Failure::hub("asking the Hub how to store the files (preupload)", e))
        }))
        .buffered(PREUPLOAD_CONCURRENCY)
        .try_collect()
        .await?;
    let asked: HashMap<&str, &Arc<LocalFile>> = ask.iter().map(|f| (f.path.as_str(), *f)).collect();
    // Chunks answered at different moments may name different heads: a newer one wins.
    let answered_head = answers
        .iter()
        .flatten()
        .filter_map(|a| a.head.as_deref())
        .find(|h| *h != parent)
        .or_else(|| answers.iter().flatten().find_map(|a| a.head.as_deref()))
        .map(str::to_string);
    for answer in answers.into_iter().flatten() {
        if let Some(file) = asked.get(answer.path.as_str()) {
            cache.modes.insert(
                key(file),
                (answer.upload_mode == UploadMode::Lfs, answer.should_ignore),
            );
        }
    }
    let mut plan = FilePlan {
        parent,
        deletes: diff.deletes,
        unchanged: diff.unchanged,
        answered_head,
        ..FilePlan::default()
    };
    for (file, change) in diff.changed {
        let (lfs, ignore) = if file.size == 0 {
            (false, false)
        } else {
            match cache.modes.get(&key(file)) {
                Some(mode) => *mode,
                None => {
                    return Err(Failure::runtime(format!(
                        "the Hub's preupload answer did not mention {}; retry the deploy",
                        file.path
                    )))
                }
            }
        };
        if ignore {
            plan.ignored.push(file.path.clone());
        } else {
            plan.uploads.push(Upload {
                file: Arc::clone(file),
                change,
                lfs,
            });
        }
    }
    Ok(plan)
}

/// The revision's head as preupload answers it, asking about one file: preupload is a POST, never served from the
/// Hub's CDN, so this head is current even while `revision/{rev}` still serves the previous one.
pub async fn current_head(
    target: &Target<'_>,
    file: &LocalFile,
) -> Result<Option<String>, Failure> {
    let sample = file
        .sample()
        .map_err(|e| Failure::runtime(format!("reading {}: {e}", file.path)))?;
    let probe = PreuploadFile {
        path: file.path.clone(),
        size: file.size,
        sample,
    };
    let answer = target
        .client
        .preupload(
            target.repo,
            target.revision,
            std::slice::from_ref(&probe),
            target.create_pr,
            target.git_ignore.as_deref(),
        )
        .await
        .map_err(|e| Failure::hub("reading the branch's head (preupload)", e))?;
    Ok(answer.into_iter().find_map(|a| a.head))
}

/// An added file of `size` bytes (digests are placeholders), for unit tests of what consumes plans.
#[cfg(test)]
pub(crate) fn test_upload(path: &str, size: u64, lfs: bool) -> Upload {
    Upload {
        file: Arc::new(LocalFile {
            path: path.into(),
            content: crate::source::Content::File(path.into()),
            size,
            sha256: "s".into(),
            git_sha1: "g".into(),
            stamp: None,
        }),
        change: Change::Add,
        lfs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(path: &str, sha1: &str, sha256: &str) -> Arc<LocalFile> {
        Arc::new(LocalFile {
            path: path.into(),
            content: crate::source::Content::File(path.into()),
            size: 1,
            sha256: sha256.into(),
            git_sha1: sha1.into(),
            stamp: None,
        })
    }

    fn remote(path: &str, oid: &str, lfs: Option<&str>) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            size: 1,
            oid: oid.into(),
            lfs_sha256: lfs.map(Into::into),
        }
    }

    fn sized(path: &str, size: u64) -> Arc<LocalFile> {
        Arc::new(LocalFile {
            size,
            ..(*local(path, path, path)).clone()
        })
    }

    /// The Hub's rule is "larger than 10 MiB": a file of exactly 10 MiB is not surely LFS.
    #[test]
    fn only_files_over_10_mib_are_surely_lfs() {
        let files = vec![
            sized("exact.bin", ALWAYS_LFS_ABOVE),
            sized("over.bin", ALWAYS_LFS_ABOVE + 1),
        ];
        let d = diff(&files, &[], true);
        let early = d.always_lfs();
        let early: Vec<&str> = early.iter().map(|u| u.file.path.as_str()).collect();
        assert_eq!(early, ["over.bin"]);
        let estimated = d.estimated();
        let lfs: Vec<(&str, bool)> = estimated
            .uploads
            .iter()
            .map(|u| (u.file.path.as_str(), u.lfs))
            .collect();
        assert_eq!(lfs, [("exact.bin", false), ("over.bin", true)]);
    }

    /// Empty files are always regular: preupload is not asked about them.
    #[test]
    fn empty_files_are_not_asked_about() {
        let files = vec![sized("empty", 0), sized("one", 1)];
        let d = diff(&files, &[], true);
        let asked: Vec<&str> = to_ask(&d, &ModeCache::default())
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(asked, ["one"]);
    }

    #[test]
    fn diff_classifies() {
        let l = vec![
            local("same.txt", "s1", "x"),
            local("big.bin", "zz", "L1"),
            local("new.txt", "n", "n"),
            local("mod.txt", "m2", "m"),
        ];
        let r = vec![
            remote(".gitattributes", "g", None),
            remote("same.txt", "s1", None),
            remote("big.bin", "ptr", Some("L1")),
            remote("mod.txt", "m1", None),
            remote("old.txt", "o", None),
        ];
        let d = diff(&l, &r, true);
        assert_eq!(d.unchanged, 2);
        let changed: Vec<(&str, Change)> = d
            .changed
            .iter()
            .map(|(f, c)| (f.path.as_str(), *c))
            .collect();
        assert_eq!(
            changed,
            [("new.txt", Change::Add), ("mod.txt", Change::Update)]
        );
        assert_eq!(d.deletes, ["old.txt"]);
        assert!(diff(&l, &r, false).deletes.is_empty());
    }
}
