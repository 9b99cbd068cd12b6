//! `.gitattributes` (which paths are LFS) and `.gitignore` (which paths preupload ignores).

use globset::{GlobBuilder, GlobMatcher};

struct Pattern {
    matcher: GlobMatcher,
    /// No `/` in the pattern: match the basename (and, for ignores, any folder name).
    basename: bool,
    dir_only: bool,
}

fn compile(raw: &str) -> Option<Pattern> {
    let dir_only = raw.ends_with('/');
    let p = raw.trim_end_matches('/');
    let basename = !p.contains('/');
    let p = p.trim_start_matches('/');
    if p.is_empty() {
        return None;
    }
    let matcher = GlobBuilder::new(p)
        .literal_separator(true)
        .build()
        .ok()?
        .compile_matcher();
    Some(Pattern {
        matcher,
        basename,
        dir_only,
    })
}

impl Pattern {
    /// Matches the file itself, or (for folder-style matches) one of its parent folders.
    fn matches(&self, path: &str, include_dirs: bool) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        if !self.dir_only {
            let target = if self.basename {
                segments.last().copied().unwrap_or(path)
            } else {
                path
            };
            if self.matcher.is_match(target) {
                return true;
            }
        }
        if include_dirs {
            for i in 1..segments.len() {
                let target = if self.basename {
                    segments[i - 1].to_string()
                } else {
                    segments[..i].join("/")
                };
                if self.matcher.is_match(&target) {
                    return true;
                }
            }
        }
        false
    }
}

/// The `filter=lfs` patterns of a `.gitattributes`.
pub struct LfsRules(Vec<Pattern>);

impl LfsRules {
    pub fn parse(text: &str) -> Self {
        let mut v = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let Some(pat) = parts.next() else { continue };
            if parts.any(|a| a == "filter=lfs") {
                if let Some(p) = compile(pat) {
                    v.push(p);
                }
            }
        }
        LfsRules(v)
    }
    pub fn is_lfs(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.matches(path, false))
    }
}

/// The patterns of a `.gitignore` (negations are not supported and are skipped).
pub struct IgnoreRules(Vec<Pattern>);

impl IgnoreRules {
    pub fn parse(text: &str) -> Self {
        IgnoreRules(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
                .filter_map(compile)
                .collect(),
        )
    }
    pub fn is_ignored(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.matches(path, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfs_rules() {
        let r = LfsRules::parse(
            "*.bin filter=lfs diff=lfs merge=lfs -text\nsaved_model/**/* filter=lfs\n*.txt text\n",
        );
        assert!(r.is_lfs("a/b/model.bin"));
        assert!(r.is_lfs("saved_model/x/y.pb"));
        assert!(!r.is_lfs("a.txt"));
    }

    #[test]
    fn ignore_rules() {
        let r = IgnoreRules::parse("# c\n*.log\nbuild/\n/secret.txt\n");
        assert!(r.is_ignored("x/y.log"));
        assert!(r.is_ignored("build/out.js"));
        assert!(r.is_ignored("secret.txt"));
        assert!(!r.is_ignored("src/main.rs"));
    }
}
