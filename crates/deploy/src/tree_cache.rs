//! The tree cache: the file list of the last commit this machine saw of a repo, kept under that commit's id.
//! A commit never changes, so a list kept under its id is exact: a redeploy whose head read finds that commit
//! plans without listing the tree (sequential pages of 1,000 files behind the Hub's cursor: 3 round trips for
//! 2,000 files, 100 for 100,000). After a commit of ours the list is the parent's with the plan applied, so
//! the next deploy from this machine finds it too. Any other head (someone pushed, a stale read) misses and
//! the tree is listed as always.
//!
//! One file per repo, `<cache dir>/trees-v1/<sha256 of endpoint, type and id>.tsv`, next to the hash cache
//! and on when it is. A file that does not parse, or names another commit or repo, is a miss.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use hub::{RepoRef, TreeEntry};
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::plan::files::{FilePlan, Upload};
use crate::report::Report;

const HEADER: &str = "hf-deploy tree cache v1";

/// The cached tree of one repo.
#[derive(Debug, Clone)]
pub struct TreeCache {
    file: PathBuf,
    /// Endpoint, type and id: checked on read, so a hash collision or a copied file cannot mix repos.
    key: String,
}

impl TreeCache {
    pub fn new(dir: &Path, endpoint: &str, repo: &RepoRef) -> TreeCache {
        let key = format!(
            "{} {} {}",
            endpoint.trim_end_matches('/'),
            repo.repo_type,
            repo.id
        );
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        TreeCache {
            file: dir.join("trees-v1").join(format!("{name}.tsv")),
            key,
        }
    }

    /// The tree of `commit`, if it is the one kept.
    pub fn load(&self, commit: &str) -> Option<Vec<TreeEntry>> {
        self.entries_of(commit)?
            .map(|line| parse(&line.ok()?))
            .collect()
    }

    /// The kept file's entry lines, when it is this repo's and holds `commit`.
    fn entries_of(&self, commit: &str) -> Option<io::Lines<BufReader<File>>> {
        let mut lines = BufReader::new(File::open(&self.file).ok()?).lines();
        let mut next = || lines.next()?.ok();
        (next()? == HEADER && next()? == self.key && next()? == commit).then_some(lines)
    }

    /// Keeps `tree` as the tree of `commit` (replacing what was kept), atomically.
    pub fn store(&self, commit: &str, tree: &[TreeEntry]) -> io::Result<()> {
        if !is_commit(commit) || tree.iter().any(|e| !storable(&e.path)) {
            return self.drop_kept();
        }
        self.write(commit, |out| {
            for e in tree {
                write_entry(out, e)?;
            }
            Ok(())
        })
    }

    /// Keeps the tree a commit of `plan` made on top of `plan.parent`, when the parent's tree is the one kept:
    /// the kept lines are copied through (never all held in memory: a 100,000-file deploy stays as small as
    /// without the cache), minus what the plan deleted or replaced, plus what it uploaded.
    pub fn store_after(&self, commit: &str, plan: &FilePlan) -> io::Result<()> {
        let Some(lines) = self.entries_of(&plan.parent) else {
            return Ok(());
        };
        if !is_commit(commit) || plan.uploads.iter().any(|u| !storable(&u.file.path)) {
            return self.drop_kept();
        }
        let replaced: HashSet<&str> = plan
            .deletes
            .iter()
            .map(String::as_str)
            .chain(plan.uploads.iter().map(|u| u.file.path.as_str()))
            .collect();
        self.write(commit, |out| {
            for line in lines {
                let line = line?;
                let entry = parse(&line).ok_or_else(|| io::Error::other("a damaged tree cache"))?;
                if !replaced.contains(entry.path.as_str()) {
                    writeln!(out, "{line}")?;
                }
            }
            for entry in plan.uploads.iter().map(uploaded) {
                write_entry(out, &entry)?;
            }
            Ok(())
        })
    }

