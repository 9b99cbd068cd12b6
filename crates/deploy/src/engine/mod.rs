//! The deploy engine: gather → plan → execute. The repo and the proxy Space go through the same steps; a dry
//! run prints the plan and stops, the one place that asks.

mod gather;
mod proxy_state;

use std::sync::Arc;

use hub::{HubClient, RepoType, Token};

use crate::access::MISSING_TOKEN;
use crate::config::{DeployConfig, Secrets};
use crate::context::Ctx;
use crate::execute::{
    self,
    sync::{EarlyUploads, Syncer},
};
use crate::failure::Failure;
use crate::plan::{proxy, DeployPlan};
use crate::proxy_space::{proxy_repo_id, template};
use crate::report::{human, Outcome, Report, Reporter};
use crate::source::LocalFile;
use crate::tuning::Tuning;

pub use gather::Gathered;
use proxy_state::ProxyToken;

/// A deploy that stopped: why, and what was known by then (the outputs are written on failure too).
#[derive(Debug)]
pub struct Stopped {
    pub failure: Failure,
    pub outcome: Outcome,
}

/// Deploys `cfg.source_dir` (and the proxy Space, when asked) and returns what happened. Nothing on the Hub
/// changes before the plan is complete; a failure says what to do next.
pub async fn deploy(
    cfg: &DeployConfig,
    secrets: &Secrets,
    tuning: &Tuning,
    reporter: &Reporter,
) -> Result<Outcome, Stopped> {
    let mut outcome = Outcome {
        dry_run: cfg.dry_run,
        ..Outcome::default()
    };
    match run(cfg, secrets, tuning, reporter, &mut outcome).await {
        Ok(()) => Ok(outcome),
        Err(failure) => Err(Stopped { failure, outcome }),
    }
}

async fn run(
    cfg: &DeployConfig,
    secrets: &Secrets,
    tuning: &Tuning,
    reporter: &Reporter,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let Some(token) = secrets.token.as_ref() else {
        return Err(Failure::auth(MISSING_TOKEN));
    };
    let proxy_token = ProxyToken {
        token: secrets.proxy_token.as_ref().unwrap_or(token),
        is_fallback: secrets.proxy_token.is_none(),
    };
    let ctx = Ctx {
        client: connect(cfg, token.clone(), tuning, reporter)?,
        cfg,
        tuning,
        reporter,
    };
    let gathered = gather::gather(&ctx).await?;
    outcome.repo_id = gathered.repo.id.to_string();
    outcome.repo_url = ctx.client.repo_url(&gathered.repo);
    let mut syncer = Syncer::for_repo(&ctx, &gathered.repo);
    if cfg.dry_run {
        let plan = make_plan(&ctx, &gathered, &proxy_token, &mut syncer, EarlyUploads::No).await?;
        show(&ctx, &plan);
        outcome.counts = plan.files.counts();
        if let Some(proxy) = &plan.proxy {
            outcome.proxy_repo_id = proxy.state.id.to_string();
            outcome.proxy_url = proxy.url.clone();
        }
        outcome.files = plan.files;
        return Ok(());
    }
    let plan = make_plan(
        &ctx,
        &gathered,
        &proxy_token,
        &mut syncer,
        EarlyUploads::Start,
    )
    .await?;
    show(&ctx, &plan);
    syncer.release_log();
    let Gathered { files, head, .. } = gathered;
    execute::run(&ctx, plan, &files, head, syncer, proxy_token.token, outcome).await
}

fn connect(
    cfg: &DeployConfig,
    token: Token,
    tuning: &Tuning,
    reporter: &Reporter,
) -> Result<HubClient, Failure> {
    let client = HubClient::new(&cfg.endpoint, Some(token))
        .map_err(|e| Failure::input(format!("HF_ENDPOINT: {e}")))?;
    let client = client.with_xet(tuning.xet);
    let client = match &tuning.retry {
        Some(policy) => client.with_retry_policy(policy.clone()),
        None => client,
    };
    // Every retry is said, with what failed and the wait: a slow Hub is visible, not silent.
    let log = reporter.clone();
    let client = client.with_retry_observer(Arc::new(move |n: &hub::RetryNotice| {
        log.info(&format!(
            "{} failed ({}); retry {} of {} in {:.1}s",
            n.what,
            n.error,
            n.attempt,
            n.retries,
            n.delay.as_secs_f64()
        ));
    }));
    Ok(client.with_part_concurrency(tuning.part_concurrency))
}

