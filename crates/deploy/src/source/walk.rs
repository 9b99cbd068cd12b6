//! Walks `source_dir` on all cores and hashes every deployed file once (sha256 + git blob sha1 in one streamed
//! read, by `hub::hash`). The walk only finds the files; a pool of one thread per core then hashes them from a
//! shared queue, largest first, so a folder of a few large files keeps every core busy too (the walker visits a
//! folder's files on the one thread that read the folder).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ignore::{WalkBuilder, WalkState};

use super::filter::PathFilter;
use super::hash_cache::{FileStamp, HashCache};
use super::{lfs_pointer, names, Content, LocalFile};

/// Why the folder cannot be deployed as it is (each is a bad-input error).
#[derive(Debug, Default)]
pub struct Problems {
    pub escaping_symlinks: Vec<String>,
    /// `link → target` where the target is inside the folder but left out by the rules.
    excluded_targets: Vec<String>,
    pub lfs_pointers: Vec<String>,
    pub bad_names: Vec<String>,
    pub other: Vec<String>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.escaping_symlinks.is_empty()
            && self.excluded_targets.is_empty()
            && self.lfs_pointers.is_empty()
            && self.bad_names.is_empty()
            && self.other.is_empty()
    }

    /// One message covering every kind of problem found.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        let list = |items: &[String]| {
            let mut shown: Vec<String> = items.iter().take(5).cloned().collect();
            if items.len() > 5 {
                shown.push(format!("and {} more", items.len() - 5));
            }
            shown.join(", ")
        };
        if !self.escaping_symlinks.is_empty() {
            parts.push(format!(
                "symlinks that point outside source_dir are refused (the Hub would get files from elsewhere on \
                 this machine): {}; replace them with real files or exclude them",
                list(&self.escaping_symlinks)
            ));
        }
        if !self.excluded_targets.is_empty() {
            parts.push(format!(
                "symlinks whose target is left out of the deploy (.git, .cache/huggingface, include/exclude) are \
                 refused, so a link cannot publish what the rules keep out: {}; remove the links or exclude them",
                list(&self.excluded_targets)
            ));
        }
        if !self.lfs_pointers.is_empty() {
            parts.push(lfs_pointer::advice(&self.lfs_pointers));
        }
        if !self.bad_names.is_empty() {
            parts.push(format!(
                "file names the Hub would refuse: {}; rename them or add them to exclude",
                list(&self.bad_names)
            ));
        }
        if !self.other.is_empty() {
            parts.push(format!("cannot read: {}", list(&self.other)));
        }
        parts.join("; ")
    }
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Sorted by repo path; shared (not copied) with the plan.
    pub files: Vec<Arc<LocalFile>>,
    pub problems: Problems,
    /// Files whose digests came from the hash cache (not read).
    pub from_cache: usize,
    /// Why the hash cache could not be written (the deploy goes on without it).
    pub cache_problem: Option<String>,
}

impl Walked {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

enum Found {
    /// Found and allowed; hashed after the walk.
    Pending(String, PathBuf),
    /// Boxed in its `Arc` from the start: the walk's lists of results stay a few words per file.
    File(Arc<LocalFile>),
    Symlink(String),
    ExcludedTarget(String),
    Pointer(String),
    BadName(String),
    Other(String),
}

fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| path.display().to_string())?;
    let mut parts = Vec::new();
    for component in rel.components() {
        match component.as_os_str().to_str() {
            Some(s) => parts.push(s.to_string()),
            None => return Err(format!("{:?} (not valid UTF-8)", rel.display().to_string())),
        }
    }
    Ok(parts.join("/"))
}

fn visit(root: &Path, path: &Path, is_symlink: bool, filter: &PathFilter) -> Option<Found> {
    let rel = match relative(root, path) {
        Ok(rel) => rel,
        Err(shown) => return Some(Found::BadName(shown)),
    };
    if rel.is_empty() || names::always_excluded(&rel) || !filter.allows(&rel) {
        return None;
    }
    if let Some(why) = names::refusal(&rel) {
        return Some(Found::BadName(why));
    }
    if !is_symlink {
        return Some(Found::Pending(rel, path.to_path_buf()));
    }
    Some(follow_link(root, rel, path, filter))
}

/// The one symlink rule: a link is deployed only when its resolved target is a file inside `root` whose own
/// path passes the same rules as the link's (`.git`, `.cache/huggingface`, include/exclude). Otherwise a link
/// would publish what the rules keep out (`notes.txt -> .git/config`).
fn follow_link(root: &Path, rel: String, path: &Path, filter: &PathFilter) -> Found {
    let target = match std::fs::canonicalize(path) {
        Ok(target) => target,
        Err(_) => return Found::Other(format!("{rel} (a broken symlink)")),
    };
    let Ok(target_rel) = relative(root, &target) else {
        return Found::Symlink(format!("{rel} → {}", target.display()));
    };
    if target.is_dir() {
        return Found::Other(format!(
            "{rel} (a symlink to a folder; deploy the folder itself or exclude the link)"
        ));
    }
    if names::always_excluded(&target_rel) || !filter.allows(&target_rel) {
        return Found::ExcludedTarget(format!("{rel} → {target_rel}"));
    }
    Found::Pending(rel, target)
}

