//! The Space stage machine (`BUILDING` → `RUNNING` or an error stage) and the runtime JSON.
//!
//! A commit (and a restart) puts a Space in `BUILDING`; after `build_polls` runtime reads it
//! becomes `RUNNING`, or `CONFIG_ERROR` (README front matter without `sdk`), `NO_APP_FILE` (docker
//! without `Dockerfile`, static without `index.html`, gradio/streamlit without `app.py`), or
//! `BUILD_ERROR` (a file named `BUILD_ERROR` in the repo; its text is the error message).
//!
//! With realism on, builds also take time ([`BuildTiming`]): a build lag keeps the previous
//! settled stage showing before `BUILDING` (the Hub's build queue), and a minimum build duration
//! holds `BUILDING` after its reads are used up. Time-driven changes are applied by [`tick`]
//! whenever a stage is read, so no timer task is needed.

use crate::clock;
use crate::config::Config;
use crate::state::{Content, Outcome, Repo, SpaceState, Tree};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn running() -> Outcome {
    Outcome {
        stage: "RUNNING",
        error: None,
    }
}

/// Top-level `key: value` pairs of the README's YAML front matter; `None` without a block.
pub fn front_matter(readme: &str) -> Option<Vec<(String, String)>> {
    let mut lines = readme.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut out = Vec::new();
    for line in lines {
        if line.trim_end() == "---" {
            return Some(out);
        }
        if line.starts_with([' ', '\t', '-', '#']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches(['"', '\'']).to_string();
            out.push((k.trim().to_string(), v));
        }
    }
    None
}

fn text_of(tree: &Tree, path: &str) -> Option<String> {
    match &tree.get(path)?.content {
        Content::Inline(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Content::Lfs { .. } => None,
    }
}

pub fn front_matter_value(tree: &Tree, key: &str) -> Option<String> {
    let readme = text_of(tree, "README.md")?;
    front_matter(&readme)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

pub fn front_matter_sdk(tree: &Tree) -> Option<String> {
    front_matter_value(tree, "sdk")
}

/// Where a build of this tree ends.
pub fn evaluate(tree: &Tree) -> Outcome {
    let Some(sdk) = front_matter_sdk(tree) else {
        return Outcome {
            stage: "CONFIG_ERROR",
            error: Some("Missing configuration in README: add YAML front matter with an `sdk` key (see https://huggingface.co/docs/hub/spaces-config-reference)".into()),
        };
    };
    let app_file = front_matter_value(tree, "app_file");
    let needed = match sdk.as_str() {
        "docker" => "Dockerfile".to_string(),
        "static" => app_file.unwrap_or_else(|| "index.html".into()),
        "gradio" | "streamlit" => app_file.unwrap_or_else(|| "app.py".into()),
        other => {
            return Outcome {
                stage: "CONFIG_ERROR",
                error: Some(format!("Unknown sdk `{other}` in README front matter")),
            }
        }
    };
    if !tree.contains_key(&needed) {
        return Outcome {
            stage: "NO_APP_FILE",
            error: Some(format!(
                "No application file: a {sdk} Space needs `{needed}`"
            )),
        };
    }
    if tree.contains_key("BUILD_ERROR") {
        let msg = text_of(tree, "BUILD_ERROR")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Build failed (BUILD_ERROR file present)".into());
        return Outcome {
            stage: "BUILD_ERROR",
            error: Some(msg),
        };
    }
    running()
}

/// How long builds take: runtime reads (`build_polls`) and, with realism on, time.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildTiming {
    pub polls: u32,
    /// The previous settled stage keeps showing this long before `BUILDING` (the Hub's queue).
    pub lag: Duration,
    /// A build lasts at least this long once it shows.
    pub duration: Duration,
}

impl BuildTiming {
    pub fn of(config: &Config) -> Self {
        BuildTiming {
            polls: config.build_polls,
            lag: Duration::from_millis(config.realism.build_lag_ms),
            duration: Duration::from_millis(config.realism.build_ms),
        }
    }
}

/// The stage a Space shows right after it is created, before its first build: with a build lag
/// the Hub shows `NO_APP_FILE` until the builder picks the Space up; without one, `BUILDING`.
pub fn initial_stage(timing: BuildTiming) -> &'static str {
    if timing.lag.is_zero() {
        "BUILDING"
    } else {
        "NO_APP_FILE"
    }
}

