//! Making a repo's branch hold exactly a set of files: plan against its tree, upload LFS objects, commit with
//! `parentCommit`, and re-plan when someone else pushed meanwhile (412). The deployed repo and the proxy
//! Space's template both go through here.

use std::collections::HashSet;
use std::sync::Arc;

use hub::{CommitInfo, RepoRef, TreeEntry};

use super::commit::{commit_plan, CommitError, CommitSpec};
use super::lfs::{upload_lfs, LfsTarget};
use crate::context::Ctx;
use crate::failure::Failure;
use crate::plan::files::{self, FilePlan, ModeCache};
use crate::report::human::{self, Heading};
use crate::report::{Report, Reporter};
use crate::source::{Content, LocalFile};
use crate::tree_cache;
use crate::tuning::CommitLimits;

/// Re-plans after a 412 before giving up.
const MAX_REPLANS: usize = 5;
/// Commits retried after a failure that may or may not have landed (each in parts half as large).
const MAX_UNCERTAIN: usize = 4;
/// Plans made again because preupload answered for a newer head than the branch read (a stale read).
const MAX_FRESH_REPLANS: usize = 2;

/// Whether planning may start uploading the files that are LFS whatever preupload answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyUploads {
    Start,
    No,
}

/// What a sync committed.
#[derive(Debug, Default)]
pub struct Synced {
    /// The last plan, the one that was carried out.
    pub plan: FilePlan,
    pub commits: Vec<CommitInfo>,
}

/// One repo branch to sync, with what it learnt so far (upload modes, objects already sent).
pub struct Syncer<'a> {
    ctx: &'a Ctx<'a>,
    repo: RepoRef,
    revision: String,
    create_pr: bool,
    delete_stale: bool,
    summary: String,
    description: String,
    modes: ModeCache,
    uploaded: HashSet<String>,
    early_log: Option<Reporter>,
    /// Starts at the tuning's; halved after a commit that failed without a clear answer.
    limits: CommitLimits,
    /// A head the caller just read (e.g. right after creating the repo): the first plan uses it instead of
    /// reading the branch again.
    known_head: Option<String>,
}