/// A found file waiting for its digests.
struct Job {
    rel: String,
    source: PathBuf,
    size: u64,
    /// Taken before any read, so a later write always shows in it (see `hash_cache`).
    stamp: Option<FileStamp>,
}

/// Reads the metadata of every pending file (its size orders the hashing; its stamp keys the cache).
fn stat_all(pending: Vec<(String, PathBuf)>, done: &mut Vec<Found>) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(pending.len());
    for (rel, source) in pending {
        match std::fs::metadata(&source) {
            Ok(meta) => jobs.push(Job {
                rel,
                size: meta.len(),
                stamp: FileStamp::from_metadata(&meta),
                source,
            }),
            Err(e) => done.push(Found::Other(format!("{rel} ({e})"))),
        }
    }
    jobs
}

/// What the cache answered: files known unchanged, the rest still to hash, and the cache's entry count.
struct CacheSplit {
    hits: Vec<Found>,
    misses: Vec<Job>,
    entries: usize,
}

fn split_by_cache(cache: &HashCache, mut jobs: Vec<Job>) -> CacheSplit {
    if jobs.iter().any(|j| j.stamp.is_none()) {
        return CacheSplit {
            hits: Vec::new(),
            misses: jobs,
            entries: 0,
        };
    }
    jobs.sort_by(|a, b| a.rel.cmp(&b.rel));
    let wanted: Vec<(&str, FileStamp)> = jobs
        .iter()
        .filter_map(|j| Some((j.rel.as_str(), j.stamp?)))
        .collect();
    let (answers, entries) = cache.lookup(&wanted);
    drop(wanted);
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for (job, answer) in jobs.into_iter().zip(answers) {
        match answer {
            Some(cached) => hits.push(Found::File(Arc::new(LocalFile {
                path: job.rel,
                content: Content::File(job.source),
                size: job.size,
                sha256: cached.sha256,
                git_sha1: cached.git_sha1,
                stamp: job.stamp,
            }))),
            None => misses.push(job),
        }
    }
    CacheSplit {
        hits,
        misses,
        entries,
    }
}

fn hash_one(job: Job) -> Found {
    let Job {
        rel,
        source,
        size,
        stamp,
    } = job;
    match super::hash::fingerprint(&source, size) {
        Ok(h) if lfs_pointer::is_pointer(h.size, &h.sample) => Found::Pointer(rel),
        Ok(h) => Found::File(Arc::new(LocalFile {
            path: rel,
            content: Content::File(source),
            size: h.size,
            sha256: h.sha256,
            git_sha1: h.git_sha1,
            // A size that moved since the stat means a write raced the read: not a stamp to trust.
            stamp: stamp.filter(|s| s.size == h.size),
        })),
        Err(e) => Found::Other(format!("{rel} ({e})")),
    }
}

/// Hashes the jobs on `threads` workers (0 = one per core) pulling from one queue, largest first (the
/// last file to start is a small one, so no core idles while another hashes a big file at the end). Each job
/// moves out of the queue into its result, so a 100,000-file folder is held once, not twice.
fn hash_all(mut jobs: Vec<Job>, threads: usize) -> Vec<Found> {
    // Ascending: workers pop the largest from the end.
    jobs.sort_by_key(|job| job.size);
    let count = jobs.len();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if threads == 0 { cores } else { threads }.min(count).max(1);
    let queue = Mutex::new(jobs);
    let results: Mutex<Vec<Found>> = Mutex::new(Vec::with_capacity(count));
    let (queue, results) = (&queue, &results);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || loop {
                    let job = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(job) = job else { break };
                    let found = hash_one(job);
                    if let Ok(mut all) = results.lock() {
                        all.push(found);
                    }
                })
            })
            .collect();
        for handle in handles {
            if handle.join().is_err() {
                // A lost file would read as "deleted" to the plan: a failed worker fails the walk instead.
                if let Ok(mut all) = results.lock() {
                    all.push(Found::Other("a hashing thread failed".to_string()));
                }
            }
        }
    });
    let mut all = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    // Anything left in the queue (a poisoned lock) must not vanish either.
    let left = queue.lock().map_or(1, |q| q.len());
    if left > 0 || all.len() < count {
        all.push(Found::Other(format!(
            "{} file(s) could not be hashed",
            count.saturating_sub(all.len()).max(left)
        )));
    }
    all
}

