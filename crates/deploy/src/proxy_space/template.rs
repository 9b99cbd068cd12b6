//! The proxy Space template embedded at build time, as in-memory files for the deploy engine: it plans and
//! commits them like any folder, so an unchanged template makes no commit and no rebuild.

use std::sync::Arc;

use hub::RepoId;

use crate::failure::Failure;
use crate::source::LocalFile;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/proxy_template.rs"));
}

/// Placeholders the template's README may contain; replaced when the files are written.
pub const TARGET_PLACEHOLDER: &str = "{{TARGET_REPO_ID}}";
pub const PROXY_PLACEHOLDER: &str = "{{PROXY_REPO_ID}}";

/// The embedded template's paths and bytes, as compiled in.
pub fn embedded() -> &'static [(&'static str, &'static [u8])] {
    embedded::FILES
}

/// Fails when the binary was built without a complete proxy crate next to it.
pub fn check_complete() -> Result<(), Failure> {
    let missing: Vec<&str> = embedded::REQUIRED
        .iter()
        .copied()
        .filter(|r| !embedded::FILES.iter().any(|(p, _)| p == r))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!(
            "this hf-deploy build has an incomplete proxy template (missing {}); rebuild it from a full checkout",
            missing.join(", ")
        )))
    }
}

/// The files to write into the proxy Space of `target`, placeholders replaced, sorted by path.
pub fn render(target: &RepoId, proxy: &RepoId) -> Vec<Arc<LocalFile>> {
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
            Arc::new(LocalFile::from_bytes(*path, content))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_substitutes_readme_placeholders_only() {
        let target = RepoId::parse("alice/app").unwrap();
        let proxy = RepoId::parse("alice/app-proxy").unwrap();
        for file in render(&target, &proxy) {
            let crate::source::Content::Bytes(content) = &file.content else {
                panic!("template files are in memory");
            };
            let text = String::from_utf8_lossy(content);
            if file.path == "README.md" {
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
