//! Shared helpers: an emulator with known users, running the `hf-deploy` binary the way the action does
//! (inputs in `HF_DEPLOY_*`, token in `HF_TOKEN`), and reading the remote tree back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hub_emulator::Emulator;

pub const ALICE: &str = "hf_alice_write_0123456789abcdef";
pub const BOB_READ: &str = "hf_bob_read_0123456789abcdef";
pub const CAROL_FREE: &str = "hf_carol_free_0123456789abcdef";

/// alice (write, pro), bob (read), carol (write, free plan).
pub async fn emulator() -> Emulator {
    emulator_with(|b| b).await
}

pub async fn emulator_with(
    extra: impl FnOnce(hub_emulator::EmulatorBuilder) -> hub_emulator::EmulatorBuilder,
) -> Emulator {
    let builder = Emulator::builder()
        .user("alice", ALICE, hub_emulator::Role::Write)
        .user("bob", BOB_READ, hub_emulator::Role::Read)
        .user_with_plan(
            "carol",
            CAROL_FREE,
            hub_emulator::Role::Write,
            hub_emulator::Plan::Free,
        );
    extra(builder).start().await.expect("emulator starts")
}

/// What one run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

impl Run {
    /// Everything the run printed or wrote, minus the `::add-mask::` lines the runner swallows.
    pub fn visible(&self) -> String {
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!(
            "{}\n{}\n{}\n{:?}",
            strip(&self.stdout),
            strip(&self.stderr),
            self.summary,
            self.outputs
        )
    }

    /// The failure as the user reads it: the `::error` annotation decoded (GitHub mode prints the error once,
    /// as an annotation), else the `error:` lines on stderr.
    pub fn error(&self) -> String {
        let annotations: Vec<String> = self
            .stdout
            .lines()
            .chain(self.stderr.lines())
            .filter_map(|l| l.strip_prefix("::error title=hf-deploy::"))
            .map(|m| {
                m.replace("%0A", "\n")
                    .replace("%0D", "\r")
                    .replace("%25", "%")
            })
            .collect();
        if annotations.is_empty() {
            self.stderr.clone()
        } else {
            annotations.join("\n")
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout))
    }
}

/// A deploy invocation: env and args on top of the defaults.
pub struct Deploy {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub scratch: tempfile::TempDir,
}

impl Deploy {
    /// `hf-deploy deploy` against `url` with `token`, as in GitHub Actions.
    pub fn new(url: &str, token: Option<&str>) -> Deploy {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let mut env = vec![
            ("HF_ENDPOINT".to_string(), url.to_string()),
            ("GITHUB_ACTIONS".to_string(), "true".to_string()),
            ("HF_DEPLOY_POLL_INTERVAL_MS".to_string(), "20".to_string()),
            ("HF_DEPLOY_RETRY_BASE_MS".to_string(), "5".to_string()),
            ("HF_DEPLOY_WAIT_TIMEOUT".to_string(), "60".to_string()),
        ];
        if let Some(token) = token {
            env.push(("HF_TOKEN".to_string(), token.to_string()));
        }
        Deploy {
            env,
            args: vec!["deploy".to_string()],
            scratch,
        }
    }

