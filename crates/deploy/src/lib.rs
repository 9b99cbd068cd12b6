//! `hf-deploy`: make a Hugging Face Hub repo (Space, model or dataset) hold exactly what a local folder holds,
//! uploading only what changed, in one atomic commit.
//!
//! The binary is a thin wrapper over [`run`]; the pieces are public so tests and the demo can drive them.
//!
//! ```no_run
//! // Equivalent of `HF_TOKEN=… hf-deploy deploy --huggingface-repo alice/app --source-dir app`:
//! let code = hf_deploy::run(["hf-deploy", "deploy", "--huggingface-repo", "alice/app", "--source-dir", "app"]);
//! std::process::exit(code);
//! ```

pub mod access;
pub mod cli;
pub mod commands;
pub mod contract;
pub mod execute;
pub mod exit;
pub mod plan;
pub mod proxy_space;
pub mod report;
pub mod source;
pub mod space_wait;
pub mod validate;

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
