//! `hf-deploy deploy`: validate → whoami → walk and hash (in parallel with reading the repo) → create the repo
//! if needed → plan against the remote tree → upload LFS objects → commit with `parentCommit` (re-plan on 412)
//! → wait for the Space → proxy → outputs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use hub::{CommitInfo, CreateRepo, HubClient, HubError, RepoInfo, RepoRef, RepoType};

use crate::access::{check_plan, check_write, whoami_failure, MISSING_TOKEN};
use crate::cli::DeployArgs;
use crate::contract::{DeployConfig, RepoTarget, Secrets};
use crate::execute::commit::{commit_plan, CommitError, CommitSpec, Limits};
use crate::execute::upload::upload_lfs;
use crate::exit::Failure;
use crate::plan::{self, ModeCache, Plan, Target};
use crate::proxy_space::{self, Preflight, ProvisionContext};
use crate::report::{github, human, json, summary, Outcome, Report, Reporter, Style};
use crate::source::hash_cache::HashCache;
use crate::source::readme::space_readme;
use crate::source::{walk, LocalFile};
use crate::space_wait::{wait_for_space, WaitOptions};
use crate::validate::{parse_bool, process_env, validate};

/// Re-plans after a 412 before giving up.
const MAX_REPLANS: usize = 5;
/// Above this size the Hub always stores a file in LFS (used to estimate modes in a dry run of a new repo).
const LFS_THRESHOLD: u64 = crate::source::hash::ALWAYS_LFS_ABOVE;

/// Runs a deploy and returns the exit code. Outputs, summary and the JSON result are written on success and
/// on failure (with what is known).
pub async fn run(args: &DeployArgs) -> i32 {
    let secrets = Secrets::from_env(&process_env);
    let json_mode = parse_bool("json", &args.json, false).unwrap_or(false);
    let reporter = Reporter::new(Style::detect(json_mode));
    // First thing: the runner must know the tokens before any line could contain one.
    reporter.mask(secrets.all());
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let result = deploy(args, &secrets, &reporter, &mut outcome).await;
    let code = match &result {
        Ok(plan) => {
            if outcome.dry_run {
                reporter.info(&format!(
                    "Dry run: nothing was changed ({:.1?}).",
                    started.elapsed()
                ));
            } else if !outcome.changed {
                reporter.info(&format!(
                    "{} is already up to date: no commit ({:.1?}).",
                    outcome.repo_id,
                    started.elapsed()
                ));
            } else {
                reporter.info(&format!(
                    "Deployed {} in {:.1?}.",
                    outcome.repo_id,
                    started.elapsed()
                ));
            }
            if reporter.style.github {
                if let Err(e) = github::write_summary(&summary::render(&outcome, plan.as_ref())) {
                    reporter.warn(&format!("cannot write the step summary: {e}"));
                }
            }
            if reporter.style.json {
                use std::io::Write;
                let _ = writeln!(std::io::stdout().lock(), "{}", json::result(&outcome));
            }
            0
        }
        Err(failure) => {
            reporter.failure(failure);
            if reporter.style.github {
                let _ = github::write_summary(&summary::render_failure(
                    &failure.message,
                    failure.code(),
                ));
            }
            failure.code()
        }
    };
    if reporter.style.github {
        if let Err(e) = github::write_outputs(&outcome) {
            reporter.warn(&format!("cannot write $GITHUB_OUTPUT: {e}"));
            if code == 0 {
                return 1;
            }
        }
    }
    code
}

/// `HF_DEPLOY_RETRY_BASE_MS` shortens the retry backoff (tests against a local emulator injecting faults).
fn retry_policy_from_env() -> Option<hub::RetryPolicy> {
    let ms: u64 = std::env::var("HF_DEPLOY_RETRY_BASE_MS")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let base = std::time::Duration::from_millis(ms.max(1));
    Some(hub::RetryPolicy {
        base_delay: base,
        max_delay: base * 10,
        max_server_wait: std::time::Duration::from_secs(5),
        ..hub::RetryPolicy::default()
    })
}

