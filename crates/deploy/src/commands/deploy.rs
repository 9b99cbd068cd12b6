//! `hf-deploy deploy`: builds the inputs, secrets and tuning from the command line and the environment, runs
//! the engine, and writes what it did (log line, step summary, outputs, `--json` result), on failure too.

use std::io::Write;
use std::time::Instant;

use crate::cli::DeployArgs;
use crate::config::Secrets;
use crate::engine::{self, Stopped};
use crate::failure::Failure;
use crate::report::{github, json, summary, Outcome, Report, Reporter, Style};
use crate::tuning::Tuning;
use crate::validate::{parse_bool, process_env, validate};

/// Runs a deploy. Outputs and the summary are written on success and on failure (with what is known); the
/// failure itself is rendered by the caller.
pub async fn run(args: &DeployArgs, style: Style) -> Result<(), Failure> {
    let secrets = Secrets::from_env(&process_env);
    let reporter = Reporter::new(style);
    // First thing: the runner must know the tokens before any line could contain one.
    reporter.mask(secrets.all());
    let started = Instant::now();
    let result = match validate(args, &process_env) {
        Ok(cfg) => engine::deploy(&cfg, &secrets, &Tuning::from_env(&process_env), &reporter).await,
        Err(failure) => Err(Stopped {
            failure,
            outcome: Outcome::default(),
        }),
    };
    let (outcome, result) = match result {
        Ok(outcome) => {
            finished(&reporter, &outcome, started);
            (outcome, Ok(()))
        }
        Err(Stopped { failure, outcome }) => {
            if reporter.style.github {
                let _ = github::write_summary(&summary::render_failure(
                    &failure.message,
                    failure.code(),
                    &reporter.warnings(),
                ));
            }
            (outcome, Err(failure))
        }
    };
    if reporter.style.github {
        if let Err(e) = github::write_outputs(&outcome) {
            if result.is_ok() {
                return Err(Failure::runtime(format!(
                    "cannot write $GITHUB_OUTPUT: {e}"
                )));
            }
            reporter.warn(&format!("cannot write $GITHUB_OUTPUT: {e}"));
        }
    }
    result
}

/// The last line, the step summary and the `--json` result of a deploy that ended well.
fn finished(reporter: &Reporter, outcome: &Outcome, started: Instant) {
    let took = started.elapsed();
    let mut line = if outcome.dry_run {
        format!("Dry run: nothing was changed ({took:.1?}).")
    } else if let Some(pr) = &outcome.pr_url {
        format!(
            "Opened pull request {pr} on {} in {took:.1?}.",
            outcome.repo_id
        )
    } else if !outcome.changed {
        format!(
            "{} is already up to date: no commit ({took:.1?}).",
            outcome.repo_id
        )
    } else {
        format!("Deployed {} in {took:.1?}.", outcome.repo_id)
    };
    // Where to look next: the app, and the proxy in front of it.
    if !outcome.space_url.is_empty() && outcome.pr_url.is_none() {
        line.push_str(&format!(" App: {}", outcome.space_url));
    }
    if outcome.proxy_enabled && !outcome.proxy_url.is_empty() {
        line.push_str(&format!(" Proxy: {}", outcome.proxy_url));
    }
    reporter.info(&line);
    if reporter.style.github {
        if let Err(e) = github::write_summary(&summary::render(outcome, &reporter.warnings())) {
            reporter.warn(&format!("cannot write the step summary: {e}"));
        }
    }
    if reporter.style.json {
        let _ = writeln!(std::io::stdout().lock(), "{}", json::result(outcome));
    }
}

/// `--json`, read before validation so that even a validation failure answers in JSON.
pub fn json_requested(args: &DeployArgs) -> bool {
    parse_bool("json", &args.json, false).unwrap_or(false)
}
