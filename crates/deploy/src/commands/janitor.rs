//! `hf-deploy janitor`: delete leftovers of test runs — repos whose *name* starts with the prefix
//! and whose age is past the TTL, across Spaces, models and datasets. Nothing else is ever touched:
//! no prefix, too young, or an unknown creation date all mean "keep". A delete answered 404 counts
//! as done (a concurrent teardown got there first). `--dry-run` makes no mutating request.

use std::io::Write;
use std::time::{Duration, SystemTime};

use hub::{HubClient, RepoId, RepoRef, RepoType};
use serde_json::json;

use crate::cli::JanitorArgs;
use crate::config::Secrets;
use crate::failure::Failure;
use crate::report::{Reporter, Style};
use crate::validate::process_env;

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// What to clean.
#[derive(Debug, Clone)]
pub struct JanitorOptions {
    /// Name prefix; an empty prefix matches nothing.
    pub prefix: String,
    /// TTL: only repos strictly older than this.
    pub older_than: Duration,
    pub dry_run: bool,
    pub repo_types: Vec<RepoType>,
    /// The clock (injected by tests).
    pub now: SystemTime,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct JanitorReport {
    /// Repos listed across all types.
    pub scanned: usize,
    /// Prefix and older than the TTL: deleted, or would be in a dry run.
    pub matched: Vec<RepoRef>,
    pub deleted: Vec<RepoRef>,
    /// The delete answered 404.
    pub already_gone: Vec<RepoRef>,
    /// Deletes that failed, with the error (the run goes on with the others).
    pub failed: Vec<(RepoRef, String)>,
    /// Listed but kept.
    pub kept: usize,
}

/// The whole rule: the name starts with a non-empty `prefix` and the repo is known to be
/// strictly older than `ttl` at `now`. A creation date in the future or missing keeps the repo.
pub fn should_delete(
    name: &str,
    created_at: Option<SystemTime>,
    now: SystemTime,
    prefix: &str,
    ttl: Duration,
) -> bool {
    if prefix.is_empty() || !name.starts_with(prefix) {
        return false;
    }
    created_at
        .and_then(|created| now.duration_since(created).ok())
        .is_some_and(|age| age > ttl)
}

fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s => format!("{}m", s / 60),
    }
}

/// Lists `owner`'s repos of every type in `opts.repo_types` (author + search=prefix, all pages)
/// and deletes those [`should_delete`] selects, writing one line per action to `out`.
pub async fn clean(
    client: &HubClient,
    owner: &str,
    opts: &JanitorOptions,
    out: &mut dyn Write,
) -> anyhow::Result<JanitorReport> {
    anyhow::ensure!(
        !opts.prefix.is_empty(),
        "the janitor needs a non-empty prefix"
    );
    let mut report = JanitorReport::default();
    for &repo_type in &opts.repo_types {
        let listed = client
            .list_repos(repo_type, owner, Some(&opts.prefix))
            .await
            .map_err(|e| anyhow::anyhow!("listing {repo_type} repos of {owner}: {e}"))?;
        report.scanned += listed.len();
        for summary in listed {
            // The server filters by author already; checking again means a server that ignores
            // `author` can never make us delete someone else's repo.
            let created = summary.created_at_time();
            let ours = summary.namespace().eq_ignore_ascii_case(owner);
            if !ours
                || !should_delete(
                    summary.name(),
                    created,
                    opts.now,
                    &opts.prefix,
                    opts.older_than,
                )
            {
                report.kept += 1;
                continue;
            }
            let Ok(id) = RepoId::parse(&summary.id) else {
                report.kept += 1;
                writeln!(
                    out,
                    "skipping {repo_type} {:?}: not a valid repo id",
                    summary.id
                )?;
                continue;
            };
            let repo = RepoRef::new(repo_type, id);
            let age = created
                .and_then(|c| opts.now.duration_since(c).ok())
                .map(age_text)
                .unwrap_or_default();
            report.matched.push(repo.clone());
            if opts.dry_run {
                writeln!(out, "would delete {repo_type} {} (age {age})", repo.id)?;
                continue;
            }
            match client.delete_repo(&repo).await {
                Ok(true) => {
                    writeln!(out, "deleted {repo_type} {} (age {age})", repo.id)?;
                    report.deleted.push(repo);
                }
                Ok(false) => {
                    writeln!(out, "already gone: {repo_type} {}", repo.id)?;
                    report.already_gone.push(repo);
                }
                Err(e) => {
                    writeln!(out, "failed to delete {repo_type} {}: {e}", repo.id)?;
                    report.failed.push((repo, e.to_string()));
                }
            }
        }
    }
    let verb = if opts.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    writeln!(
        out,
        "janitor: scanned {}, {verb} {}, already gone {}, failed {}, kept {}",
        report.scanned,
        if opts.dry_run {
            report.matched.len()
        } else {
            report.deleted.len()
        },
        report.already_gone.len(),
        report.failed.len(),
        report.kept
    )?;
    Ok(report)
}

