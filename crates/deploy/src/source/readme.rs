//! A Space's `README.md`: generated or merged front matter (see `frontmatter`), held in memory, so the rest of
//! the deploy treats it as any other file. It only decides; the caller reports.

use std::sync::Arc;

use hub::SpaceSdk;

use crate::source::{frontmatter, Content, LocalFile};

/// What [`space_readme`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceReadme {
    /// The sdk the Space will run with: the README's own when it names one, else `space_sdk`.
    pub sdk: SpaceSdk,
    /// What was added to the README, when it was rewritten.
    pub rewritten: Option<String>,
    /// The README declares an sdk other than `space_sdk` (it wins).
    pub declared_over_input: bool,
}

/// Gives a Space a README whose front matter names the sdk (see `source::frontmatter`).
pub fn space_readme(
    files: &mut Vec<Arc<LocalFile>>,
    space_sdk: SpaceSdk,
) -> std::io::Result<SpaceReadme> {
    let index = files.iter().position(|f| f.path == "README.md");
    let existing = match index {
        Some(i) => Some(match &files[i].content {
            Content::File(path) => std::fs::read(path)?,
            Content::Bytes(bytes) => bytes.to_vec(),
        }),
        None => None,
    };
    let Some(rewritten) = frontmatter::for_space(existing.as_deref(), space_sdk) else {
        // The README names its sdk: that is what the Hub will run, so create the Space with it too.
        let declared = existing
            .as_deref()
            .and_then(frontmatter::declared_sdk)
            .and_then(|d| SpaceSdk::parse(&d))
            .unwrap_or(space_sdk);
        return Ok(SpaceReadme {
            sdk: declared,
            rewritten: None,
            declared_over_input: declared != space_sdk,
        });
    };
    let file = Arc::new(LocalFile::from_bytes("README.md", rewritten.content));
    match index {
        Some(i) => files[i] = file,
        None => {
            let at = files.partition_point(|f| f.path.as_str() < "README.md");
            files.insert(at, file);
        }
    }
    Ok(SpaceReadme {
        sdk: space_sdk,
        rewritten: Some(rewritten.note),
        declared_over_input: false,
    })
}
