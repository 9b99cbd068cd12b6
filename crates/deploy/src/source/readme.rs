//! A Space's `README.md`: generated or merged front matter (see `frontmatter`), written to a scratch file and
//! hashed, so the rest of the deploy treats it as any other file.

use std::sync::Arc;

use crate::contract::{DeployConfig, SpaceSdk};
use crate::exit::Failure;
use crate::report::{Report, Reporter};
use crate::source::{frontmatter, LocalFile};

/// Gives a Space a README whose front matter names the sdk (see `source::frontmatter`); returns the sdk the
/// Space will run with (the README's own, when it names one).
pub fn space_readme(
    files: &mut Vec<Arc<LocalFile>>,
    cfg: &DeployConfig,
    scratch: &tempfile::TempDir,
    reporter: &Reporter,
) -> Result<SpaceSdk, Failure> {
    let index = files.iter().position(|f| f.path == "README.md");
    let existing = match index {
        Some(i) => Some(
            std::fs::read(&files[i].source)
                .map_err(|e| Failure::input(format!("source_dir: cannot read README.md ({e})")))?,
        ),
        None => None,
    };
    let Some(rewritten) = frontmatter::for_space(existing.as_deref(), cfg.space_sdk) else {
        // The README names its sdk: that is what the Hub will run, so create the Space with it too.
        let declared = existing.as_deref().and_then(frontmatter::declared_sdk);
        return Ok(match declared.as_deref().and_then(SpaceSdk::parse) {
            Some(sdk) if sdk != cfg.space_sdk => {
                reporter.info(&format!(
                    "README.md declares `sdk: {}`, which wins over space_sdk ({})",
                    sdk.as_str(),
                    cfg.space_sdk.as_str()
                ));
                sdk
            }
            _ => cfg.space_sdk,
        });
    };
    reporter.info(&rewritten.note);
    let path = scratch.path().join("README.md");
    std::fs::write(&path, &rewritten.content)
        .map_err(|e| Failure::runtime(format!("writing the generated README.md: {e}")))?;
    let h = hub::hash::hash_file(&path)
        .map_err(|e| Failure::runtime(format!("hashing README.md: {e}")))?;
    let file = Arc::new(LocalFile {
        path: "README.md".into(),
        source: path,
        size: h.size,
        sha256: h.sha256,
        git_sha1: h.git_sha1,
        stamp: None,
    });
    match index {
        Some(i) => files[i] = file,
        None => {
            let at = files.partition_point(|f| f.path.as_str() < "README.md");
            files.insert(at, file);
        }
    }
    Ok(cfg.space_sdk)
}
