//! `hf-deploy-demo`: the offline demo (`cargo run --release -p hf-deploy-demo`). A local Hub emulator, a
//! private Space deployed with its proxy by `hf-deploy deploy`, a call through the proxy, and a second deploy
//! that finds nothing to do; nothing talks to huggingface.co. The story is in `story`.

mod story;

use std::ffi::OsString;

use anyhow::Context as _;
use clap::Parser;

/// First argument that turns this binary into `hf-deploy` (the rest is its command line). The demo's deploys
/// run as child processes in this mode, exactly as the action runs `hf-deploy`, without a second binary to
/// build or find.
pub(crate) const AS_HF_DEPLOY: &str = "--as-hf-deploy";

/// The offline demo of hf-deploy: a local Hub, a private Space deployed with its proxy, a call through it.
#[derive(Debug, Parser)]
#[command(name = "hf-deploy-demo", version)]
struct Args {
    /// Print one JSON object with the result on stdout (the story stays on stderr).
    #[arg(long)]
    json: bool,
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == AS_HF_DEPLOY) {
        let hf_deploy =
            std::iter::once(OsString::from("hf-deploy")).chain(args.into_iter().skip(2));
        std::process::exit(hf_deploy::run(hf_deploy));
    }
    let args = Args::parse_from(args);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(story::run(args.json)));
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
