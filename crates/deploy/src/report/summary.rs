//! The job step summary (markdown).

use super::human::bytes;
use super::Outcome;
use crate::plan::files::Change;

/// Rows listed in the summary's file table.
const MAX_ROWS: usize = 100;

/// Plain text in a table cell or link text: nothing in it is read as Markdown or HTML.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_ascii_punctuation() && !matches!(c, '/' | '-' | '.' | ':' | '_') => {
                out.push_str(&format!("&#{};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A file name as a code span in a table cell: the fence is longer than any run of backticks in the name, so a
/// name cannot close it and inject Markdown; `|` is escaped for the table.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}").replace('|', "\\|")
}

/// The warnings of the run, as a list (each says what to do).
fn warnings_section(warnings: &[String]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut md = String::from("#### Warnings\n\n");
    for w in warnings {
        md.push_str(&format!("- {}\n", cell(w)));
    }
    md.push('\n');
    md
}

/// Markdown for a finished (or dry) deploy, with the run's warnings.
pub fn render(outcome: &Outcome, warnings: &[String]) -> String {
    let plan = &outcome.files;
    let mut md = String::new();
    let title = if outcome.dry_run {
        "hf-deploy: dry run (nothing changed)"
    } else if outcome.pr_url.is_some() {
        "hf-deploy: pull request opened"
    } else if outcome.changed {
        "hf-deploy: deployed"
    } else {
        "hf-deploy: already up to date"
    };
    md.push_str(&format!("### {title}\n\n"));
    md.push_str(&format!(
        "Repo: [{}]({})",
        cell(&outcome.repo_id),
        outcome.repo_url
    ));
    if !outcome.space_url.is_empty() {
        md.push_str(&format!(" · App: {}", outcome.space_url));
    }
    if let Some(sha) = &outcome.commit_sha {
        md.push_str(&format!(
            " · Commit: `{}`",
            sha.chars().take(12).collect::<String>()
        ));
    }
    if let Some(pr) = &outcome.pr_url {
        md.push_str(&format!(" · Pull request: {pr}"));
    }
    if outcome.proxy_enabled {
        md.push_str(&format!(
            " · Proxy: [{}]({})",
            cell(&outcome.proxy_repo_id),
            outcome.proxy_url
        ));
    }
    md.push_str("\n\n");
    let c = outcome.counts;
    md.push_str("| added | updated | deleted | unchanged |\n|---:|---:|---:|---:|\n");
    md.push_str(&format!(
        "| {} | {} | {} | {} |\n\n",
        c.added, c.updated, c.deleted, c.unchanged
    ));
    if !plan.is_empty() {
        md.push_str("| | file | size | stored |\n|---|---|---:|---|\n");
        let mut rows = 0;
        for u in &plan.uploads {
            if rows == MAX_ROWS {
                break;
            }
            let mark = if u.change == Change::Add {
                "added"
            } else {
                "updated"
            };
            let how = if u.lfs { "LFS" } else { "regular" };
            md.push_str(&format!(
                "| {mark} | {} | {} | {how} |\n",
                code(&u.file.path),
                bytes(u.file.size)
            ));
            rows += 1;
        }
        for d in &plan.deletes {
            if rows == MAX_ROWS {
                break;
            }
            md.push_str(&format!("| deleted | {} | | |\n", code(d)));
            rows += 1;
        }
        let total = plan.uploads.len() + plan.deletes.len();
        if total > rows {
            md.push_str(&format!("\n… and {} more files.\n", total - rows));
        }
        md.push('\n');
    }
    md.push_str(&warnings_section(warnings));
    md
}

/// Markdown for a failed deploy, with the run's warnings.
pub fn render_failure(message: &str, code: i32, warnings: &[String]) -> String {
    format!(
        "### hf-deploy failed (exit code {code})\n\n```\n{}\n```\n\n{}",
        message.replace("```", "'''"),
        warnings_section(warnings)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::files::{FilePlan, Upload};
    use crate::source::LocalFile;

    #[test]
    fn renders_counts_and_files() {
        let plan = FilePlan {
            parent: "p".into(),
            uploads: vec![Upload {
                file: std::sync::Arc::new(LocalFile {
                    path: "a|b.txt".into(),
                    content: crate::source::Content::File("x".into()),
                    size: 2048,
                    sha256: "s".into(),
                    git_sha1: "g".into(),
                    stamp: None,
                }),
                change: Change::Add,
                lfs: false,
            }],
            deletes: vec!["old.txt".into()],
            ..FilePlan::default()
        };
        let outcome = Outcome {
            repo_id: "alice/app".into(),
            repo_url: "https://hub/spaces/alice/app".into(),
            changed: true,
            commit_sha: Some("0123456789abcdef".into()),
            counts: plan.counts(),
            files: plan,
            ..Outcome::default()
        };
        let md = render(&outcome, &["use a read token".to_string()]);
        assert!(md.contains("#### Warnings\n\n- use a read token\n"), "{md}");
        assert!(md.starts_with("### hf-deploy: deployed"), "{md}");
        assert!(md.contains("| 1 | 0 | 1 | 0 |"), "{md}");
        assert!(
            md.contains("| added | `a\\|b.txt` | 2.0 KiB | regular |"),
            "{md}"
        );
        assert!(md.contains("| deleted | `old.txt` | | |"), "{md}");
        assert!(md.contains("`0123456789ab`"), "{md}");
        let failed = render_failure("bad ``` input", 2, &[]);
        assert!(
            failed.contains("exit code 2") && !failed.contains("bad ```"),
            "{failed}"
        );
    }

    /// Nothing changed: counts only, no file table.
    #[test]
    fn an_empty_plan_has_no_file_table() {
        let md = render(&Outcome::default(), &[]);
        assert!(md.contains("| 0 | 0 | 0 | 0 |"), "{md}");
        assert!(!md.contains("| | file |"), "{md}");
    }

    /// File names are data: a backtick or `|` in one cannot end its code span or its table cell.
    #[test]
    fn file_names_cannot_inject_markdown() {
        assert_eq!(code("a|b.txt"), "`a\\|b.txt`");
        assert_eq!(code("x` ![i](http://e) `y"), "``x` ![i](http://e) `y``");
        assert_eq!(code("``run``"), "``` ``run`` ```");
        assert_eq!(code("two\nlines"), "`two lines`");
        assert_eq!(cell("a](http://e)[b"), "a&#93;&#40;http://e&#41;&#91;b");
    }
}
