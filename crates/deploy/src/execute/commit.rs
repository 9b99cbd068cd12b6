//! The commit: NDJSON with `parentCommit`, so a concurrent push makes it fail with 412 instead of mixing
//! trees. Very large change sets are split into ordered commits of bounded size, deletions first; each part's
//! parent is the previous part. A commit is never retried blindly: on 412 the caller re-reads and re-plans.

use hub::{CommitInfo, CommitOperation, CommitRequest, HubClient, HubError, RepoRef};

use crate::failure::Failure;
use crate::plan::files::FilePlan;
use crate::source::Content;
use crate::tuning::CommitLimits;

/// The plan's operations in commit-sized parts: deletions first, then additions in path order.
pub fn parts(plan: &FilePlan, limits: CommitLimits, split: bool) -> Vec<Vec<CommitOperation>> {
    let mut parts: Vec<Vec<CommitOperation>> = Vec::new();
    let mut current = Vec::new();
    let mut inline = 0u64;
    let ops = plan
        .deletes
        .iter()
        .map(|path| (CommitOperation::Delete { path: path.clone() }, 0))
        .chain(plan.uploads.iter().map(|u| {
            if u.lfs {
                let op = CommitOperation::AddLfs {
                    path: u.file.path.clone(),
                    sha256: u.file.sha256.clone(),
                    size: u.file.size,
                };
                (op, 0)
            } else {
                let path = u.file.path.clone();
                let op = match &u.file.content {
                    Content::File(source) => CommitOperation::AddRegular {
                        path,
                        source: source.clone(),
                        git_sha1: u.file.git_sha1.clone(),
                    },
                    Content::Bytes(bytes) => CommitOperation::AddBytes {
                        path,
                        content: bytes.to_vec(),
                    },
                };
                (op, u.file.size)
            }
        }));
    for (op, size) in ops {
        let full = current.len() >= limits.max_operations
            || (!current.is_empty() && inline + size > limits.max_inline_bytes);
        if split && full {
            parts.push(std::mem::take(&mut current));
            inline = 0;
        }
        inline += size;
        current.push(op);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// How committing ended when it did not complete.
#[derive(Debug)]
pub enum CommitError {
    /// 412: the branch moved. `made` lists the parts committed before it; re-plan and continue.
    Stale {
        made: Vec<CommitInfo>,
    },
    /// A 5xx, a timeout or a dropped connection: the commit may have landed anyway. Look before retrying.
    Uncertain {
        made: Vec<CommitInfo>,
        failure: Failure,
        /// Operations in the part that failed (a retry halves it).
        operations: usize,
    },
    Failed(Failure),
}

/// What to commit and where.
pub struct CommitSpec<'a> {
    pub client: &'a HubClient,
    pub repo: &'a RepoRef,
    pub revision: &'a str,
    pub create_pr: bool,
    pub summary: &'a str,
    pub description: &'a str,
    pub limits: CommitLimits,
}

/// Commits the plan in order; returns every commit made.
pub async fn commit_plan(
    spec: &CommitSpec<'_>,
    plan: &FilePlan,
) -> Result<Vec<CommitInfo>, CommitError> {
    // A pull request is one commit: splitting would open one PR per part.
    let parts = parts(plan, spec.limits, !spec.create_pr);
    let total = parts.len();
    let mut parent = plan.parent.clone();
    let mut made = Vec::new();
    for (index, operations) in parts.into_iter().enumerate() {
        let summary = if total > 1 {
            format!("{} (part {}/{total})", spec.summary, index + 1)
        } else {
            spec.summary.to_string()
        };
        let request = CommitRequest {
            summary,
            description: spec.description.to_string(),
            parent_commit: Some(parent.clone()),
            create_pr: spec.create_pr,
            operations,
        };
        let operations = request.operations.len();
        match spec.client.commit(spec.repo, spec.revision, &request).await {
            Ok(info) => {
                parent = info.commit_oid.clone();
                made.push(info);
            }
            Err(HubError::PreconditionFailed { .. }) => return Err(CommitError::Stale { made }),
            Err(e) => {
                let doing = if total > 1 {
                    format!(
                        "committing part {}/{total} ({} committed before)",
                        index + 1,
                        made.len()
                    )
                } else {
                    "committing".to_string()
                };
                let uncertain = e.is_retryable();
                let failure = Failure::hub(&doing, e);
                return Err(if uncertain {
                    CommitError::Uncertain {
                        made,
                        failure,
                        operations,
                    }
                } else {
                    CommitError::Failed(failure)
                });
            }
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::files::test_upload as upload;

    #[test]
    fn splits_with_deletions_first() {
        let plan = FilePlan {
            parent: "p".into(),
            uploads: vec![
                upload("a", 10, false),
                upload("b", 10, false),
                upload("c", 1000, true),
                upload("d", 10, false),
            ],
            deletes: vec!["x".into()],
            ..FilePlan::default()
        };
        let limits = CommitLimits {
            max_operations: 3,
            max_inline_bytes: 25,
        };
        let split = parts(&plan, limits, true);
        let names: Vec<Vec<String>> = split
            .iter()
            .map(|p| {
                p.iter()
                    .map(|op| match op {
                        CommitOperation::Delete { path } => format!("-{path}"),
                        CommitOperation::AddRegular { path, .. }
                        | CommitOperation::AddLfs { path, .. } => path.clone(),
                        CommitOperation::AddBytes { path, .. } => path.clone(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(names, vec![vec!["-x", "a", "b"], vec!["c", "d"]]);
        assert_eq!(parts(&plan, limits, false).len(), 1);
    }
}