/// A dry-run plan for a repo that does not exist yet: everything is added; modes are estimated by size.
fn plan_for_new_repo(files: &[Arc<LocalFile>]) -> Plan {
    Plan {
        uploads: files
            .iter()
            .map(|f| plan::Upload {
                file: Arc::clone(f),
                change: plan::Change::Add,
                lfs: f.size > LFS_THRESHOLD,
            })
            .collect(),
        ..Plan::default()
    }
}

fn show_plan(reporter: &Reporter, repo: &RepoRef, cfg: &DeployConfig, plan: &Plan, again: bool) {
    let heading = format!(
        "{} for {} {} ({}{}):",
        if again { "New plan" } else { "Plan" },
        repo.repo_type,
        repo.id,
        cfg.revision,
        if cfg.create_pr {
            ", as a pull request"
        } else {
            ""
        }
    );
    reporter.group(&heading);
    for line in human::plan_lines(plan) {
        reporter.info(&line);
    }
    reporter.end_group();
}

async fn read_head(
    client: &HubClient,
    repo: &RepoRef,
    revision: &str,
) -> Result<Option<RepoInfo>, Failure> {
    match client.repo_info(repo, Some(revision)).await {
        Ok(info) => Ok(info),
        Err(HubError::NotFound { code, .. }) if code.as_deref() == Some("RevisionNotFound") => {
            Err(Failure::input(format!(
                "revision: the branch {revision:?} does not exist in {}; create it on the Hub first, or deploy to main",
                repo.id
            )))
        }
        Err(e) => Err(Failure::hub(&format!("reading {} {}", repo.repo_type, repo.id), e)),
    }
}

