//! The hash cache: digests of files that have not changed since the last run, so a redeploy of the same folder
//! reads only what changed (git's index does the same). An entry is trusted only when size, mtime, ctime,
//! inode and device all still match; ctime cannot be set by tools that restore mtime (`touch -d`, `cp -p`,
//! `rsync -t`), so a rewrite always shows. Files modified just before they were hashed are never stored
//! ("racily clean" in git's terms): a same-size rewrite within the filesystem's timestamp granularity could
//! otherwise keep every stamp.
//!
//! One file per source folder, `<cache dir>/v1/<sha256 of the folder's path>.tsv`, sorted by repo path, so
//! lookups are a merge with the walk's sorted list and the cache is never held in memory as a whole.
//! Unix only (other systems have no stable ctime/inode in std): elsewhere every file is hashed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::LocalFile;

const HEADER: &str = "hf-deploy hash cache v1";

/// What must not change for a cached digest to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl FileStamp {
    #[cfg(unix)]
    pub fn from_metadata(m: &std::fs::Metadata) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        Some(FileStamp {
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    #[cfg(not(unix))]
    pub fn from_metadata(_m: &std::fs::Metadata) -> Option<FileStamp> {
        None
    }

    /// True when the file changed too close to `hashed_from` for its stamp to vouch for its content. Whole-second
    /// timestamps (FAT, HFS+, some network filesystems) get a wider window than nanosecond ones, whose
    /// granularity is the kernel's clock tick (at most 10 ms).
    fn is_racy(&self, hashed_from: SystemTime) -> bool {
        let coarse = self.mtime.1 == 0 && self.ctime.1 == 0;
        let margin = if coarse {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(100)
        };
        let Ok(since_epoch) = hashed_from.duration_since(UNIX_EPOCH) else {
            return true;
        };
        let limit = since_epoch.saturating_sub(margin);
        let latest = self.mtime.max(self.ctime);
        let Ok(secs) = u64::try_from(latest.0) else {
            return false; // before 1970: long settled
        };
        let latest = Duration::new(secs, u32::try_from(latest.1).unwrap_or(0));
        latest >= limit
    }

    fn to_field(self) -> String {
        format!(
            "{}\t{}.{}\t{}.{}\t{}\t{}",
            self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1, self.ino, self.dev
        )
    }

    fn parse(fields: &[&str]) -> Option<FileStamp> {
        let time = |s: &str| -> Option<(i64, i64)> {
            let (secs, nanos) = s.split_once('.')?;
            Some((secs.parse().ok()?, nanos.parse().ok()?))
        };
        match fields {
            [size, mtime, ctime, ino, dev] => Some(FileStamp {
                size: size.parse().ok()?,
                mtime: time(mtime)?,
                ctime: time(ctime)?,
                ino: ino.parse().ok()?,
                dev: dev.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// Digests read back from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub sha256: String,
    pub git_sha1: String,
}

/// The cache of one source folder.
#[derive(Debug, Clone)]
pub struct HashCache {
    file: PathBuf,
    /// The cache folder, resolved: the walk leaves it out when it lies inside the source folder.
    dir: PathBuf,
}

/// A path that can be written on one line of the cache.
fn storable(path: &str) -> bool {
    !path.contains(['\t', '\n', '\r'])
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl HashCache {
    /// The cache of `root` (a canonical path) under `dir`.
    pub fn new(dir: &Path, root: &Path) -> HashCache {
        let key = hex::encode(Sha256::digest(root.as_os_str().as_encoded_bytes()));
        HashCache {
            file: dir.join("v1").join(format!("{}.tsv", &key[..32])),
            dir: resolve(dir).unwrap_or_else(|| dir.to_path_buf()),
        }
    }

    /// The cache folder when it lies inside `root` (HOME as the deployed folder): never part of a deploy.
    pub fn inside(&self, root: &Path) -> Option<&Path> {
        self.dir.starts_with(root).then_some(self.dir.as_path())
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Looks up `wanted` (sorted by repo path, each with its current stamp): for each one, the cached digests
    /// when the stamp still matches; and how many entries the cache holds. A missing or unreadable cache is a
    /// miss for every file.
    pub fn lookup(&self, wanted: &[(&str, FileStamp)]) -> (Vec<Option<Cached>>, usize) {
        let mut out = vec![None; wanted.len()];
        let Ok(file) = File::open(&self.file) else {
            return (out, 0);
        };
        let mut lines = BufReader::new(file).lines();
        match lines.next() {
            Some(Ok(header)) if header == HEADER => {}
            _ => return (out, 0),
        }
        let mut next = 0;
        let mut entries = 0;
        for line in lines {
            let Ok(line) = line else { break };
            entries += 1;
            let fields: Vec<&str> = line.split('\t').collect();
            let [path, stamp @ .., sha256, git_sha1] = fields.as_slice() else {
                continue;
            };
            // Both sides are sorted: skip the walk's paths the cache does not have.
            while next < wanted.len() && wanted[next].0 < *path {
                next += 1;
            }
            if next == wanted.len() || wanted[next].0 != *path {
                continue;
            }
            let git_sha1 = if *git_sha1 == "-" { "" } else { git_sha1 };
            let valid = is_hex(sha256, 64) && (git_sha1.is_empty() || is_hex(git_sha1, 40));
            if valid && FileStamp::parse(stamp) == Some(wanted[next].1) {
                out[next] = Some(Cached {
                    sha256: sha256.to_string(),
                    git_sha1: git_sha1.to_string(),
                });
            }
            next += 1;
        }
        (out, entries)
    }

    /// Replaces the cache with `files` (sorted by repo path) whose stamps are settled as of `hashed_from` (when
    /// this run started reading). Written to a temporary file and renamed, so a concurrent run reads either the
    /// old cache or the new one, never half of one.
    pub fn store(&self, files: &[Arc<LocalFile>], hashed_from: SystemTime) -> io::Result<()> {
        let Some(dir) = self.file.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = BufWriter::new(tmp.as_file_mut());
            writeln!(out, "{HEADER}")?;
            for f in files {
                let Some(stamp) = f.stamp else { continue };
                if !storable(&f.path) || stamp.is_racy(hashed_from) || stamp.size != f.size {
                    continue;
                }
                let git_sha1 = if f.git_sha1.is_empty() {
                    "-"
                } else {
                    &f.git_sha1
                };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    f.path,
                    stamp.to_field(),
                    f.sha256,
                    git_sha1
                )?;
            }
            out.flush()?;
        }
        tmp.persist(&self.file).map_err(|e| e.error)?;
        Ok(())
    }
}

/// `dir` made absolute with symlinks resolved; it need not exist yet, so its deepest existing ancestor is
/// resolved and the rest appended.
pub fn resolve(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Some(rest.iter().rev().fold(real, |acc, part| acc.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Some(absolute),
        }
    }
}

/// Where caches live: `HF_DEPLOY_CACHE_DIR`, else `$XDG_CACHE_HOME/hf-deploy`, else `$HOME/.cache/hf-deploy`.
pub fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |key: &str| env(key).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    set("HF_DEPLOY_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("hf-deploy")))
        .or_else(|| set("HOME").map(|d| d.join(".cache").join("hf-deploy")))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::source::Content;

    impl FileStamp {
        fn of(path: &Path) -> io::Result<Option<FileStamp>> {
            Ok(Self::from_metadata(&std::fs::metadata(path)?))
        }
    }

    fn file(dir: &Path, rel: &str, content: &[u8]) -> Arc<LocalFile> {
        let source = dir.join(rel);
        std::fs::write(&source, content).unwrap();
        let h = hub::hash::hash_bytes(content);
        Arc::new(LocalFile {
            path: rel.to_string(),
            stamp: FileStamp::of(&source).unwrap(),
            content: Content::File(source),
            size: content.len() as u64,
            sha256: h.sha256,
            git_sha1: h.git_sha1,
        })
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(10)
    }

    fn stamps(files: &[Arc<LocalFile>]) -> Vec<(&str, FileStamp)> {
        files
            .iter()
            .map(|f| {
                (
                    f.path.as_str(),
                    FileStamp::of(f.disk_path().unwrap()).unwrap().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn unchanged_files_hit_and_changed_ones_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"), dir.path());
        let files = vec![
            file(dir.path(), "a.txt", b"alpha"),
            file(dir.path(), "b.txt", b"bravo"),
            file(dir.path(), "c.txt", b"charlie"),
        ];
        cache.store(&files, later()).unwrap();
        let hits = cache.lookup(&stamps(&files)).0;
        assert_eq!(hits[0].as_ref().unwrap().sha256, files[0].sha256);
        assert_eq!(hits[2].as_ref().unwrap().git_sha1, files[2].git_sha1);

        // Same size, mtime put back: the ctime still moved, so b.txt must be hashed again. (Rewritten until the
        // clock ticks: within one tick the racy rule, tested below, is what protects.)
        let b = files[1].disk_path().unwrap();
        let before = files[1].stamp.unwrap();
        let mtime = std::fs::metadata(b).unwrap().modified().unwrap();
        for _ in 0..100_000 {
            std::fs::write(b, b"BRAVO").unwrap();
            File::options()
                .write(true)
                .open(b)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            if FileStamp::of(b).unwrap().unwrap().ctime != before.ctime {
                break;
            }
        }
        let after = FileStamp::of(b).unwrap().unwrap();
        assert_eq!((after.size, after.mtime), (before.size, before.mtime));
        let hits = cache.lookup(&stamps(&files)).0;
        assert!(hits[0].is_some() && hits[1].is_none() && hits[2].is_some());
    }

    #[test]
    fn files_changed_just_before_hashing_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"), dir.path());
        let files = vec![file(dir.path(), "fresh.txt", b"just written")];
        // The run "started" now, right after the write: racy, so not stored.
        cache.store(&files, SystemTime::now()).unwrap();
        assert!(cache.lookup(&stamps(&files)).0[0].is_none());
        cache.store(&files, later()).unwrap();
        assert!(cache.lookup(&stamps(&files)).0[0].is_some());
    }

    #[test]
    fn lookups_merge_sorted_lists_and_skip_unknown_paths() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"), dir.path());
        let stored = vec![file(dir.path(), "b", b"2"), file(dir.path(), "d", b"4")];
        cache.store(&stored, later()).unwrap();
        let mut all = vec![
            file(dir.path(), "a", b"1"),
            stored[0].clone(),
            file(dir.path(), "c", b"3"),
            stored[1].clone(),
            file(dir.path(), "e", b"5"),
        ];
        all.sort_by(|x, y| x.path.cmp(&y.path));
        let hits: Vec<bool> = cache
            .lookup(&stamps(&all))
            .0
            .iter()
            .map(Option::is_some)
            .collect();
        assert_eq!(hits, [false, true, false, true, false]);
    }

    #[test]
    fn a_damaged_cache_is_a_miss_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"), dir.path());
        let files = vec![file(dir.path(), "a", b"1")];
        std::fs::create_dir_all(cache.path().parent().unwrap()).unwrap();
        std::fs::write(cache.path(), "not a cache\na\t1\n").unwrap();
        assert!(cache.lookup(&stamps(&files)).0[0].is_none());
        let line = format!(
            "{HEADER}\na\t{}\tnot-hex\t-\n",
            files[0].stamp.unwrap().to_field()
        );
        std::fs::write(cache.path(), line).unwrap();
        assert!(cache.lookup(&stamps(&files)).0[0].is_none());
    }

    #[test]
    fn a_cache_dir_inside_the_source_folder_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let inner = root.join(".cache/hf-deploy");
        assert_eq!(
            HashCache::new(&inner, &root).inside(&root),
            Some(inner.as_path())
        );
        let outside = tempfile::tempdir().unwrap();
        let far = outside.path().join("not/yet/there");
        assert_eq!(HashCache::new(&far, &root).inside(&root), None);
        std::os::unix::fs::symlink(&root, outside.path().join("link")).unwrap();
        let via_link = outside.path().join("link/.cache");
        assert_eq!(
            HashCache::new(&via_link, &root).inside(&root),
            Some(root.join(".cache").as_path())
        );
    }

    #[test]
    fn cache_dir_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_dir(&env(&[("HF_DEPLOY_CACHE_DIR", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            default_dir(&env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/hf-deploy"))
        );
        assert_eq!(
            default_dir(&env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/hf-deploy"))
        );
        assert_eq!(default_dir(&env(&[])), None);
    }
}