/// Walks and hashes `root` (a canonical directory path) with `threads` workers (0 = one per core). With a
/// `cache`, files unchanged since it was written are not read, and the cache is rewritten when anything moved.
pub fn walk(root: &Path, filter: &PathFilter, threads: usize, cache: Option<&HashCache>) -> Walked {
    let started = SystemTime::now();
    let found: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let root_buf: PathBuf = root.to_path_buf();
    let prune_root = root_buf.clone();
    let prune_filter = filter.clone();
    // Our own cache, when it lives inside the folder (HOME deployed as `.`), is never part of the deploy.
    let prune_cache = cache.and_then(|c| c.inside(root)).map(Path::to_path_buf);
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(move |entry| {
            if !entry.file_type().is_some_and(|t| t.is_dir()) {
                return true;
            }
            if prune_cache.as_deref() == Some(entry.path()) {
                return false;
            }
            match relative(&prune_root, entry.path()) {
                Ok(rel) if rel.is_empty() => true,
                Ok(rel) => !(names::always_excluded(&rel) || prune_filter.prunes_dir(&rel)),
                Err(_) => true,
            }
        })
        .build_parallel();
    walker.run(|| {
        let found = &found;
        let root = &root_buf;
        Box::new(move |entry| {
            let item = match entry {
                Ok(entry) => {
                    let Some(kind) = entry.file_type() else {
                        return WalkState::Continue;
                    };
                    if kind.is_dir() {
                        return WalkState::Continue;
                    }
                    if !kind.is_file() && !kind.is_symlink() {
                        // Sockets, fifos, devices: nothing a repo can hold.
                        return WalkState::Continue;
                    }
                    visit(root, entry.path(), kind.is_symlink(), filter)
                }
                Err(e) => Some(Found::Other(e.to_string())),
            };
            if let Some(item) = item {
                if let Ok(mut all) = found.lock() {
                    all.push(item);
                }
            }
            WalkState::Continue
        })
    });
    let mut walked = Walked::default();
    let mut pending = Vec::new();
    let mut done = Vec::new();
    for item in found.into_inner().unwrap_or_default() {
        match item {
            Found::Pending(rel, source) => pending.push((rel, source)),
            other => done.push(other),
        }
    }
    let jobs = stat_all(pending, &mut done);
    let split = match cache {
        Some(cache) => split_by_cache(cache, jobs),
        None => CacheSplit {
            hits: Vec::new(),
            misses: jobs,
            entries: 0,
        },
    };
    walked.from_cache = split.hits.len();
    let hashed = split.misses.len();
    done.extend(split.hits);
    done.extend(hash_all(split.misses, threads));
    for item in done {
        match item {
            Found::Pending(rel, _) => walked.problems.other.push(format!("{rel} (not hashed)")),
            Found::File(f) => walked.files.push(f),
            Found::Symlink(p) => walked.problems.escaping_symlinks.push(p),
            Found::ExcludedTarget(p) => walked.problems.excluded_targets.push(p),
            Found::Pointer(p) => walked.problems.lfs_pointers.push(p),
            Found::BadName(p) => walked.problems.bad_names.push(p),
            Found::Other(p) => walked.problems.other.push(p),
        }
    }
    walked.files.sort_by(|a, b| a.path.cmp(&b.path));
    for list in [
        &mut walked.problems.escaping_symlinks,
        &mut walked.problems.excluded_targets,
        &mut walked.problems.lfs_pointers,
        &mut walked.problems.bad_names,
        &mut walked.problems.other,
    ] {
        list.sort();
    }
    if let Some(cache) = cache {
        let moved = hashed > 0 || split.entries != walked.from_cache;
        if moved && walked.problems.is_empty() {
            if let Err(e) = cache.store(&walked.files, started) {
                walked.cache_problem = Some(format!("{}: {e}", cache.path().display()));
            }
        }
    }
    walked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn walks_filters_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(&root, "a.txt", b"hello\n");
        write(&root, "sub/deep/b.bin", b"x");
        write(&root, ".git/config", b"[core]");
        write(&root, "skip/me.txt", b"no");
        write(&root, "x.tmp", b"no");
        let filter = PathFilter::new(None, Some("skip,*.tmp")).unwrap();
        let walked = walk(&root, &filter, 2, None);
        assert!(walked.problems.is_empty(), "{}", walked.problems.message());
        let paths: Vec<&str> = walked.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "sub/deep/b.bin"]);
        assert_eq!(
            walked.files[0].git_sha1,
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_escaping_symlinks_and_pointers() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", b"secret");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(&root, "inside.txt", b"ok");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("leak.txt"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("inside.txt"), root.join("alias.txt")).unwrap();
        write(
            &root,
            "model.bin",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n",
        );
        let walked = walk(&root, &PathFilter::default(), 2, None);
        // The link and where it points.
        let target = outside.path().canonicalize().unwrap().join("secret.txt");
        assert_eq!(
            walked.problems.escaping_symlinks,
            [format!("leak.txt → {}", target.display())]
        );
        assert_eq!(walked.problems.lfs_pointers, ["model.bin"]);
        let paths: Vec<&str> = walked.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["alias.txt", "inside.txt"]);
        assert!(walked.problems.message().contains("lfs: true"));
    }
}
