//! The plan as a plain-text table for the log.

use crate::plan::{Change, Plan};

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

/// The counts table, then one line per changed file (`+` add, `~` update, `-` delete).
pub fn plan_lines(plan: &Plan) -> Vec<String> {
    let c = plan.counts();
    let lfs = plan.uploads.iter().filter(|u| u.lfs).count();
    let mut lines = vec![
        format!("  {:<10} {:>7}", "added", c.added),
        format!("  {:<10} {:>7}", "updated", c.updated),
        format!("  {:<10} {:>7}", "deleted", c.deleted),
        format!("  {:<10} {:>7}", "unchanged", c.unchanged),
        format!("  to send: {} ({lfs} via LFS)", bytes(plan.upload_bytes())),
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
}
