//! GitHub Actions files and escaping: `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`, workflow-command data.

use std::io::Write;
use std::path::Path;

use super::Outcome;

/// Escapes the data part of a workflow command (`::error::DATA`).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The outputs, in a fixed order, always all present.
pub fn outputs(outcome: &Outcome) -> [(&'static str, String); 8] {
    [
        ("repo_id", outcome.repo_id.clone()),
        ("repo_url", outcome.repo_url.clone()),
        ("space_url", outcome.space_url.clone()),
        ("proxy_enabled", outcome.proxy_enabled.to_string()),
        ("proxy_repo_id", outcome.proxy_repo_id.clone()),
        ("proxy_url", outcome.proxy_url.clone()),
        ("commit_sha", outcome.commit_sha.clone().unwrap_or_default()),
        ("pr_url", outcome.pr_url.clone().unwrap_or_default()),
    ]
}

/// `key=value` for single-line values, the heredoc form otherwise (with a delimiter not in the value).
pub fn format_outputs(pairs: &[(&str, String)]) -> String {
    let mut text = String::new();
    for (key, value) in pairs {
        if value.contains('\n') || value.contains('\r') {
            let mut delimiter = format!("HF_DEPLOY_EOF_{}", rand::random::<u64>());
            while value.contains(&delimiter) {
                delimiter = format!("HF_DEPLOY_EOF_{}", rand::random::<u64>());
            }
            text.push_str(&format!("{key}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{key}={value}\n"));
        }
    }
    text
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Appends the outputs to `$GITHUB_OUTPUT` when it is set.
pub fn write_outputs(outcome: &Outcome) -> std::io::Result<()> {
    match std::env::var_os("GITHUB_OUTPUT") {
        Some(path) if !path.is_empty() => {
            append(Path::new(&path), &format_outputs(&outputs(outcome)))
        }
        _ => Ok(()),
    }
}

/// Appends markdown to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn write_summary(markdown: &str) -> std::io::Result<()> {
    match std::env::var_os("GITHUB_STEP_SUMMARY") {
        Some(path) if !path.is_empty() => append(Path::new(&path), markdown),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(escape_data("a%b\nc\r"), "a%25b%0Ac%0D");
        let text = format_outputs(&[("a", "1".into()), ("b", "x\ny".into())]);
        assert!(text.starts_with("a=1\nb<<HF_DEPLOY_EOF_"));
        assert!(text.contains("\nx\ny\nHF_DEPLOY_EOF_"));
        let all = outputs(&Outcome::default());
        assert_eq!(all.len(), 8);
        assert_eq!(all[3].1, "false");
        // Always present, empty when they don't apply.
        assert_eq!((all[6].0, all[6].1.as_str()), ("commit_sha", ""));
        assert_eq!((all[7].0, all[7].1.as_str()), ("pr_url", ""));
    }
}