fn ids(repos: &[RepoRef]) -> Vec<String> {
    repos.iter().map(RepoRef::resource_key).collect()
}

/// The `janitor` subcommand: token from `HF_TOKEN`, Hub from `HF_ENDPOINT`, namespace from
/// `--namespace` or the token's owner. Exit 3 without a valid token, 2 for a bad namespace,
/// 1 when listing or any delete failed.
pub async fn run(args: &JanitorArgs, style: Style) -> Result<(), Failure> {
    let secrets = Secrets::from_env(&process_env);
    let reporter = Reporter::new(style);
    reporter.mask(secrets.all());
    let Some(token) = secrets.token.clone() else {
        return Err(Failure::auth(
            "HF_TOKEN is not set: the janitor needs a token with write access to the namespace",
        ));
    };
    if let Some(ns) = &args.namespace {
        RepoId::validate_namespace(ns).map_err(|e| Failure::input(format!("namespace: {e}")))?;
    }
    let endpoint = process_env("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let client = HubClient::new(&endpoint, Some(token))
        .map_err(|e| Failure::input(format!("HF_ENDPOINT: {e}")))?;
    let owner = match &args.namespace {
        Some(ns) => ns.clone(),
        None => {
            client
                .whoami()
                .await
                .map_err(|e| Failure::hub("checking HF_TOKEN (whoami)", e))?
                .name
        }
    };
    let opts = JanitorOptions {
        prefix: args.prefix.clone(),
        older_than: args.older_than,
        dry_run: args.dry_run,
        repo_types: RepoType::ALL.to_vec(),
        now: SystemTime::now(),
    };
    // With --json, stdout carries only the JSON result; progress lines go to stderr.
    let report = if args.json {
        clean(&client, &owner, &opts, &mut std::io::stderr().lock()).await
    } else {
        clean(&client, &owner, &opts, &mut std::io::stdout().lock()).await
    }
    .map_err(|e| Failure::runtime(format!("janitor: {e:#}")))?;
    if args.json {
        let value = json!({
            "namespace": owner,
            "prefix": opts.prefix,
            "older_than_secs": opts.older_than.as_secs(),
            "dry_run": opts.dry_run,
            "scanned": report.scanned,
            "matched": ids(&report.matched),
            "deleted": ids(&report.deleted),
            "already_gone": ids(&report.already_gone),
            "failed": report.failed.iter().map(|(r, e)| json!({"repo": r.resource_key(), "error": e})).collect::<Vec<_>>(),
            "kept": report.kept,
        });
        let _ = writeln!(std::io::stdout().lock(), "{value}");
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!(
            "janitor: {} of {} deletes failed (see above); rerun to retry them",
            report.failed.len(),
            report.matched.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_table() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let h = |n: u64| Some(now - Duration::from_secs(n * 3600));
        let ttl = Duration::from_secs(6 * 3600);
        let p = "hfdeploy-e2e-";
        assert!(should_delete("hfdeploy-e2e-1-2-space", h(7), now, p, ttl));
        assert!(
            !should_delete("hfdeploy-e2e-1-2-space", h(6), now, p, ttl),
            "exactly the TTL is kept"
        );
        assert!(!should_delete("hfdeploy-e2e-x", h(5), now, p, ttl));
        assert!(!should_delete("my-hfdeploy-e2e-x", h(100), now, p, ttl));
        assert!(
            !should_delete("HFDEPLOY-E2E-x", h(100), now, p, ttl),
            "case-sensitive"
        );
        assert!(!should_delete("hfdeploy-e2e-x", None, now, p, ttl));
        assert!(!should_delete(
            "hfdeploy-e2e-x",
            Some(now + Duration::from_secs(10)),
            now,
            p,
            Duration::ZERO
        ));
        assert!(!should_delete("anything", h(100), now, "", ttl));
    }

    #[test]
    fn ages() {
        assert_eq!(age_text(Duration::from_secs(90)), "1m");
        assert_eq!(age_text(Duration::from_secs(7 * 3600 + 120)), "7h2m");
        assert_eq!(age_text(Duration::from_secs(2 * 86_400 + 3600)), "2d1h");
    }
}
