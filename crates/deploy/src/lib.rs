//! `hf-deploy`: make a Hugging Face Hub repo (Space, model or dataset) hold exactly what a local folder holds,
//! uploading only what changed, in one atomic commit.
//!
//! The binary is a thin wrapper over [`run`]; [`deploy`] is the engine, for callers in the same process.
//!
//! ```no_run
//! // Equivalent of `HF_TOKEN=… hf-deploy deploy --huggingface-repo alice/app --source-dir app`:
//! let code = hf_deploy::run(["hf-deploy", "deploy", "--huggingface-repo", "alice/app", "--source-dir", "app"]);
//! std::process::exit(code);
//! ```

// Layering, top-down (no module uses one above it): commands → engine → (plan, execute, report) → source,
// proxy_space → config, failure → hub. `context`, `tuning` and `validate` feed the engine.
mod access;
mod cli;
mod commands;
mod config;
mod context;
mod engine;
mod execute;
mod failure;
mod plan;
mod proxy_space;
mod report;
mod source;
mod tree_cache;
mod tuning;
mod validate;

// What the binary, the tests and the benches use; everything else stays inside the crate.
pub use cli::DeployArgs;
pub use commands::janitor::{clean, should_delete, JanitorOptions};
pub use config::{DeployConfig, Secrets};
pub use engine::{deploy, Stopped};
pub use execute::probe::wait_and_probe;
pub use execute::space_wait::WaitOptions;
pub use failure::{ExitKind, Failure};
pub use plan::files::{diff, Change, KEEP};
/// The proxy Space's upstream variable and token secret (docs/contracts.md), for the demo, which starts the
/// proxy from the settings a deploy wrote.
pub use proxy_space::settings::{
    TARGET_URL as PROXY_TARGET_URL, TOKEN_SECRET as PROXY_TOKEN_SECRET,
};
pub use report::{Outcome, Report, Reporter, Style};
pub use source::{Content, LocalFile};
pub use tuning::Tuning;
pub use validate::validate;

use std::ffi::OsString;

/// Parses `args` (program name first), runs the subcommand and returns the process exit code
/// (0 ok, 1 runtime failure, 2 bad input, 3 authentication or permission; see docs/contracts.md).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    commands::dispatch(args)
}