impl<'a> Syncer<'a> {
    /// The deployed repo, as the inputs say.
    pub fn for_repo(ctx: &'a Ctx<'a>, repo: &RepoRef) -> Syncer<'a> {
        let cfg = ctx.cfg;
        Syncer {
            ctx,
            repo: repo.clone(),
            revision: cfg.revision.clone(),
            create_pr: cfg.create_pr,
            delete_stale: cfg.delete_stale,
            summary: cfg.commit_summary.clone(),
            description: cfg.commit_description.clone(),
            modes: ModeCache::default(),
            uploaded: HashSet::new(),
            early_log: None,
            limits: ctx.tuning.commit_limits,
            known_head: None,
        }
    }

    /// The branch's head as the caller just read it; the first plan made without a plan given starts there.
    pub fn start_at(&mut self, sha: String) {
        self.known_head = Some(sha);
    }

    /// The proxy Space: its main branch holds exactly the template (plus `.gitattributes`).
    pub fn for_proxy(ctx: &'a Ctx<'a>, repo: &RepoRef) -> Syncer<'a> {
        Syncer {
            revision: "main".to_string(),
            create_pr: false,
            delete_stale: true,
            summary: format!(
                "Update proxy template (hf-deploy {})",
                env!("CARGO_PKG_VERSION")
            ),
            description: String::new(),
            ..Syncer::for_repo(ctx, repo)
        }
    }

    /// The plan against `tree` at `head`: unchanged files from the tree alone, modes of the others from
    /// preupload. With [`EarlyUploads::Start`], changed files over 10 MiB upload meanwhile. When preupload
    /// answers for a newer head (the branch read was stale, served by the Hub's CDN, or the branch moved), the
    /// plan is made again at that commit, listed by id: a commit on the stale head would only get a 412.
    pub async fn plan(
        &mut self,
        files: &[Arc<LocalFile>],
        head: String,
        tree: &[TreeEntry],
        early: EarlyUploads,
    ) -> Result<FilePlan, Failure> {
        let mut plan = self.plan_once(files, head, tree, early).await?;
        for _ in 0..MAX_FRESH_REPLANS {
            // A pull request's preupload answers for its base, not the branch it commits to.
            if plan.is_empty() || self.create_pr {
                break;
            }
            let answered = match plan.answered_head.take() {
                Some(head) => Some(head),
                // Every mode was known (a re-plan): ask about one file, for the head alone.
                None => self.current_head(files, &plan).await?,
            };
            let Some(newer) = answered.filter(|h| *h != plan.parent) else {
                break;
            };
            self.release_log();
            self.ctx.reporter.info(&format!(
                "{} is already at {} (the read of {} was stale): planning at that commit",
                self.repo.id,
                newer.get(..12).unwrap_or(&newer),
                self.revision
            ));
            let tree = tree_cache::tree_at(self.ctx, &self.repo, &newer)
                .await
                .map_err(|e| Failure::hub(&format!("listing the files of {}", self.repo.id), e))?;
            plan = self.plan_once(files, newer, &tree, early).await?;
        }
        Ok(plan)
    }

    /// The branch's current head from preupload, asked about a file of the plan (else any file of the folder).
    async fn current_head(
        &self,
        files: &[Arc<LocalFile>],
        plan: &FilePlan,
    ) -> Result<Option<String>, Failure> {
        let Some(file) = plan
            .uploads
            .first()
            .map(|u| &u.file)
            .or_else(|| files.first())
        else {
            return Ok(None);
        };
        let target = files_target(self.ctx, &self.repo, &self.revision, self.create_pr, files)?;
        files::current_head(&target, file).await
    }

    async fn plan_once(
        &mut self,
        files: &[Arc<LocalFile>],
        head: String,
        tree: &[TreeEntry],
        early: EarlyUploads,
    ) -> Result<FilePlan, Failure> {
        let diff = files::diff(files, tree, self.delete_stale);
        let always_lfs = match early {
            EarlyUploads::Start => diff.always_lfs(),
            EarlyUploads::No => Vec::new(),
        };
        let target = files_target(self.ctx, &self.repo, &self.revision, self.create_pr, files)?;
        let lfs = lfs_target(self.ctx, &self.repo, &self.revision, self.create_pr);
        // The early uploads log after the plan is printed (see `release_log`), in the order a reader expects.
        let mut log = self.ctx.reporter.held();
        let (plan, sent) = tokio::join!(
            files::build(&target, head, diff, &mut self.modes),
            upload_lfs(&lfs, &always_lfs, &mut self.uploaded, &log)
        );
        if sent.is_err() || plan.is_err() {
            log.release();
        } else {
            self.early_log = Some(log);
        }
        sent?;
        plan
    }

    /// Prints what the uploads started while planning said; call it once the plan is shown.
    pub fn release_log(&mut self) {
        if let Some(mut log) = self.early_log.take() {
            log.release();
        }
    }

    /// Carries out `first` (or a fresh plan when `None`), re-planning on 412; returns the commits made.
    pub async fn run(
        &mut self,
        files: &[Arc<LocalFile>],
        first: Option<FilePlan>,
    ) -> Result<Synced, Failure> {
        let mut plan = match first {
            Some(plan) => plan,
            None => self.replan(files, Heading::Created).await?,
        };
        let mut commits = Vec::new();
        let mut replans = 0;
        let mut uncertain = 0;
        while !plan.is_empty() {
            let lfs = lfs_target(self.ctx, &self.repo, &self.revision, self.create_pr);
            upload_lfs(&lfs, &plan.uploads, &mut self.uploaded, self.ctx.reporter).await?;
            match commit_plan(&self.commit_spec(), &plan).await {
                Ok(made) => {
                    if let Some(last) = made.last().filter(|_| !self.create_pr) {
                        // The branch now holds exactly the plan on top of its parent: the next deploy from here
                        // need not list it.
                        tree_cache::record_commit(self.ctx, &self.repo, &plan, &last.commit_oid);
                    }
                    commits.extend(made);
                    break;
                }
                Err(CommitError::Stale { made }) => {
                    commits.extend(made);
                    replans += 1;
                    if replans > MAX_REPLANS {
                        return Err(Failure::runtime(format!(
                            "{} kept changing while we committed ({MAX_REPLANS} re-plans); another deploy may be \
                             running in a loop: rerun when it is done",
                            self.repo.id
                        )));
                    }
                    // The Hub's reads can lag its writes (a CDN): give them time before reading the branch again.
                    let wait = self.ctx.tuning.replan_delay * (1 << (replans - 1).min(4));
                    self.ctx.reporter.info(&format!(
                        "{} changed since the plan was made (412): re-planning in {:.1}s",
                        self.repo.id,
                        wait.as_secs_f64()
                    ));
                    tokio::time::sleep(wait).await;
                    plan = self.replan(files, Heading::Again).await?;
                }
                Err(CommitError::Uncertain {
                    made,
                    failure,
                    operations,
                }) if !self.create_pr && uncertain < MAX_UNCERTAIN => {
                    commits.extend(made);
                    uncertain += 1;
                    plan = self.after_uncertain(files, &failure, operations).await?;
                    if plan.is_empty() {
                        commits.push(self.landed(&plan.parent));
                        break;
                    }
                }
                Err(CommitError::Uncertain { failure, .. }) => {
                    return Err(self.with_rerun_hint(failure))
                }
                Err(CommitError::Failed(f)) => return Err(self.with_rerun_hint(f)),
            }
        }
        Ok(Synced { plan, commits })
    }

    /// Reads the head and the tree again and plans against them.
    async fn replan(
        &mut self,
        files: &[Arc<LocalFile>],
        heading: Heading,
    ) -> Result<FilePlan, Failure> {
        let client = &self.ctx.client;
        let head = match self.known_head.take() {
            Some(sha) => sha,
            None => {
                client
                    .repo_info(&self.repo, Some(&self.revision))
                    .await
                    .map_err(|e| Failure::hub(&format!("reading {}", self.repo.id), e))?
                    .ok_or_else(|| {
                        Failure::runtime(format!(
                            "{} {} disappeared during the deploy",
                            self.repo.repo_type, self.repo.id
                        ))
                    })?
                    .sha
            }
        };
        // By commit id: the tree of exactly that head (a branch listing could be newer, or cached).
        let tree = tree_cache::tree_at(self.ctx, &self.repo, &head)
            .await
            .map_err(|e| Failure::hub(&format!("listing the files of {}", self.repo.id), e))?;
        let plan = self.plan(files, head, &tree, EarlyUploads::Start).await?;
        let heading = human::plan_heading(&self.repo, &self.revision, self.create_pr, heading);
        self.ctx.reporter.show_plan(&heading, &plan);
        self.release_log();
        Ok(plan)
    }

    /// The request failed, but the commit may have landed: read the branch before retrying, so a landed commit
    /// is never made twice. Returns the new plan: empty when it landed; else the next parts are half as large.
    async fn after_uncertain(
        &mut self,
        files: &[Arc<LocalFile>],
        failure: &Failure,
        operations: usize,
    ) -> Result<FilePlan, Failure> {
        self.ctx.reporter.info(&format!(
            "{}; checking whether the commit landed anyway",
            failure.message
        ));
        let plan = self.replan(files, Heading::Again).await?;
        if plan.is_empty() {
            self.ctx.reporter.info(&format!(
                "{} holds the planned files: the commit landed although its request failed",
                self.repo.id
            ));
        } else {
            self.limits.max_operations = (operations / 2).max(1);
            self.ctx.reporter.info(&format!(
                "retrying in commits of at most {} operations",
                self.limits.max_operations
            ));
        }
        Ok(plan)
    }

    /// The commit a failed request made anyway: the branch's head.
    fn landed(&self, sha: &str) -> CommitInfo {
        CommitInfo {
            commit_oid: sha.to_string(),
            commit_url: format!("{}/commit/{sha}", self.ctx.client.repo_url(&self.repo)),
            pr_url: None,
        }
    }

    /// A failure after uploads: what went up stays, so a rerun sends only what is missing.
    fn with_rerun_hint(&self, f: Failure) -> Failure {
        if self.uploaded.is_empty() {
            return f;
        }
        Failure {
            message: format!(
                "{}; the {} LFS object(s) already uploaded stay on the Hub, so a rerun sends only what is still \
                 missing",
                f.message,
                self.uploaded.len()
            ),
            ..f
        }
    }

    fn commit_spec(&self) -> CommitSpec<'_> {
        CommitSpec {
            client: &self.ctx.client,
            repo: &self.repo,
            revision: &self.revision,
            create_pr: self.create_pr,
            summary: &self.summary,
            description: &self.description,
            limits: self.limits,
        }
    }
}

