//! Gather: who the token is, the repo's state and the local files, read at once where they don't depend on
//! each other. Remote reads only: nothing here changes the Hub.

use std::sync::Arc;
use std::time::Instant;

use hub::{HubError, RepoInfo, RepoRef, RepoType, SpaceSdk, TreeEntry, Visibility, WhoAmI};

use crate::access::{check_plan, check_write, whoami_failure, SpaceRole};
use crate::config::{DeployConfig, RepoTarget};
use crate::context::Ctx;
use crate::failure::Failure;
use crate::report::{human, Report};
use crate::source::hash_cache::HashCache;
use crate::source::readme::space_readme;
use crate::source::walk::{self, Walked};
use crate::source::LocalFile;
use crate::tree_cache;

/// What a deploy starts from.
pub struct Gathered {
    pub who: WhoAmI,
    pub repo: RepoRef,
    /// The revision's head; `None` when the repo does not exist.
    pub head: Option<RepoInfo>,
    /// The revision's files (empty when the repo does not exist).
    pub tree: Vec<TreeEntry>,
    pub files: Vec<Arc<LocalFile>>,
    /// The sdk the Space runs with (its README's, else `space_sdk`).
    pub sdk: SpaceSdk,
}

/// Reads the token's identity, the repo's head and tree, and walks and hashes `source_dir`, overlapping them.
pub async fn gather(ctx: &Ctx<'_>) -> Result<Gathered, Failure> {
    let cfg = ctx.cfg;
    let started = Instant::now();
    // Walk and hash on every core from now on: it needs nothing remote, and overlaps the Hub round trips.
    let walking = start_walk(ctx);
    // With a full repo id the repo's state is read in the same round trip as whoami (whose verdict is still
    // checked first).
    let early = match &cfg.target {
        RepoTarget::Full(id) => Some(RepoRef::new(cfg.repo_type, id.clone())),
        RepoTarget::UnderTokenOwner(_) => None,
    };
    let (who, early_head) = tokio::join!(ctx.client.whoami(), async {
        match &early {
            Some(repo) => Some(read_head(ctx, repo).await),
            None => None,
        }
    });
    let who = who.map_err(whoami_failure)?;
    let repo_id = cfg
        .target
        .resolve(&who.name)
        .map_err(|e| Failure::input(format!("huggingface_repo: {e}")))?;
    let repo = RepoRef::new(cfg.repo_type, repo_id);
    check_write(&who, &repo)?;
    if cfg.proxy.is_some() {
        check_plan(
            &who,
            &repo.id.namespace,
            SpaceSdk::Docker,
            None,
            SpaceRole::Proxy,
        )?;
    }
    let head = match early_head {
        Some(head) => head,
        None => read_head(ctx, &repo).await,
    };
    // An existing repo's tree is listed while the walk still hashes, by the head's commit id: exactly that
    // commit's files (kept by the tree cache), whatever is pushed meanwhile (the commit's parentCommit catches it).
    let listing = async {
        match &head {
            Ok(Some(info)) => Some(tree_cache::tree_at(ctx, &repo, &info.sha).await),
            _ => None,
        }
    };
    let (walked, tree) = tokio::join!(walking, listing);
    let walked = walked.map_err(|e| Failure::runtime(format!("walking source_dir failed: {e}")))?;
    let head = head?;
    let tree = tree
        .transpose()
        .map_err(|e| Failure::hub(&format!("listing the files of {}", repo.id), e))?
        .unwrap_or_default();
    let mut files = local_files(ctx, walked, started)?;
    let sdk = readme(ctx, &repo, &mut files)?;
    check_repo_state(ctx, &who, &repo, head.as_ref(), sdk)?;
    Ok(Gathered {
        who,
        repo,
        head,
        tree,
        files,
        sdk,
    })
}

fn start_walk(ctx: &Ctx<'_>) -> tokio::task::JoinHandle<Walked> {
    let cfg = ctx.cfg;
    let root = cfg.source_dir.clone();
    let filter = cfg.filter.clone();
    let cache = cfg
        .hash_cache_dir
        .as_deref()
        .map(|dir| HashCache::new(dir, &cfg.source_dir));
    if let Some(inside) = cache.as_ref().and_then(|c| c.inside(&cfg.source_dir)) {
        ctx.reporter.info(&format!(
            "The hash cache folder {} is inside source_dir: it is left out of the deploy",
            inside.display()
        ));
    }
    tokio::task::spawn_blocking(move || walk::walk(&root, &filter, 0, cache.as_ref()))
}