async fn deploy(
    args: &DeployArgs,
    secrets: &Secrets,
    reporter: &Reporter,
    outcome: &mut Outcome,
) -> Result<Option<Plan>, Failure> {
    // 1. Every input, locally: nothing remote has been called yet.
    let cfg = validate(args, &process_env)?;
    outcome.dry_run = cfg.dry_run;
    let Some(token) = secrets.token.clone() else {
        return Err(Failure::auth(MISSING_TOKEN));
    };
    let client = HubClient::new(&cfg.endpoint, Some(token.clone()))
        .map_err(|e| Failure::input(format!("HF_ENDPOINT: {e}")))?;
    let client = match retry_policy_from_env() {
        Some(policy) => client.with_retry_policy(policy),
        None => client,
    };
    let client = client.with_part_concurrency(crate::execute::env_usize(
        "HF_DEPLOY_PART_CONCURRENCY",
        hub::DEFAULT_PART_CONCURRENCY,
    ));

    // Walk and hash on every core from now on: it needs nothing remote, and overlaps the Hub round trips.
    let started = Instant::now();
    let root = cfg.source_dir.clone();
    let filter = cfg.filter.clone();
    let cache = cfg
        .hash_cache_dir
        .as_deref()
        .map(|dir| HashCache::new(dir, &cfg.source_dir));
    if let Some(inside) = cache.as_ref().and_then(|c| c.inside(&cfg.source_dir)) {
        reporter.info(&format!(
            "The hash cache folder {} is inside source_dir: it is left out of the deploy",
            inside.display()
        ));
    }
    let walking =
        tokio::task::spawn_blocking(move || walk::walk(&root, &filter, 0, cache.as_ref()));

    // 2. The token: who, which plan, may it write there.
    // With a full repo id the repo's state can be read in the same round trip as whoami (whoami's verdict is
    // still checked first).
    let early = match &cfg.target {
        RepoTarget::Full(id) => Some(RepoRef::new(cfg.repo_type, id.clone())),
        RepoTarget::UnderTokenOwner(_) => None,
    };
    let (who, early_info) = tokio::join!(client.whoami(), async {
        match &early {
            Some(repo) => Some(read_head(&client, repo, &cfg.revision).await),
            None => None,
        }
    });
    let who = who.map_err(whoami_failure)?;
    let repo_id = cfg
        .target
        .resolve(&who.name)
        .map_err(|e| Failure::input(format!("huggingface_repo: {e}")))?;
    let repo = RepoRef::new(cfg.repo_type, repo_id.clone());
    outcome.repo_id = repo_id.to_string();
    outcome.repo_url = client.repo_url(&repo);
    check_write(&who, &repo)?;
    let proxy_id = match &cfg.proxy {
        Some(p) => Some(proxy_space::preflight(&Preflight {
            whoami: &who,
            target: &repo,
            suffix: &p.suffix,
            target_url_override: p.target_url.as_deref(),
            allow_origins: &p.allow_origins,
        })?),
        None => None,
    };

    // 3. The repo's state, while the walk goes on.
    let info = match early_info {
        Some(info) => info,
        None => read_head(&client, &repo, &cfg.revision).await,
    };
    // An existing repo's tree is listed while the walk still hashes (it is read after the head, so a push in
    // between makes the commit fail with 412 and re-plan, never mix trees).
    let listing = async {
        match &info {
            Ok(Some(_)) => Some(client.list_tree(&repo, &cfg.revision).await),
            _ => None,
        }
    };
    let (walked, mut first_tree) = tokio::join!(walking, listing);
    let walked = walked.map_err(|e| Failure::runtime(format!("walking source_dir failed: {e}")))?;
    let info = info?;
    if !walked.problems.is_empty() {
        return Err(Failure::input(format!(
            "source_dir: {}",
            walked.problems.message()
        )));
    }
    if walked.files.is_empty() {
        // A mirror of an empty folder would delete every file of the repo: almost always a wrong source_dir
        // (a build step that did not run, a typo) rather than the intent.
        return Err(Failure::input(format!(
            "source_dir: {} holds no files to deploy{}; check source_dir (and the step that fills it)",
            cfg.source_dir.display(),
            if cfg.filter.include_patterns().is_empty() && cfg.filter.exclude_patterns().is_empty() {
                ""
            } else {
                " after include/exclude"
            }
        )));
    }
    reporter.info(&format!(
        "Hashed {} file(s), {} in {:.1?}{}",
        walked.files.len(),
        human::bytes(walked.total_bytes()),
        started.elapsed(),
        match walked.from_cache {
            0 => String::new(),
            n => format!(" ({n} unchanged since the last run, digests from the hash cache)"),
        }
    ));
    if let Some(problem) = &walked.cache_problem {
        reporter.warn(&format!(
            "cannot write the hash cache {problem}; the next run hashes every file again"
        ));
    }
    let mut files = walked.files;
    let scratch = tempfile::tempdir()
        .map_err(|e| Failure::runtime(format!("creating a scratch folder: {e}")))?;
    let sdk = if repo.repo_type == RepoType::Space {
        space_readme(&mut files, &cfg, &scratch, reporter)?
    } else {
        cfg.space_sdk
    };

    // 4. The repo: create it when missing (plan permitting), warn about a visibility mismatch.
    let explicit_private = args
        .private
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty());
    let mut info = match info {
        Some(info) => {
            if explicit_private && info.private != cfg.private {
                reporter.warn(&format!(
                    "{} is {} but private is {}: visibility is only set on creation, so it stays {}; change it in \
                     the repo settings",
                    repo.id,
                    if info.private { "private" } else { "public" },
                    cfg.private,
                    if info.private { "private" } else { "public" },
                ));
            }
            Some(info)
        }
        None => {
            if cfg.revision != "main" {
                return Err(Failure::input(format!(
                    "revision: {} does not exist yet, so it has no branch {:?}; deploy to main first",
                    repo.id, cfg.revision
                )));
            }
            check_plan(&who, &repo, sdk)?;
            None
        }
    };

    let proxy_token = secrets.proxy_token.as_ref().unwrap_or(&token);
    let proxy_ctx = proxy_id
        .as_ref()
        .zip(cfg.proxy.as_ref())
        .map(|(proxy, p)| ProvisionContext {
            client: &client,
            whoami: &who,
            target: &repo.id,
            proxy,
            target_url_override: p.target_url.as_deref(),
            allow_origins: &p.allow_origins,
            proxy_token,
            proxy_token_is_fallback: secrets.proxy_token.is_none(),
            wait: cfg.wait,
            wait_timeout: cfg.wait_timeout,
            dry_run: cfg.dry_run,
            report: reporter,
        });
    let prepared = match &proxy_ctx {
        Some(ctx) => Some(proxy_space::prepare(ctx).await?),
        None => None,
    };

    if info.is_none() {
        if cfg.dry_run {
            reporter.info(&format!(
                "{} {} does not exist: it would be created",
                repo.repo_type, repo.id
            ));
            let plan = plan_for_new_repo(&files);
            show_plan(reporter, &repo, &cfg, &plan, false);
            outcome.counts = plan.counts();
            if let (Some(ctx), Some(prepared)) = (&proxy_ctx, prepared) {
                fill_proxy(outcome, proxy_space::apply(ctx, prepared).await?);
            }
            return Ok(Some(plan));
        }
        let opts = CreateRepo {
            private: cfg.private,
            space_sdk: (repo.repo_type == RepoType::Space).then(|| sdk.as_str().to_string()),
        };
        let created = client.create_repo(&repo, &opts).await.map_err(|e| match e {
            HubError::PaymentRequired { .. } => Failure::auth(format!(
                "the Hub refused to create a {} Space in {}: its plan does not allow it (a paid plan is needed for \
                 gradio, streamlit and docker Spaces since July 2026; static Spaces are free)",
                sdk.as_str(),
                repo.id.namespace
            )),
            other => Failure::hub(&format!("creating {} {}", repo.repo_type, repo.id), other),
        })?;
        if created.already_existed {
            reporter.info(&format!(
                "{} {} was created meanwhile; deploying to it",
                repo.repo_type, repo.id
            ));
        } else {
            reporter.info(&format!(
                "Created {}{} {}",
                if cfg.private { "private " } else { "" },
                repo.repo_type,
                repo.id
            ));
        }
        info = read_head(&client, &repo, &cfg.revision).await?;
    }
    let Some(mut info) = info else {
        return Err(Failure::runtime(format!(
            "{} {} is missing right after its creation; rerun",
            repo.repo_type, repo.id
        )));
    };
    if repo.repo_type == RepoType::Space {
        outcome.space_url = info.host.clone().unwrap_or_default();
    }

    // 5. Plan, upload, commit; re-plan when someone else pushed meanwhile.
    let target = Target {
        client: &client,
        repo: &repo,
        revision: &cfg.revision,
        create_pr: cfg.create_pr,
    };
    let spec = CommitSpec {
        client: &client,
        repo: &repo,
        revision: &cfg.revision,
        create_pr: cfg.create_pr,
        summary: &cfg.commit_summary,
        description: &cfg.commit_description,
        limits: Limits::from_env(),
    };
    let mut modes = ModeCache::default();
    let mut uploaded = HashSet::new();
    let mut commits: Vec<CommitInfo> = Vec::new();
    let mut replans = 0;
    let final_plan = loop {
        let tree = match first_tree.take() {
            Some(listed) => listed,
            None => client.list_tree(&repo, &cfg.revision).await,
        }
        .map_err(|e| Failure::hub(&format!("listing the files of {}", repo.id), e))?;
        // Changed files over 10 MiB are stored in LFS whatever preupload says, so their uploads start now,
        // alongside the preupload round trips that decide the other files' modes.
        let diff = plan::diff(&files, &tree, cfg.delete_stale);
        let early = if cfg.dry_run {
            Plan::default()
        } else {
            plan::always_lfs(&diff)
        };
        let (plan, early_sent) = tokio::join!(
            plan::build(&target, info.sha.clone(), diff, &mut modes),
            async {
                if early.uploads.is_empty() {
                    return Ok(());
                }
                upload_lfs(
                    &client,
                    &repo,
                    &cfg.revision,
                    &early,
                    &mut uploaded,
                    reporter,
                )
                .await
                .map(|_| ())
            }
        );
        let plan = plan?;
        early_sent?;
        drop(tree);
        show_plan(reporter, &repo, &cfg, &plan, replans > 0);
        if plan.is_empty() || cfg.dry_run {
            break plan;
        }
        upload_lfs(
            &client,
            &repo,
            &cfg.revision,
            &plan,
            &mut uploaded,
            reporter,
        )
        .await?;
        match commit_plan(&spec, &plan).await {
            Ok(made) => {
                commits.extend(made);
                break plan;
            }
            Err(CommitError::Stale { made }) => {
                commits.extend(made);
                replans += 1;
                if replans > MAX_REPLANS {
                    return Err(Failure::runtime(format!(
                        "{} kept changing while we committed ({MAX_REPLANS} re-plans); another deploy may be running \
                         in a loop: rerun when it is done",
                        repo.id
                    )));
                }
                reporter.info(&format!(
                    "{} changed since the plan was made (412): re-planning",
                    repo.id
                ));
                info = read_head(&client, &repo, &cfg.revision)
                    .await?
                    .ok_or_else(|| {
                        Failure::runtime(format!(
                            "{} {} disappeared during the deploy",
                            repo.repo_type, repo.id
                        ))
                    })?;
            }
            Err(CommitError::Failed(f)) => return Err(f),
        }
    };
    outcome.counts = final_plan.counts();
    outcome.changed = !commits.is_empty();
    if let Some(last) = commits.last() {
        outcome.commit_sha = Some(last.commit_oid.clone());
        outcome.pr_url = last.pr_url.clone();
        reporter.info(&format!(
            "Committed {} ({} commit(s)): {}",
            short(&last.commit_oid),
            commits.len(),
            last.commit_url
        ));
        if let Some(pr) = &last.pr_url {
            reporter.info(&format!("Pull request: {pr}"));
        }
    }

    // 6. The Space: wait until it runs (only after a commit to the branch: nothing else rebuilds it).
    if repo.repo_type == RepoType::Space && cfg.wait && outcome.changed && !cfg.create_pr {
        let opts = WaitOptions::from_env(cfg.wait_timeout).after_commit();
        reporter.info(&format!(
            "Waiting for the Space to build and start (up to {}s)",
            cfg.wait_timeout.as_secs()
        ));
        wait_for_space(&client, &repo.id, &opts, reporter)
            .await
            .map_err(|e| Failure::runtime(e.to_string()))?;
        if outcome.space_url.is_empty() {
            if let Ok(Some(fresh)) = client.repo_info(&repo, None).await {
                outcome.space_url = fresh.host.unwrap_or_default();
            }
        }
    }

    // 7. The proxy, after the Space it fronts.
    if let (Some(ctx), Some(prepared)) = (&proxy_ctx, prepared) {
        fill_proxy(outcome, proxy_space::apply(ctx, prepared).await?);
    }
    Ok(Some(final_plan))
}

fn fill_proxy(outcome: &mut Outcome, out: proxy_space::ProxyOutputs) {
    // A dry run computes the proxy's id and URL but creates nothing.
    outcome.proxy_enabled = !outcome.dry_run && !out.repo_id.is_empty();
    outcome.proxy_repo_id = out.repo_id;
    outcome.proxy_url = out.url;
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