/// The whole plan. With [`EarlyUploads::Start`] (the plan will be carried out), changed files over 10 MiB,
/// which the Hub always stores in LFS, start uploading while preupload decides the other files' modes.
async fn make_plan(
    ctx: &Ctx<'_>,
    g: &Gathered,
    proxy_token: &ProxyToken<'_>,
    syncer: &mut Syncer<'_>,
    early: EarlyUploads,
) -> Result<DeployPlan, Failure> {
    let cfg = ctx.cfg;
    let files = match &g.head {
        Some(head) => {
            syncer
                .plan(&g.files, head.sha.clone(), &g.tree, early)
                .await?
        }
        None => crate::plan::files::diff(&g.files, &[], cfg.delete_stale).estimated(),
    };
    let proxy = match &cfg.proxy {
        Some(config) => {
            let id = proxy_repo_id(&g.repo.id, &config.suffix)?;
            let state = proxy_state::read(ctx, &g.who, &g.repo.id, id.clone(), proxy_token).await?;
            if g.head.as_ref().is_some_and(|h| !h.private) {
                ctx.reporter.info(&format!(
                    "target Space {} is public, so callers can also reach it directly; the proxy still adds its \
                     CORS policy and limits",
                    g.repo.id
                ));
            }
            let target_url = match &config.target_url {
                Some(url) => {
                    warn_about_upstream(ctx, url);
                    Some(url.clone())
                }
                None => target_origin(g)?,
            };
            let rendered: Vec<Arc<LocalFile>> = template::render(&g.repo.id, &id);
            Some(proxy::plan(
                state,
                config,
                rendered,
                target_url,
                proxy_token.token,
            ))
        }
        None => None,
    };
    Ok(DeployPlan {
        repo: g.repo.clone(),
        create: g.head.is_none().then_some(g.sdk),
        files,
        wait: wait_for_space(ctx, g),
        proxy,
    })
}

/// The proxy sends its token with every request it forwards: say so when `proxy_target_url` is not an https
/// Space of the Hub.
fn warn_about_upstream(ctx: &Ctx<'_>, url: &str) {
    let parsed = url::Url::parse(url).ok();
    let plain = parsed.as_ref().is_some_and(|u| u.scheme() == "http");
    let space = parsed
        .as_ref()
        .and_then(|u| u.host_str())
        .is_some_and(|h| h.ends_with(".hf.space"));
    let mut why = Vec::new();
    if plain {
        why.push("uses plain http (the token travels unencrypted)");
    }
    if !space {
        why.push("is not a Space (*.hf.space)");
    }
    if !why.is_empty() {
        ctx.reporter.warn(&format!(
            "proxy_target_url {url} {}: the proxy sends its token (proxy_hf_token) there with every request; \
             point it at a Space's https://….hf.space URL, or make sure you trust that host",
            why.join(" and ")
        ));
    }
}

/// Spaces build from their main branch: a deploy elsewhere (a branch, a pull request) rebuilds nothing.
fn wait_for_space(ctx: &Ctx<'_>, g: &Gathered) -> bool {
    let cfg = ctx.cfg;
    if g.repo.repo_type != RepoType::Space || !cfg.wait {
        return false;
    }
    let elsewhere = if cfg.create_pr {
        Some("opens a pull request".to_string())
    } else if cfg.revision != "main" {
        Some(format!("commits to the branch {}", cfg.revision))
    } else {
        None
    };
    match elsewhere {
        Some(what) => {
            ctx.reporter.info(&format!(
                "Not waiting for the Space: it builds from main, and this deploy {what}"
            ));
            false
        }
        None => true,
    }
}

/// The target Space's app URL as the proxy's upstream.
fn target_origin(g: &Gathered) -> Result<Option<String>, Failure> {
    // Unknown until the Space exists: decided after the target's deploy.
    let Some(host) = g.head.as_ref().and_then(|h| h.host.as_deref()) else {
        return Ok(None);
    };
    proxy::app_origin(host).map(Some).ok_or_else(|| {
        Failure::runtime(format!(
            "target Space {} reports an unusable app URL {host:?}; set proxy_target_url",
            g.repo.id
        ))
    })
}

/// Prints the plan: the repo, its files, then the proxy Space.
fn show(ctx: &Ctx<'_>, plan: &DeployPlan) {
    let reporter = ctx.reporter;
    if plan.create.is_some() {
        reporter.info(&format!(
            "{} {} does not exist yet: the plan creates it",
            plan.repo.repo_type, plan.repo.id
        ));
    }
    let cfg = ctx.cfg;
    reporter.show_plan(
        &human::plan_heading(
            &plan.repo,
            &cfg.revision,
            cfg.create_pr,
            human::Heading::First,
        ),
        &plan.files,
    );
    if let Some(proxy) = &plan.proxy {
        for line in human::proxy_plan_lines(proxy) {
            reporter.info(&line);
        }
    }
}
