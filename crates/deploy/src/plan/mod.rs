//! The plan: a plain value saying what a deploy will do. Made from what `engine` gathered; printed by a dry
//! run, carried out by `execute`.

pub mod files;
pub mod proxy;

use hub::{RepoRef, SpaceSdk};

pub use files::FilePlan;
pub use proxy::ProxyPlan;

/// Everything a deploy will do, in order.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub repo: RepoRef,
    /// `Some` when the repo does not exist yet: it is created (with this sdk for a Space), then the files are
    /// planned again against its first commit.
    pub create: Option<SpaceSdk>,
    /// Against the current tree; for a repo to create, against an empty one with modes estimated by size.
    pub files: FilePlan,
    /// Wait for the Space to run after a commit (Spaces build from their main branch only).
    pub wait: bool,
    pub proxy: Option<ProxyPlan>,
}