/// Starts a (simulated) build of the head commit (after a commit, a create or a restart).
pub fn start_build(repo: &mut Repo, timing: BuildTiming) {
    let outcome = match repo.head() {
        Some(c) => evaluate(&c.tree),
        None => running(),
    };
    let now = Instant::now();
    if let Some(space) = repo.space.as_mut() {
        space.outcome = outcome;
        space.builds += 1;
        space.polls_left = timing.polls;
        space.build_done_at =
            (!timing.duration.is_zero()).then(|| now + timing.lag + timing.duration);
        if !timing.lag.is_zero() {
            // The stage and error message stay what they were until the lag has passed.
            space.lag_until = Some(now + timing.lag);
            return;
        }
        space.lag_until = None;
        if timing.polls == 0 && space.build_done_at.is_none() {
            finish(space);
        } else {
            space.stage = "BUILDING";
            space.error = None;
        }
    }
}

fn finish(space: &mut SpaceState) {
    space.stage = space.outcome.stage;
    space.error = space.outcome.error.clone();
    space.build_done_at = None;
}

/// Time-driven transitions, applied before any read of the stage: the lag ends in `BUILDING`,
/// and a timed build whose reads are used up finishes once its time has passed.
pub fn tick(space: &mut SpaceState, now: Instant) {
    if let Some(until) = space.lag_until {
        if now < until {
            return;
        }
        space.lag_until = None;
        space.stage = "BUILDING";
        space.error = None;
    }
    if space.stage == "BUILDING" && space.polls_left == 0 {
        if let Some(done) = space.build_done_at {
            if now >= done {
                finish(space);
            }
        }
    }
}

/// One runtime read: advances BUILDING towards its outcome (reads during a lag do not count).
pub fn poll(space: &mut SpaceState) {
    let now = Instant::now();
    tick(space, now);
    if space.stage != "BUILDING" || space.lag_until.is_some() {
        return;
    }
    if space.polls_left > 0 {
        space.polls_left -= 1;
    } else if space.build_done_at.is_none_or(|d| now >= d) {
        finish(space);
    }
}

