//! Everything the user sees: log lines (human or GitHub workflow commands), the plan table, the step summary,
//! `$GITHUB_OUTPUT` and the `--json` result. Tokens never reach any of these: only repo ids, paths, counts and
//! Hub messages (which `hub` redacts) are printed.

pub mod github;
pub mod human;
pub mod json;
pub mod summary;

use std::io::{IsTerminal, Write};

use hub::Token;

use crate::plan::files::Counts;

/// Where informational lines go; implemented by [`Reporter`], used by provisioning and the Space wait too.
pub trait Report: Send + Sync {
    fn info(&self, line: &str);
    fn warn(&self, line: &str);
    /// Starts a collapsible group (GitHub); a heading elsewhere.
    fn group(&self, title: &str) {
        self.info(title);
    }
    fn end_group(&self) {}
}

/// How output is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Running in GitHub Actions: workflow commands, outputs, step summary.
    pub github: bool,
    /// `--json`: logs on stderr, one JSON object on stdout.
    pub json: bool,
    /// stderr is a terminal: progress bars allowed (never in GitHub or JSON mode).
    pub tty: bool,
}

impl Style {
    pub fn detect(json: bool) -> Style {
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        Style {
            github,
            json,
            tty: !github && std::io::stderr().is_terminal(),
        }
    }
}

/// The deploy's log. Warnings are also kept, for the step summary.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub style: Style,
    warnings: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Lines held back until [`Reporter::release`], so work started early logs after the plan it belongs to.
    held: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
}

impl Reporter {
    pub fn new(style: Style) -> Reporter {
        Reporter {
            style,
            warnings: Default::default(),
            held: None,
        }
    }

    /// A reporter whose lines wait until [`Reporter::release`] (no progress bar meanwhile).
    pub fn held(&self) -> Reporter {
        Reporter {
            style: Style {
                tty: false,
                ..self.style
            },
            warnings: self.warnings.clone(),
            held: Some(Default::default()),
        }
    }

    /// Prints what a [`Reporter::held`] reporter kept, in order, and prints directly from then on.
    pub fn release(&mut self) {
        if let Some(held) = self.held.take() {
            let lines = held
                .lock()
                .map(|mut l| std::mem::take(&mut *l))
                .unwrap_or_default();
            for line in lines {
                self.line(&line);
            }
        }
    }

    /// Every warning given so far, in order.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn line(&self, text: &str) {
        if let Some(held) = &self.held {
            if let Ok(mut lines) = held.lock() {
                lines.push(text.to_string());
                return;
            }
        }
        if self.style.json {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// Registers every token with the runner's log masking, before anything else is printed. The runner
    /// consumes these lines: they never show in the job log.
    pub fn mask<'a>(&self, tokens: impl Iterator<Item = &'a Token>) {
        if self.style.github {
            for token in tokens {
                self.line(&format!("::add-mask::{}", token.expose()));
            }
        }
    }

    /// A plan under `heading`, as a collapsible group.
    pub fn show_plan(&self, heading: &str, plan: &crate::plan::files::FilePlan) {
        self.group(heading);
        for line in human::plan_lines(plan) {
            self.line(&line);
        }
        self.end_group();
    }

    /// A progress bar over `total` bytes on a terminal; a no-op elsewhere.
    pub fn progress(&self, total: u64, label: &str) -> indicatif::ProgressBar {
        if !self.style.tty || total == 0 {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        bar
    }
}

impl Report for Reporter {
    fn info(&self, line: &str) {
        self.line(line);
    }

    fn group(&self, title: &str) {
        if self.style.github {
            self.line(&format!("::group::{}", github::escape_data(title)));
        } else {
            self.line(title);
        }
    }

    fn end_group(&self) {
        if self.style.github {
            self.line("::endgroup::");
        }
    }

    fn warn(&self, line: &str) {
        if let Ok(mut kept) = self.warnings.lock() {
            kept.push(line.to_string());
        }
        if self.style.github {
            self.line(&format!(
                "::warning title=hf-deploy::{}",
                github::escape_data(line)
            ));
        } else {
            self.line(&format!("warning: {line}"));
        }
    }
}

/// The result of a deploy: the action outputs plus what `--json` adds.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub repo_id: String,
    pub repo_url: String,
    pub space_url: String,
    pub proxy_enabled: bool,
    pub proxy_repo_id: String,
    pub proxy_url: String,
    /// The last commit made, `None` when nothing changed (or in a dry run).
    pub commit_sha: Option<String>,
    pub pr_url: Option<String>,
    pub changed: bool,
    pub dry_run: bool,
    pub counts: Counts,
    /// The file plan that was carried out (or, in a dry run, would be).
    pub files: crate::plan::files::FilePlan,
}
