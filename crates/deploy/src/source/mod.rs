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
use std::sync::Arc;

/// Where a file's bytes are: on disk, or in memory (a generated README, the proxy Space's template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The file itself, or its symlink target.
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

/// One file to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path in the repo: relative to `source_dir`, `/`-separated.
    pub path: String,
    pub content: Content,
    pub size: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
    /// git blob sha1, lower-case hex; empty for files above 10 MiB (always LFS, see `hash`).
    pub git_sha1: String,
    /// Taken before the content was read; `None` for generated files (never cached).
    pub stamp: Option<hash_cache::FileStamp>,
}

impl LocalFile {
    /// A file held in memory, fingerprinted now.
    pub fn from_bytes(path: impl Into<String>, bytes: Vec<u8>) -> LocalFile {
        let h = hub::hash::hash_bytes(&bytes);
        LocalFile {
            path: path.into(),
            content: Content::Bytes(bytes.into()),
            size: h.size,
            sha256: h.sha256,
            git_sha1: h.git_sha1,
            stamp: None,
        }
    }

    /// The file on disk that holds the content; `None` for content in memory.
    pub fn disk_path(&self) -> Option<&std::path::Path> {
        match &self.content {
            Content::File(path) => Some(path),
            Content::Bytes(_) => None,
        }
    }

    /// The first (up to) 512 bytes, read again when preupload needs them (we don't keep them for every file,
    /// so memory stays bounded for folders with very many files).
    pub fn sample(&self) -> std::io::Result<Vec<u8>> {
        match &self.content {
            Content::File(path) => hub::hash::read_sample(path),
            Content::Bytes(bytes) => Ok(bytes[..bytes.len().min(hub::hash::SAMPLE_SIZE)].to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Preupload judges a file by its first 512 bytes, on disk or in memory alike.
    #[test]
    fn samples_are_the_first_512_bytes() {
        let content: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let in_memory = LocalFile::from_bytes("a.bin", content.clone());
        assert_eq!(in_memory.sample().unwrap(), content[..512]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, &content).unwrap();
        let on_disk = LocalFile {
            content: Content::File(path),
            ..in_memory.clone()
        };
        assert_eq!(on_disk.sample().unwrap(), content[..512]);
        assert_eq!(in_memory.disk_path(), None);
        assert_eq!(
            LocalFile::from_bytes("s", b"hi".to_vec()).sample().unwrap(),
            b"hi"
        );
    }
}
