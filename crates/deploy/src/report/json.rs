//! The `--json` result: one object on stdout (README "For agents and automation").

use serde_json::{json, Value};

use super::Outcome;
use crate::failure::Failure;

pub fn result(outcome: &Outcome) -> Value {
    let c = outcome.counts;
    json!({
        "repo_id": outcome.repo_id,
        "repo_url": outcome.repo_url,
        "space_url": outcome.space_url,
        "proxy_enabled": outcome.proxy_enabled,
        "proxy_repo_id": outcome.proxy_repo_id,
        "proxy_url": outcome.proxy_url,
        "commit_sha": outcome.commit_sha,
        "pr_url": outcome.pr_url,
        "changed": outcome.changed,
        "dry_run": outcome.dry_run,
        "added": c.added,
        "updated": c.updated,
        "deleted": c.deleted,
        "unchanged": c.unchanged,
    })
}

pub fn error(failure: &Failure) -> Value {
    json!({ "error": failure.message, "exit_code": failure.code() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let v = result(&Outcome::default());
        for key in [
            "repo_id",
            "repo_url",
            "space_url",
            "proxy_enabled",
            "proxy_repo_id",
            "proxy_url",
            "commit_sha",
            "changed",
            "dry_run",
            "added",
            "updated",
            "deleted",
            "unchanged",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!(v["commit_sha"].is_null());
        let e = error(&Failure::input("bad"));
        assert_eq!(e["exit_code"], 2);
    }
}