    /// Not representable: drop what was kept, it may be of a commit that is no longer the head.
    fn drop_kept(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn write(
        &self,
        commit: &str,
        entries: impl FnOnce(&mut BufWriter<&mut File>) -> io::Result<()>,
    ) -> io::Result<()> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = BufWriter::new(tmp.as_file_mut());
            writeln!(out, "{HEADER}\n{}\n{commit}", self.key)?;
            entries(&mut out)?;
            out.flush()?;
        }
        tmp.persist(&self.file).map_err(|e| e.error)?;
        Ok(())
    }
}

fn write_entry(out: &mut impl Write, e: &TreeEntry) -> io::Result<()> {
    writeln!(
        out,
        "{}\t{}\t{}\t{}",
        e.path,
        e.size,
        e.oid,
        e.lfs_sha256.as_deref().unwrap_or("-")
    )
}

/// The tree entry of an uploaded file, as the Hub lists it after the commit.
fn uploaded(u: &Upload) -> TreeEntry {
    let file = &u.file;
    match u.lfs {
        true => TreeEntry {
            path: file.path.clone(),
            size: file.size,
            // The Hub lists an LFS file's oid as the git blob id of its pointer.
            oid: hub::hash::hash_bytes(hub::hash::lfs_pointer(&file.sha256, file.size).as_bytes())
                .git_sha1,
            lfs_sha256: Some(file.sha256.clone()),
        },
        false => TreeEntry {
            path: file.path.clone(),
            size: file.size,
            oid: file.git_sha1.clone(),
            lfs_sha256: None,
        },
    }
}

/// The tree of `commit` in `repo`: from the cache when it holds that commit, else listed (and kept).
pub async fn tree_at(
    ctx: &Ctx<'_>,
    repo: &RepoRef,
    commit: &str,
) -> Result<Vec<TreeEntry>, hub::HubError> {
    let cache = of(ctx, repo);
    if let Some(tree) = cache.as_ref().and_then(|c| c.load(commit)) {
        ctx.reporter.info(&format!(
            "{} files of {} at {} from the tree cache (kept by an earlier deploy from this machine; a commit never changes)",
            tree.len(),
            repo.id,
            commit.get(..12).unwrap_or(commit)
        ));
        return Ok(tree);
    }
    let tree = ctx.client.list_tree(repo, commit).await?;
    if let Some(cache) = &cache {
        // A cache that cannot be written only costs the next deploy a listing.
        let _ = cache.store(commit, &tree);
    }
    Ok(tree)
}

/// Keeps the tree a commit of `plan` made, as `commit`.
pub fn record_commit(ctx: &Ctx<'_>, repo: &RepoRef, plan: &FilePlan, commit: &str) {
    let Some(cache) = of(ctx, repo) else {
        return;
    };
    // Without the parent's tree (not kept, or another commit's) there is nothing to derive from.
    let _ = cache.store_after(commit, plan);
}

fn of(ctx: &Ctx<'_>, repo: &RepoRef) -> Option<TreeCache> {
    let dir = ctx.cfg.hash_cache_dir.as_deref()?;
    Some(TreeCache::new(dir, &ctx.cfg.endpoint, repo))
}

fn parse(line: &str) -> Option<TreeEntry> {
    let mut fields = line.split('\t');
    let path = fields.next()?.to_string();
    let size = fields.next()?.parse().ok()?;
    let oid = fields.next()?.to_string();
    let lfs = fields.next()?;
    if fields.next().is_some() || path.is_empty() || !is_hex(&oid, 40) {
        return None;
    }
    let lfs_sha256 = match lfs {
        "-" => None,
        sha if is_hex(sha, 64) => Some(sha.to_string()),
        _ => return None,
    };
    Some(TreeEntry {
        path,
        size,
        oid,
        lfs_sha256,
    })
}

fn storable(path: &str) -> bool {
    !path.is_empty() && !path.contains(['\t', '\n', '\r'])
}

