//! Repo paths: which local files are never deployed, and which names the Hub would refuse.

/// True for paths never deployed: anything under a `.git` folder (or a submodule's `.git` file) and the
/// `huggingface_hub` cache folder, as `upload_folder` does.
pub fn always_excluded(rel: &str) -> bool {
    let mut segments = rel.split('/');
    let mut previous = "";
    for segment in segments.by_ref() {
        if segment == ".git" || (previous == ".cache" && segment == "huggingface") {
            return true;
        }
        previous = segment;
    }
    false
}

/// Why the Hub would refuse `rel` as a file path, if it would.
pub fn refusal(rel: &str) -> Option<String> {
    if let Some(c) = rel.chars().find(|c| c.is_control()) {
        return Some(format!("{rel:?} contains the control character {c:?}"));
    }
    if rel.contains('\\') {
        return Some(format!("{rel:?} contains a backslash"));
    }
    if rel.split('/').any(|s| s == ".cache") {
        return Some(format!(
            "{rel:?} is inside a `.cache` folder, which the Hub reserves"
        ));
    }
    if rel.len() > 1024 {
        return Some(format!(
            "{}… is longer than 1024 bytes",
            &rel[..rel.floor_char_boundary_compat(60)]
        ));
    }
    None
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, index: usize) -> usize {
        let mut i = index.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_and_refusals() {
        assert!(always_excluded(".git/config"));
        assert!(always_excluded("sub/.git"));
        assert!(always_excluded(".cache/huggingface/x"));
        assert!(!always_excluded(".github/workflows/x.yml"));
        assert!(!always_excluded("a.git/x"));
        assert!(refusal("ok/file.txt").is_none());
        assert!(refusal("bad\nname").is_some());
        assert!(refusal("a\\b").is_some());
        assert!(refusal(".cache/other").is_some());
    }
}
