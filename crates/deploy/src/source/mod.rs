//! The local side of a deploy: which files `source_dir` holds, under which repo paths, with which hashes.

pub mod filter;
pub mod frontmatter;
pub mod hash;
pub mod hash_cache;
pub mod lfs_pointer;
pub mod names;
pub mod readme;
pub mod walk;

use std::path::PathBuf;

/// One file to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path in the repo: relative to `source_dir`, `/`-separated.
    pub path: String,
    /// Where to read the content (the file itself, its symlink target, or a generated README).
    pub source: PathBuf,
    pub size: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
    /// git blob sha1, lower-case hex; empty for files above 10 MiB (always LFS, see `hash`).
    pub git_sha1: String,
    /// Taken before the content was read; `None` for generated files (never cached).
    pub stamp: Option<hash_cache::FileStamp>,
}

impl LocalFile {
    /// The first (up to) 512 bytes, read again when preupload needs them (we don't keep them for every file,
    /// so memory stays bounded for folders with very many files).
    pub fn sample(&self) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut sample = Vec::with_capacity(hub::hash::SAMPLE_SIZE);
        std::fs::File::open(&self.source)?
            .take(hub::hash::SAMPLE_SIZE as u64)
            .read_to_end(&mut sample)?;
        Ok(sample)
    }
}
