//! Which fingerprints a file needs, computed in one streamed read by `hub::hash`. Files above 10 MiB are
//! always stored in LFS by the Hub, so only their sha256 matters: skipping the git blob sha1 there roughly
//! halves the hashing time of large files.

use std::io;
use std::path::Path;

use hub::hash::Digests;
use hub::FileHashes;

/// The Hub stores every file larger than this in LFS (its "files larger than 10 MiB" rule).
pub const ALWAYS_LFS_ABOVE: u64 = 10 << 20;

/// Hashes `path`, whose size the walk already read; `git_sha1` is empty for files that will always be LFS. (The
/// hashers check the size again on the open file and fail if it changed.)
pub fn fingerprint(path: &Path, size: u64) -> io::Result<FileHashes> {
    let digests = if size > ALWAYS_LFS_ABOVE {
        Digests::Sha256Only
    } else {
        Digests::Both
    };
    hub::hash::hash_file(path, digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_get_sha256_only() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"hello\n").unwrap();
        let h = fingerprint(&small, 6).unwrap();
        assert_eq!(h.git_sha1, "ce013625030ba8dba906f756967f9e9ca394464a");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![7u8; (ALWAYS_LFS_ABOVE + 1) as usize]).unwrap();
        let h = fingerprint(&big, ALWAYS_LFS_ABOVE + 1).unwrap();
        assert!(h.git_sha1.is_empty());
        assert_eq!(
            h.sha256,
            hub::hash::hash_bytes(&vec![7u8; (ALWAYS_LFS_ABOVE + 1) as usize]).sha256
        );
    }
}