/// `user/tmp_test_space` → `user-tmp-test-space`.
pub fn subdomain(id: &str) -> String {
    id.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

pub fn runtime_json(repo: &Repo, space: &SpaceState) -> Value {
    let running = space.stage == "RUNNING";
    let domain = space.host.trim_start_matches("http://").to_string();
    let sdk = repo
        .head()
        .and_then(|c| front_matter_sdk(&c.tree))
        .unwrap_or_else(|| space.created_sdk.clone());
    // As recorded on huggingface.co: a static Space runs on no hardware and never sleeps (no `gcTimeout`).
    let hardware = if sdk == "static" {
        json!({"current": null, "requested": null})
    } else {
        json!({
            "current": if running { Value::String(space.hardware.clone()) } else { Value::Null },
            "requested": space.hardware,
        })
    };
    let mut v = json!({
        "stage": space.stage,
        "hardware": hardware,
        "storage": Value::Null,
        "replicas": if running { json!({"requested": 1, "current": 1}) } else { json!({"requested": 1}) },
        "devMode": false,
        "domains": [{"domain": domain, "stage": "READY"}],
    });
    if sdk != "static" {
        v["gcTimeout"] = json!(space.sleep_time.unwrap_or(172800));
    }
    if let Some(sha) = repo.head().map(|c| c.id.clone()) {
        v["sha"] = json!(sha);
    }
    if let Some(e) = &space.error {
        v["errorMessage"] = json!(e);
    }
    v
}

/// The build and run logs as SSE `data:` payloads.
pub fn log_lines(repo: &Repo, space: &SpaceState, kind: &str) -> Vec<String> {
    let sha = repo.head().map(|c| c.id.clone()).unwrap_or_default();
    let now = clock::iso(clock::now());
    let mut lines = Vec::new();
    if kind == "build" {
        lines.push(format!(
            "===== Build Queued at {now} / Commit SHA: {} =====\n",
            &sha.get(..7).unwrap_or("")
        ));
        lines.push(format!(
            "Building {} ({} build #{})\n",
            repo.id(),
            space.created_sdk,
            space.builds
        ));
        match space.stage {
            "BUILD_ERROR" | "CONFIG_ERROR" | "NO_APP_FILE" => {
                lines.push(format!(
                    "ERROR: {}\n",
                    space.error.clone().unwrap_or_default()
                ));
            }
            "BUILDING" => lines.push("Building...\n".into()),
            _ => lines.push("Build complete\n".into()),
        }
    } else {
        lines.push(format!("===== Application Startup at {now} =====\n"));
        if space.stage == "RUNNING" {
            lines.push(format!("Running on {}\n", space.host));
        }
    }
    lines
        .into_iter()
        .map(|l| json!({"data": l, "timestamp": now}).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FileEntry;
    use bytes::Bytes;

    fn tree(files: &[(&str, &str)]) -> Tree {
        files
            .iter()
            .map(|(p, c)| (p.to_string(), FileEntry::inline(Bytes::from(c.to_string()))))
            .collect()
    }

    fn space(stage: &'static str) -> SpaceState {
        SpaceState {
            created_sdk: "docker".into(),
            secrets: Default::default(),
            variables: Default::default(),
            stage,
            error: None,
            polls_left: 0,
            outcome: running(),
            hardware: "cpu-basic".into(),
            sleep_time: None,
            host: String::new(),
            app: None,
            upstream: None,
            builds: 0,
            lag_until: None,
            build_done_at: None,
        }
    }

    #[test]
    fn lag_reads_do_not_count_and_timed_builds_wait() {
        let now = Instant::now();
        let mut s = space("RUNNING");
        s.polls_left = 1;
        s.lag_until = Some(now + Duration::from_secs(60));
        poll(&mut s);
        poll(&mut s);
        assert_eq!(
            (s.stage, s.polls_left),
            ("RUNNING", 1),
            "the lag holds the old stage"
        );
        tick(&mut s, now + Duration::from_secs(61));
        assert_eq!((s.stage, s.polls_left), ("BUILDING", 1));

        let mut s = space("BUILDING");
        s.build_done_at = Some(now + Duration::from_secs(60));
        poll(&mut s);
        assert_eq!(s.stage, "BUILDING", "reads used up, time not");
        tick(&mut s, now + Duration::from_secs(61));
        assert_eq!(s.stage, "RUNNING");
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            evaluate(&tree(&[("README.md", "# hi")])).stage,
            "CONFIG_ERROR"
        );
        let docker = "---\nsdk: docker\n---\n";
        assert_eq!(
            evaluate(&tree(&[("README.md", docker)])).stage,
            "NO_APP_FILE"
        );
        assert_eq!(
            evaluate(&tree(&[("README.md", docker), ("Dockerfile", "FROM x")])).stage,
            "RUNNING"
        );
        let o = evaluate(&tree(&[
            ("README.md", docker),
            ("Dockerfile", "x"),
            ("BUILD_ERROR", "boom"),
        ]));
        assert_eq!((o.stage, o.error.as_deref()), ("BUILD_ERROR", Some("boom")));
        assert_eq!(subdomain("user/tmp_test.space"), "user-tmp-test-space");
    }
}