fn is_commit(s: &str) -> bool {
    is_hex(s, 40) && !s.contains(['\n', '\r'])
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub::RepoType;

    fn repo() -> RepoRef {
        RepoRef::new(RepoType::Model, "alice/m".parse().unwrap())
    }

    fn entry(path: &str, lfs: bool) -> TreeEntry {
        TreeEntry {
            path: path.to_string(),
            size: 3,
            oid: "a".repeat(40),
            lfs_sha256: lfs.then(|| "b".repeat(64)),
        }
    }

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn keeps_the_tree_of_one_commit_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TreeCache::new(dir.path(), "http://hub", &repo());
        let tree = vec![entry("a.txt", false), entry("dir/b.bin", true)];
        cache.store(C1, &tree).unwrap();
        assert_eq!(cache.load(C1), Some(tree.clone()));
        assert_eq!(cache.load(C2), None, "another commit misses");
        let other = TreeCache::new(dir.path(), "http://other-hub", &repo());
        assert_eq!(other.load(C1), None, "another endpoint misses");
        cache.store(C2, &tree[..1]).unwrap();
        assert_eq!(cache.load(C1), None, "only the last commit is kept");
        assert_eq!(cache.load(C2), Some(tree[..1].to_vec()));
    }

    #[test]
    fn a_damaged_file_or_an_unstorable_path_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TreeCache::new(dir.path(), "http://hub", &repo());
        cache.store(C1, &[entry("a.txt", false)]).unwrap();
        let text = std::fs::read_to_string(&cache.file).unwrap();
        std::fs::write(&cache.file, text.replace("\t3\t", "\tthree\t")).unwrap();
        assert_eq!(cache.load(C1), None);
        cache.store(C1, &[entry("tab\there", false)]).unwrap();
        assert_eq!(
            cache.load(C1),
            None,
            "a path with a tab drops the kept tree"
        );
    }

    #[test]
    fn after_a_commit_the_tree_is_the_parents_with_the_plan_applied() {
        use crate::plan::files::Change;
        use crate::source::LocalFile;
        use std::sync::Arc;
        let small = Arc::new(LocalFile::from_bytes("a.txt", b"new\n".to_vec()));
        let big = Arc::new(LocalFile::from_bytes("w.bin", vec![7; 100]));
        let plan = FilePlan {
            parent: C1.to_string(),
            uploads: vec![
                Upload {
                    file: Arc::clone(&small),
                    change: Change::Update,
                    lfs: false,
                },
                Upload {
                    file: Arc::clone(&big),
                    change: Change::Add,
                    lfs: true,
                },
            ],
            deletes: vec!["gone.txt".to_string()],
            ..FilePlan::default()
        };
        let base = vec![
            entry("a.txt", false),
            entry("gone.txt", false),
            entry("kept.txt", false),
        ];
        let dir = tempfile::tempdir().unwrap();
        let cache = TreeCache::new(dir.path(), "http://hub", &repo());
        cache.store_after(C2, &plan).unwrap();
        assert_eq!(
            cache.load(C2),
            None,
            "nothing kept for the parent: nothing derived"
        );
        cache.store(C1, &base).unwrap();
        cache
            .store_after(
                C2,
                &FilePlan {
                    parent: C2.to_string(),
                    ..plan.clone()
                },
            )
            .unwrap();
        assert_eq!(
            cache.load(C1),
            Some(base),
            "another parent: the kept tree stays"
        );
        cache.store_after(C2, &plan).unwrap();
        assert_eq!(cache.load(C1), None);
        let mut tree = cache.load(C2).expect("the commit's tree");
        tree.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&str> = tree.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "kept.txt", "w.bin"]);
        assert_eq!(tree[0].oid, small.git_sha1);
        assert_eq!(tree[0].lfs_sha256, None);
        assert_eq!(tree[2].lfs_sha256.as_deref(), Some(big.sha256.as_str()));
        assert_eq!(tree[2].size, 100);
        // The Hub lists an LFS file's oid as the git blob id of its pointer.
        let pointer = hub::hash::lfs_pointer(&big.sha256, 100);
        assert_eq!(
            tree[2].oid,
            hub::hash::hash_bytes(pointer.as_bytes()).git_sha1
        );
    }
}