    pub fn input(mut self, name: &str, value: &str) -> Deploy {
        self.env.push((
            format!("HF_DEPLOY_{}", name.to_ascii_uppercase()),
            value.to_string(),
        ));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Deploy {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn arg(mut self, arg: &str) -> Deploy {
        self.args.push(arg.to_string());
        self
    }

    /// The configured process, for tests that spawn it themselves (e.g. to kill it midway). Keep `self`
    /// alive while it runs: it owns the scratch directory.
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hf-deploy"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.scratch.path())
            .env("GITHUB_OUTPUT", self.scratch.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", self.scratch.path().join("summary"))
            .args(&self.args)
            .current_dir(self.scratch.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub async fn run(self) -> Run {
        let output_file = self.scratch.path().join("output");
        let summary_file = self.scratch.path().join("summary");
        let out = self.command().output().await.expect("hf-deploy runs");
        let outputs = std::fs::read_to_string(&output_file)
            .map(|t| parse_outputs(&t))
            .unwrap_or_default();
        let summary = std::fs::read_to_string(&summary_file).unwrap_or_default();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs,
            summary,
        };
        let visible = run.visible();
        for token in [ALICE, BOB_READ, CAROL_FREE] {
            assert!(
                !visible.contains(token),
                "a token leaked into the output:\n{visible}"
            );
        }
        run
    }
}

/// `key=value` lines and `key<<DELIM` heredocs.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for inner in lines.by_ref() {
                if inner == delim {
                    break;
                }
                value.push(inner);
            }
            out.insert(key.to_string(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// Writes `files` (path → content) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, content) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
}

pub fn source(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), files);
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A client for checking results.
pub fn client(url: &str) -> hub::HubClient {
    hub::HubClient::new(url, hub::Token::new(ALICE)).expect("client")
}

pub fn repo(kind: hub::RepoType, id: &str) -> hub::RepoRef {
    hub::RepoRef::new(kind, hub::RepoId::parse(id).expect("repo id"))
}

/// The remote tree as path → (git oid, LFS sha256), `.gitattributes` left out, at the branch's real head (see
/// [`head`]).
pub async fn remote_tree(
    url: &str,
    repo: &hub::RepoRef,
) -> BTreeMap<String, (String, Option<String>)> {
    let at = head(url, repo).await;
    remote_tree_at(url, repo, &at).await
}

/// The remote tree at a revision (a commit id reads fresh; `main` may be stale for a moment after a commit).
pub async fn remote_tree_at(
    url: &str,
    repo: &hub::RepoRef,
    revision: &str,
) -> BTreeMap<String, (String, Option<String>)> {
    let entries = client(url)
        .list_tree(repo, revision)
        .await
        .expect("list tree");
    entries
        .into_iter()
        .filter(|e| e.path != ".gitattributes")
        .map(|e| (e.path, (e.oid, e.lfs_sha256)))
        .collect()
}

/// Asserts the repo holds exactly `files` (besides `.gitattributes`), byte for byte (by hash).
pub async fn assert_tree(url: &str, repo: &hub::RepoRef, files: &[(&str, &[u8])]) {
    let at = head(url, repo).await;
    assert_tree_at(url, repo, &at, files).await
}

/// [`assert_tree`] at a revision, e.g. the `commit_sha` a deploy reported.
pub async fn assert_tree_at(
    url: &str,
    repo: &hub::RepoRef,
    revision: &str,
    files: &[(&str, &[u8])],
) {
    let remote = remote_tree_at(url, repo, revision).await;
    let want: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let have: Vec<&str> = remote.keys().map(String::as_str).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(have, want_sorted, "remote paths differ");
    for (path, content) in files {
        let h = hub::hash::hash_bytes(content);
        let (oid, lfs) = &remote[*path];
        let same = match lfs {
            Some(sha256) => *sha256 == h.sha256,
            None => *oid == h.git_sha1,
        };
        assert!(same, "{path}: remote content differs");
    }
}

/// The real head of `main`, from the emulator's control API: the Hub's API may serve the previous head for a
/// moment after a commit (`--stale-reads-ms`, on by default), and a test checks what the deploy left behind.
pub async fn head(url: &str, repo: &hub::RepoRef) -> String {
    let kind = repo.repo_type.to_string();
    let answer: serde_json::Value = reqwest::get(format!(
        "{url}/_emulator/repos/{kind}/{}/refs/main",
        repo.id
    ))
    .await
    .expect("control API answers")
    .json()
    .await
    .expect("JSON");
    answer["commit"]
        .as_str()
        .expect("the branch exists")
        .to_string()
}

/// Journal entries (method, path) made since `from`.
pub fn journal_since(emu: &Emulator, from: usize) -> Vec<(String, String, bool)> {
    emu.journal()
        .into_iter()
        .skip(from)
        .map(|e| (e.method, e.path, e.mutating))
        .collect()
}

/// Commits that landed. A 412 is not one: a deploy that read `main` while it was still stale (the emulator's
/// default `--stale-reads-ms`) is refused once and plans again.
pub fn commits(emu: &hub_emulator::Emulator, from: usize) -> usize {
    journal_since(emu, from)
        .iter()
        .filter(|(m, p, landed)| m == "POST" && p.contains("/commit/") && *landed)
        .count()
}

/// Requests that carried file content to the Hub: LFS PUTs (a basic upload or one multipart part) and xorb
/// uploads to the Xet store, whichever transfer the Hub picked.
pub fn content_uploads(emu: &Emulator, from: usize) -> usize {
    emu.journal()
        .iter()
        .skip(from)
        .filter(|e| {
            (e.method == "PUT" && e.path.starts_with("/_lfs/"))
                || (e.status / 100 == 2
                    && (e.path.contains("/v1/xorbs/")
                        || e.path.starts_with("/simulation/xorb-uploads/")))
        })
        .count()
}

/// Reproducible incompressible bytes (xorshift), so the Hub sees a binary file.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