/// The head of the configured revision; `None` when the repo does not exist.
pub async fn read_head(ctx: &Ctx<'_>, repo: &RepoRef) -> Result<Option<RepoInfo>, Failure> {
    let revision = &ctx.cfg.revision;
    match ctx.client.repo_info(repo, Some(revision)).await {
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

/// The walk's files, refused when the folder has problems or nothing to deploy.
fn local_files(
    ctx: &Ctx<'_>,
    walked: Walked,
    started: Instant,
) -> Result<Vec<Arc<LocalFile>>, Failure> {
    let cfg = ctx.cfg;
    if !walked.problems.is_empty() {
        return Err(Failure::input(format!(
            "source_dir: {}",
            walked.problems.message()
        )));
    }
    if walked.files.is_empty() {
        // A mirror of an empty folder would delete every file of the repo: almost always a wrong source_dir
        // (a build step that did not run, a typo) rather than the intent.
        let filtered =
            !cfg.filter.include_patterns().is_empty() || !cfg.filter.exclude_patterns().is_empty();
        return Err(Failure::input(format!(
            "source_dir: {} holds no files to deploy{}; check source_dir (and the step that fills it)",
            cfg.source_dir.display(),
            if filtered { " after include/exclude" } else { "" }
        )));
    }
    ctx.reporter.info(&format!(
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
        ctx.reporter.warn(&format!(
            "cannot write the hash cache {problem}; the next run hashes every file again"
        ));
    }
    Ok(walked.files)
}

/// A Space's README names its sdk; returns the sdk the Space runs with.
fn readme(
    ctx: &Ctx<'_>,
    repo: &RepoRef,
    files: &mut Vec<Arc<LocalFile>>,
) -> Result<SpaceSdk, Failure> {
    let sdk = ctx.cfg.space_sdk;
    if repo.repo_type != RepoType::Space {
        return Ok(sdk);
    }
    let readme = space_readme(files, sdk)
        .map_err(|e| Failure::input(format!("source_dir: cannot read README.md ({e})")))?;
    if readme.rewritten.is_some() && readme.sdk == SpaceSdk::Streamlit {
        // We would write `sdk: streamlit` into the README ourselves: a Space the Hub no longer builds for new apps.
        return Err(streamlit_retired());
    }
    if let Some(note) = &readme.rewritten {
        ctx.reporter.info(note);
    }
    if readme.declared_over_input {
        ctx.reporter.info(&format!(
            "README.md declares `sdk: {}`, which wins over space_sdk ({})",
            readme.sdk.as_str(),
            sdk.as_str()
        ));
    }
    Ok(readme.sdk)
}

/// `space_sdk: streamlit` for a Space we would create or whose README we would write: the Hub deprecated its
/// built-in Streamlit SDK on 2025-04-30 and creates Streamlit apps as Docker Spaces from a template.
fn streamlit_retired() -> Failure {
    Failure::input(
        "space_sdk: streamlit is no longer offered by the Hub for new Spaces (its built-in Streamlit SDK was \
         deprecated on 2025-04-30; Streamlit apps are now Docker Spaces). Set space_sdk: docker, add a Dockerfile \
         that installs your requirements and runs `streamlit run app.py --server.port=8501 --server.address=0.0.0.0`, \
         and put `app_port: 8501` in README.md's front matter, as the Hub's Streamlit template does: \
         https://huggingface.co/spaces/streamlit/streamlit-template-space. Nothing was changed on the Hub.",
    )
}

/// A visibility that differs from `private` is only reported; a repo to create must be creatable.
fn check_repo_state(
    ctx: &Ctx<'_>,
    who: &WhoAmI,
    repo: &RepoRef,
    head: Option<&RepoInfo>,
    sdk: SpaceSdk,
) -> Result<(), Failure> {
    let cfg: &DeployConfig = ctx.cfg;
    match head {
        Some(info) => {
            // Only private vs not can be read back (a protected Space reads as not private).
            let wanted_private = cfg.visibility.map(|v| v == Visibility::Private);
            if repo.repo_type == RepoType::Space && sdk == SpaceSdk::Streamlit {
                ctx.reporter.warn(
                    "README.md says `sdk: streamlit`, a built-in SDK the Hub deprecated on 2025-04-30: this Space \
                     keeps it, but consider moving it to the Docker SDK (see the Hub's Streamlit template, \
                     https://huggingface.co/spaces/streamlit/streamlit-template-space)",
                );
            }
            if wanted_private.is_some_and(|p| p != info.private) {
                let is = if info.private { "private" } else { "public" };
                ctx.reporter.warn(&format!(
                    "{} is {is} but the inputs ask for {}: visibility is only set on creation, so it stays {is}; \
                     change it in the repo settings",
                    repo.id,
                    cfg.visibility.map_or("", |v| v.as_str())
                ));
            }
            Ok(())
        }
        None if cfg.revision != "main" => Err(Failure::input(format!(
            "revision: {} does not exist yet, so it has no branch {:?}; deploy to main first",
            repo.id, cfg.revision
        ))),
        None if repo.repo_type == RepoType::Space && sdk == SpaceSdk::Streamlit => {
            Err(streamlit_retired())
        }
        None if repo.repo_type == RepoType::Space => check_plan(
            who,
            &repo.id.namespace,
            sdk,
            cfg.space_hardware.as_deref(),
            SpaceRole::Target,
        ),
        None => Ok(()),
    }
}
