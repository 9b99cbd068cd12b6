//! Typed client for the Hugging Face Hub HTTP API: the only crate of hf-deploy that
//! knows URLs, headers and payloads. Async (reqwest + tokio), retries with backoff,
//! LFS basic/multipart uploads streamed from disk, NDJSON commits; the token never
//! appears in errors or logs.
//!
//! ```no_run
//! # async fn demo() -> hub::Result<()> {
//! use hub::{CommitOperation, CommitRequest, HubClient, RepoId, RepoRef, RepoType, Token};
//!
//! let client = HubClient::new("https://huggingface.co", Token::new("hf_xxx"))?;
//! let me = client.whoami().await?;
//! let repo = RepoRef::new(RepoType::Model, RepoId::new(&me.name, "demo").expect("valid name"));
//! client.create_repo(&repo, &Default::default()).await?;
//! let head = client.repo_info(&repo, None).await?.map(|i| i.sha);
//! client
//!     .commit(&repo, "main", &CommitRequest {
//!         summary: "hello".into(),
//!         parent_commit: head,
//!         operations: vec![CommitOperation::AddBytes { path: "hello.txt".into(), content: b"hi\n".to_vec() }],
//!         ..Default::default()
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod account;
mod client;
mod commit;
mod encode;
mod error;
pub mod hash;
mod lfs_transfer;
mod pagination;
mod preupload;
mod repo_id;
mod repos;
mod retry;
mod spaces;
mod token;
mod tree;
mod xet;

pub use account::{AccountPlan, OrgMembership, WhoAmI};
pub use client::{HubClient, RetryNotice, RetryObserver, DEFAULT_PART_CONCURRENCY};
pub use commit::{CommitInfo, CommitOperation, CommitRequest};
pub use error::{HubError, Result};
pub use hash::FileHashes;
pub use lfs_transfer::Progress;
pub use preupload::{
    LfsBatchObject, LfsObject, PreuploadFile, PreuploadResult, UploadMode, MAX_FILES_PER_REQUEST,
};
pub use repo_id::{RepoId, RepoIdError, RepoRef, RepoType, UnknownRepoType, MAX_NAME_LEN};
pub use repos::{
    parse_timestamp, CreateRepo, Created, RepoInfo, RepoSummary, SpaceSdk, Visibility,
};
pub use retry::RetryPolicy;
pub use spaces::{LogKind, SpaceRuntime, SpaceStage};
pub use token::Token;
pub use tree::TreeEntry;
pub use xet::{XetFile, XetStats};
