//! The plan as a plain-text table for the log.

use hub::RepoRef;

use crate::plan::files::{Change, FilePlan};
use crate::plan::proxy::ProxyPlan;
use crate::proxy_space::settings;

/// Files listed one per line in the log; the rest are counted.
pub const MAX_LISTED: usize = 200;

/// `1.5 MiB`-style sizes.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Which plan of a deploy a heading introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    /// The plan made from what was gathered.
    First,
    /// The repo was just created: planned again against what the Hub wrote into it.
    Created,
    /// After a 412: someone pushed meanwhile.
    Again,
}

/// `Plan for space alice/app (main):`, `… now that it exists:` or `New plan …` after a re-plan.
pub fn plan_heading(repo: &RepoRef, revision: &str, create_pr: bool, heading: Heading) -> String {
    format!(
        "{} for {} {} ({revision}{}){}:",
        if heading == Heading::Again {
            "New plan"
        } else {
            "Plan"
        },
        repo.repo_type,
        repo.id,
        if create_pr { ", as a pull request" } else { "" },
        if heading == Heading::Created {
            ", now that it exists"
        } else {
            ""
        }
    )
}

/// The proxy Space's part of the plan, a line per write.
pub fn proxy_plan_lines(plan: &ProxyPlan) -> Vec<String> {
    let id = &plan.state.id;
    let mut lines = Vec::new();
    if plan.creates() {
        lines.push(format!("proxy Space {id}: create (public, docker)"));
    }
    match &plan.settings {
        Some(s) => {
            for (key, value) in &s.variables {
                lines.push(format!("proxy Space {id}: set variable {key} = {value}"));
            }
            if s.secret {
                lines.push(format!(
                    "proxy Space {id}: set secret {}",
                    settings::TOKEN_SECRET
                ));
            }
        }
        None => lines.push(format!(
            "proxy Space {id}: set {} and {} once the target Space exists",
            settings::TARGET_URL,
            settings::ALLOW_ORIGINS
        )),
    }
    let c = plan.template.counts();
    if plan.template.is_empty() {
        lines.push(format!("proxy Space {id}: template up to date"));
    } else {
        lines.push(format!(
            "proxy Space {id}: template {} added, {} updated, {} deleted, {} unchanged",
            c.added, c.updated, c.deleted, c.unchanged
        ));
    }
    lines
}

/// The counts table, then one line per changed file (`+` add, `~` update, `-` delete).
pub fn plan_lines(plan: &FilePlan) -> Vec<String> {
    let c = plan.counts();
    let lfs = plan.uploads.iter().filter(|u| u.lfs).count();
    let mut lines = vec![
        format!("  {:<10} {:>7}", "added", c.added),
        format!("  {:<10} {:>7}", "updated", c.updated),
        format!("  {:<10} {:>7}", "deleted", c.deleted),
        format!("  {:<10} {:>7}", "unchanged", c.unchanged),
        // LFS objects the Hub already holds are not sent again: the upload lines say what actually goes.
        if lfs > 0 {
            format!(
                "  changed:   {} ({lfs} via LFS, sent only if the Hub lacks them)",
                bytes(plan.upload_bytes())
            )
        } else {
            format!("  changed:   {}", bytes(plan.upload_bytes()))
        },
    ];
    let mut listed = 0;
    for upload in &plan.uploads {
        if listed == MAX_LISTED {
            break;
        }
        let mark = if upload.change == Change::Add {
            '+'
        } else {
            '~'
        };
        let how = if upload.lfs { "lfs" } else { "regular" };
        lines.push(format!(
            "  {mark} {} ({}, {how})",
            upload.file.path,
            bytes(upload.file.size)
        ));
        listed += 1;
    }
    for path in &plan.deletes {
        if listed == MAX_LISTED {
            break;
        }
        lines.push(format!("  - {path}"));
        listed += 1;
    }
    let total = plan.uploads.len() + plan.deletes.len();
    if total > listed {
        lines.push(format!("  … and {} more", total - listed));
    }
    for path in &plan.ignored {
        lines.push(format!("  ! {path} (ignored by the repo's .gitignore)"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    use crate::plan::files::test_upload as upload;

    /// The table counts what changed and how much content that is; LFS files are flagged as sent only if
    /// the Hub lacks them.
    #[test]
    fn plan_lines_count_changed_content() {
        let plan = FilePlan {
            uploads: vec![upload("a.txt", 1536, false), upload("w.bin", 3 << 20, true)],
            deletes: vec!["old".into()],
            unchanged: 4,
            ..FilePlan::default()
        };
        let lines = plan_lines(&plan);
        assert!(
            lines.contains(&"  added            2".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"  unchanged        4".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(
                &"  changed:   3.0 MiB (1 via LFS, sent only if the Hub lacks them)".to_string()
            ),
            "{lines:?}"
        );
        assert!(lines.contains(&"  - old".to_string()), "{lines:?}");
        let small = FilePlan {
            uploads: vec![upload("a.txt", 1, false)],
            ..FilePlan::default()
        };
        assert!(plan_lines(&small).contains(&"  changed:   1 B".to_string()));
    }
}
