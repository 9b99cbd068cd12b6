//! Carrying out a plan: create the repo if needed, sync its files (LFS uploads, then the commit), wait for
//! the Space, then the proxy Space. Never asks whether this is a dry run: a dry run never gets here.

pub mod commit;
pub mod lfs;
pub mod probe;
pub mod proxy;
pub mod space_wait;
pub mod sync;

use std::sync::Arc;

use hub::{CreateRepo, HubError, RepoInfo, RepoRef, RepoType, SpaceSdk, Token};

use crate::access::{plan_refusal, SpaceRole};
use crate::context::Ctx;
use crate::failure::Failure;
use crate::plan::DeployPlan;
use crate::report::{Outcome, Report};
use crate::source::LocalFile;
use space_wait::{wait_for_space, WaitOptions};
use sync::Syncer;

/// Carries out `plan` for `files`; fills `outcome` as it goes, so a failure still reports what is known.
pub async fn run(
    ctx: &Ctx<'_>,
    plan: DeployPlan,
    files: &[Arc<LocalFile>],
    head: Option<RepoInfo>,
    mut syncer: Syncer<'_>,
    proxy_token: &Token,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let repo = &plan.repo;
    // A repo created now is planned again against its first commit (the Hub writes .gitattributes).
    let (head, first) = match plan.create {
        Some(sdk) => {
            let created = create_repo(ctx, repo, sdk).await?;
            syncer.start_at(created.sha.clone());
            (Some(created), None)
        }
        None => (head, Some(plan.files)),
    };
    if repo.repo_type == RepoType::Space {
        outcome.space_url = head.and_then(|h| h.host).unwrap_or_default();
    }
    let synced = syncer.run(files, first).await?;
    outcome.counts = synced.plan.counts();
    outcome.files = synced.plan;
    outcome.changed = !synced.commits.is_empty();
    if let Some(last) = synced.commits.last() {
        outcome.commit_sha = Some(last.commit_oid.clone());
        outcome.pr_url = last.pr_url.clone();
        ctx.reporter.info(&format!(
            "Committed {} ({} commit(s)): {}",
            short(&last.commit_oid),
            synced.commits.len(),
            last.commit_url
        ));
        if let Some(pr) = &last.pr_url {
            ctx.reporter.info(&format!("Pull request: {pr}"));
        }
    }
    // Only a commit to the branch rebuilds the Space.
    if plan.wait && outcome.changed {
        wait_for_target(ctx, repo, outcome).await?;
    }
    if let Some(proxy_plan) = plan.proxy {
        let out = proxy::apply(ctx, proxy_plan, &repo.id, proxy_token).await?;
        outcome.proxy_enabled = true;
        outcome.proxy_repo_id = out.repo_id;
        outcome.proxy_url = out.url;
    }
    Ok(())
}

/// Creates the repo (plan permitting: the Hub's 402 gets our message) and returns its head.
async fn create_repo(ctx: &Ctx<'_>, repo: &RepoRef, sdk: SpaceSdk) -> Result<RepoInfo, Failure> {
    let cfg = ctx.cfg;
    let space = repo.repo_type == RepoType::Space;
    let opts = CreateRepo {
        visibility: cfg.visibility,
        space_sdk: space.then_some(sdk),
        hardware: cfg.space_hardware.clone().filter(|_| space),
    };
    let created = ctx
        .client
        .create_repo(repo, &opts)
        .await
        .map_err(|e| match e {
            HubError::PaymentRequired { .. } => {
                plan_refusal(&repo.id.namespace, sdk, SpaceRole::Target)
            }
            other => Failure::hub(&format!("creating {} {}", repo.repo_type, repo.id), other),
        })?;
    if created.already_existed {
        ctx.reporter.info(&format!(
            "{} {} was created meanwhile; deploying to it",
            repo.repo_type, repo.id
        ));
    } else {
        ctx.reporter.info(&format!(
            "Created {}{} {}{}",
            cfg.visibility
                .map(|v| format!("{} ", v.as_str()))
                .unwrap_or_default(),
            repo.repo_type,
            repo.id,
            cfg.space_hardware
                .as_deref()
                .filter(|_| space)
                .map(|h| format!(" on {h}"))
                .unwrap_or_default()
        ));
    }
    let head = ctx
        .client
        .repo_info(repo, Some(&cfg.revision))
        .await
        .map_err(|e| Failure::hub(&format!("reading {} {}", repo.repo_type, repo.id), e))?;
    match head {
        Some(info) => Ok(info),
        None => Err(Failure::runtime(format!(
            "{} {} is missing right after its creation; rerun",
            repo.repo_type, repo.id
        ))),
    }
}

/// Waits until the Space runs after our commit.
async fn wait_for_target(
    ctx: &Ctx<'_>,
    repo: &RepoRef,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let timeout = ctx.cfg.wait_timeout;
    ctx.reporter.info(&format!(
        "Waiting for the Space to build and start (up to {}s)",
        timeout.as_secs()
    ));
    let opts = WaitOptions::after_commit(timeout, ctx.tuning);
    wait_for_space(&ctx.client, &repo.id, &opts, ctx.reporter)
        .await
        .map_err(|e| Failure::runtime(e.to_string()))?;
    if outcome.space_url.is_empty() {
        if let Ok(Some(fresh)) = ctx.client.repo_info(repo, None).await {
            outcome.space_url = fresh.host.unwrap_or_default();
        }
    }
    Ok(())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
