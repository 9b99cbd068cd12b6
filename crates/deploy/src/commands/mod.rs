//! One module per subcommand; `dispatch` parses the command line and runs one of them.

pub mod demo;
pub mod deploy;
pub mod janitor;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Failure;
use crate::report::json;

/// Flags that would put a token on the command line (visible in `ps` and shell history).
const TOKEN_FLAGS: [&str; 4] = ["--hf-token", "--proxy-hf-token", "--token", "--hf_token"];

fn token_flag(args: &[OsString]) -> Option<&'static str> {
    args.iter().skip(1).find_map(|arg| {
        let arg = arg.to_string_lossy();
        TOKEN_FLAGS
            .iter()
            .copied()
            .find(|flag| arg == *flag || arg.starts_with(&format!("{flag}=")))
    })
}

fn wants_json(args: &[OsString]) -> bool {
    args.iter()
        .any(|a| a == "--json" || a.to_string_lossy().starts_with("--json="))
}

/// Removes every token found in the environment from `text` (clap echoes arguments in its errors).
fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for key in ["HF_TOKEN", "HF_DEPLOY_PROXY_HF_TOKEN"] {
        if let Some(token) = std::env::var(key).ok().and_then(hub::Token::new) {
            out = token.redact(&out);
        }
    }
    out
}

fn in_github() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// A GitHub `::error::` annotation, on stderr when stdout carries a JSON result.
fn annotate(args: &[OsString], message: &str) {
    if in_github() {
        let line = format!(
            "::error title=hf-deploy::{}",
            crate::report::github::escape_data(message)
        );
        if wants_json(args) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

fn usage_failure(args: &[OsString], failure: Failure) -> i32 {
    annotate(args, &failure.message);
    let _ = writeln!(std::io::stderr().lock(), "error: {}", failure.message);
    if wants_json(args) {
        let _ = writeln!(std::io::stdout().lock(), "{}", json::error(&failure));
    }
    failure.code()
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}

/// Parses `args` and runs the subcommand; returns the exit code.
pub fn dispatch(args: Vec<OsString>) -> i32 {
    // `--version` without building the whole command line (start-up is part of every CI step).
    if args.len() == 2 && (args[1] == "--version" || args[1] == "-V") {
        let _ = writeln!(
            std::io::stdout().lock(),
            "hf-deploy {}",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    if let Some(flag) = token_flag(&args) {
        return usage_failure(
            &args,
            Failure::input(format!(
                "{flag} is not accepted: tokens come from the environment only (HF_TOKEN, and \
                 HF_DEPLOY_PROXY_HF_TOKEN for the proxy), so they never appear in argv or process lists"
            )),
        );
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let text = redact(&err.render().to_string());
            return match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = write!(std::io::stdout().lock(), "{text}");
                    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    }
                }
                _ => {
                    let _ = write!(std::io::stderr().lock(), "{text}");
                    let message = text
                        .lines()
                        .next()
                        .unwrap_or("invalid command line")
                        .trim_start_matches("error: ");
                    annotate(&args, message);
                    if wants_json(&args) {
                        let _ = writeln!(
                            std::io::stdout().lock(),
                            "{}",
                            json::error(&Failure::input(message))
                        );
                    }
                    2
                }
            };
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(f) => return usage_failure(&args, f),
    };
    match cli.command {
        Command::Deploy(deploy_args) => rt.block_on(deploy::run(&deploy_args)),
        Command::Janitor(janitor_args) => match rt.block_on(janitor::run(&janitor_args)) {
            Ok(()) => 0,
            Err(f) => usage_failure(&args, f),
        },
        Command::Demo(demo_args) => match rt.block_on(demo::run(&demo_args)) {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "error: {}",
                    redact(&format!("{e:#}"))
                );
                1
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_flags_are_refused() {
        let args: Vec<OsString> = ["hf-deploy", "deploy", "--hf-token=hf_x"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(token_flag(&args), Some("--hf-token"));
        let ok: Vec<OsString> = ["hf-deploy", "deploy", "--json"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(token_flag(&ok), None);
    }
}
