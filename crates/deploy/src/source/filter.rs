//! `include` / `exclude` globs, matched against paths relative to `source_dir` (with `/` separators).
//! Like `huggingface_hub`'s patterns, `*` crosses `/`; a pattern also matches everything under a folder of
//! that name (`docs` and `docs/` both exclude `docs/**`).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Which relative paths are deployed.
#[derive(Debug, Clone)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    include_patterns: Vec<String>,
    exclude_patterns: Vec<String>,
}

impl Default for PathFilter {
    fn default() -> Self {
        PathFilter {
            include: None,
            exclude: GlobSet::empty(),
            include_patterns: vec![],
            exclude_patterns: vec![],
        }
    }
}

/// Splits an input on commas and newlines, trimming items and dropping empty ones. Commas inside `{…}`
/// (glob alternatives such as `*.{py,txt}`) or `[…]` do not split.
pub fn split_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut braces, mut in_class) = (0usize, false);
    for c in text.chars() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => braces += 1,
            '}' if !in_class => braces = braces.saturating_sub(1),
            _ => {}
        }
        if c == '\n' || (c == ',' && braces == 0 && !in_class) {
            items.push(std::mem::take(&mut current));
            braces = 0;
            in_class = false;
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn build(patterns: &[String], input: &str) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let normalized = pattern.replace('\\', "/");
        let trimmed = normalized.trim_start_matches("./").trim_start_matches('/');
        let base = trimmed.trim_end_matches('/');
        if base.is_empty() {
            return Err(format!(
                "{input}: the pattern {pattern:?} matches nothing; remove it"
            ));
        }
        for variant in [base.to_string(), format!("{base}/**")] {
            let glob = GlobBuilder::new(&variant)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("{input}: {pattern:?} is not a valid glob ({})", e.kind()))?;
            builder.add(glob);
        }
    }
    builder
        .build()
        .map_err(|e| format!("{input}: invalid globs ({e})"))
}

impl PathFilter {
    /// Builds a filter from the raw `include` and `exclude` inputs (comma or newline separated).
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<PathFilter, String> {
        let include_patterns = include.map(split_list).unwrap_or_default();
        let exclude_patterns = exclude.map(split_list).unwrap_or_default();
        let include = if include_patterns.is_empty() {
            None
        } else {
            Some(build(&include_patterns, "include")?)
        };
        let exclude = build(&exclude_patterns, "exclude")?;
        Ok(PathFilter {
            include,
            exclude,
            include_patterns,
            exclude_patterns,
        })
    }

    /// True when the file at `rel` (relative, `/`-separated) is deployed.
    pub fn allows(&self, rel: &str) -> bool {
        if self.exclude.is_match(rel) {
            return false;
        }
        match &self.include {
            Some(set) => set.is_match(rel),
            None => true,
        }
    }

    /// True when nothing under the folder `rel` can be deployed, so the walk can skip it.
    pub fn prunes_dir(&self, rel: &str) -> bool {
        // Every pattern P comes with `P/**`: when P matches the folder, it matches all files under it.
        self.exclude.is_match(rel)
    }

    pub fn include_patterns(&self) -> &[String] {
        &self.include_patterns
    }

    pub fn exclude_patterns(&self) -> &[String] {
        &self.exclude_patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_and_exclude() {
        let f = PathFilter::new(Some("*.py,assets/"), Some("*.tmp\nassets/private")).unwrap();
        assert!(f.allows("app.py"));
        assert!(f.allows("src/deep/x.py"));
        assert!(f.allows("assets/logo.png"));
        assert!(!f.allows("assets/private/key.txt"));
        assert!(!f.allows("README.md"));
        assert!(!f.allows("x.py.tmp"));
        assert!(f.prunes_dir("assets/private"));
        assert!(!f.prunes_dir("assets"));
    }

    #[test]
    fn lists_keep_brace_alternatives() {
        assert_eq!(split_list("*.{py,txt}, a\nb,,"), ["*.{py,txt}", "a", "b"]);
        assert_eq!(split_list("[,]x,y"), ["[,]x", "y"]);
        // A brace inside a character class is a literal: it neither opens nor closes an alternative.
        assert_eq!(split_list("[{]a,b"), ["[{]a", "b"]);
        assert_eq!(split_list("{[}]a,b},c"), ["{[}]a,b}", "c"]);
        assert_eq!(split_list("[[,]x,y"), ["[[,]x", "y"]);
        let f = PathFilter::new(Some("*.{py,txt}"), None).unwrap();
        assert!(f.allows("a.py") && f.allows("b/c.txt") && !f.allows("d.md"));
    }

    #[test]
    fn default_allows_all_and_bad_glob_fails() {
        assert!(PathFilter::new(None, None).unwrap().allows("a/b/c"));
        let err = PathFilter::new(None, Some("a[b")).unwrap_err();
        assert!(err.contains("exclude") && err.contains("a[b"), "{err}");
    }
}