/// Where preupload asks about this branch's files, with the `.gitignore` being deployed (a function of the
/// parts, like `lfs_target`).
fn files_target<'s>(
    ctx: &'s Ctx<'_>,
    repo: &'s RepoRef,
    revision: &'s str,
    create_pr: bool,
    files: &[Arc<LocalFile>],
) -> Result<files::Target<'s>, Failure> {
    Ok(files::Target {
        client: &ctx.client,
        repo,
        revision,
        create_pr,
        git_ignore: git_ignore(files)?,
    })
}

/// Where this branch's LFS objects go (a function of the parts, so the Syncer's own maps stay borrowable).
fn lfs_target<'s>(
    ctx: &'s Ctx<'_>,
    repo: &'s RepoRef,
    revision: &'s str,
    create_pr: bool,
) -> LfsTarget<'s> {
    LfsTarget {
        client: &ctx.client,
        repo,
        revision,
        create_pr,
        concurrency: ctx.tuning.upload_concurrency,
        progress_every: ctx.tuning.progress_every,
    }
}

/// The text of the `.gitignore` being deployed, if any.
fn git_ignore(files: &[Arc<LocalFile>]) -> Result<Option<String>, Failure> {
    let Some(file) = files.iter().find(|f| f.path == ".gitignore") else {
        return Ok(None);
    };
    let bytes = match &file.content {
        Content::File(path) => {
            std::fs::read(path).map_err(|e| Failure::runtime(format!("reading .gitignore: {e}")))?
        }
        Content::Bytes(bytes) => bytes.to_vec(),
    };
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}
