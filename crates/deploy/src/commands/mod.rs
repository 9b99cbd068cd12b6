//! One module per subcommand; `dispatch` parses the command line and runs one of them.

pub mod deploy;
pub mod janitor;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;
use crate::report::{github, json, Style};

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

/// The one place a failure is shown, once: a GitHub `::error::` annotation in a workflow (the runner shows it
/// in the log and on the run's page), `error: …` on stderr elsewhere; with `--json` also the
/// `{"error", "exit_code"}` object on stdout. Returns the exit code.
pub fn render_failure(style: Style, failure: &Failure) -> i32 {
    let message = redact(&failure.message);
    if style.github {
        let line = format!("::error title=hf-deploy::{}", github::escape_data(&message));
        // The log stream: stdout, or stderr when stdout carries the JSON result.
        if style.json {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    } else {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    }
    if style.json {
        let shown = Failure {
            kind: failure.kind,
            message,
        };
        let _ = writeln!(std::io::stdout().lock(), "{}", json::error(&shown));
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
    let style = Style::detect(wants_json(&args));
    if let Some(flag) = token_flag(&args) {
        return render_failure(
            style,
            &Failure::input(format!(
                "{flag} is not accepted: tokens come from the environment only (HF_TOKEN, and \
                 HF_DEPLOY_PROXY_HF_TOKEN for the proxy), so they never appear in argv or process lists"
            )),
        );
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return clap_failure(style, &err),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(f) => return render_failure(style, &f),
    };
    let result = match cli.command {
        Command::Deploy(deploy_args) => {
            let style = Style::detect(deploy::json_requested(&deploy_args));
            rt.block_on(deploy::run(&deploy_args, style))
                .map_err(|f| (style, f))
        }
        Command::Janitor(janitor_args) => {
            let style = Style::detect(janitor_args.json);
            rt.block_on(janitor::run(&janitor_args, style))
                .map_err(|f| (style, f))
        }
    };
    match result {
        Ok(()) => 0,
        Err((style, failure)) => render_failure(style, &failure),
    }
}

/// clap's own answers: help and version on stdout (exit 0), usage errors as a failure (exit 2).
fn clap_failure(style: Style, err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let text = redact(&err.render().to_string());
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(std::io::stdout().lock(), "{text}");
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(std::io::stdout().lock(), "{text}");
            2
        }
        _ => {
            // The first line is the failure's message; clap's hints and usage follow it on stderr.
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let message = first.trim_start_matches("error: ");
            let code = render_failure(style, &Failure::input(message));
            let _ = write!(std::io::stderr().lock(), "{rest}");
            code
        }
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
