//! Detects Git LFS pointer files: what a checkout without `lfs: true` leaves instead of the real content.

/// First bytes of every Git LFS pointer file.
const POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// Pointer files are about 130 bytes; anything much larger is real content that happens to start alike.
const MAX_POINTER_SIZE: u64 = 1024;

/// True when a file of `size` bytes starting with `sample` is a Git LFS pointer.
pub fn is_pointer(size: u64, sample: &[u8]) -> bool {
    size <= MAX_POINTER_SIZE && sample.starts_with(POINTER_PREFIX)
}

/// The advice shown when pointers are found.
pub fn advice(paths: &[String]) -> String {
    let shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
    let more = if paths.len() > 5 {
        format!(" and {} more", paths.len() - 5)
    } else {
        String::new()
    };
    format!(
        "{} Git LFS pointer file(s) instead of real content: {}{more}. The checkout did not fetch LFS objects: \
         use `actions/checkout` with `lfs: true` (or run `git lfs pull`), or exclude these files",
        paths.len(),
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_pointers_only() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n";
        assert!(is_pointer(pointer.len() as u64, pointer));
        assert!(!is_pointer(5_000_000, pointer));
        assert!(!is_pointer(5, b"hello"));
    }
}
