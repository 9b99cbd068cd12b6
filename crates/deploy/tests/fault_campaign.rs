//! The Hub at its worst, many times over: seeded runs of the engine against an emulator that lags, serves stale
//! reads, drops and fails requests (429/5xx; xorb and shard uploads to the Xet store too), and lets commits land
//! before failing their request. Every run must end with the repo holding exactly the folder, and no commit made
//! twice (no two commits in a row with the same files). A failed deploy is rerun, as a user would; the rerun must finish the job.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{emulator_with, source, write_tree, ALICE};
use hf_deploy::{deploy, validate, DeployArgs, Reporter, Secrets, Style, Tuning};
use hub::{HubClient, RepoId, RepoRef, RepoType, Token};

/// Seeded runs: `HF_DEPLOY_FAULT_RUNS` overrides (the figure in the closing note came from 100).
const DEFAULT_RUNS: u64 = 100;
/// Deploys of one folder state before the run counts as failed (a first try and reruns).
const TRIES: usize = 4;

fn quiet() -> Reporter {
    Reporter::new(Style {
        github: false,
        json: false,
        tty: false,
    })
}

/// Fast retries and re-plans, so a run takes milliseconds; the stale-read window is shorter than the re-plan
/// backoff's sum.
fn tuning() -> Tuning {
    Tuning {
        // The Hub's Retry-After is honoured, capped short here so a run stays fast.
        retry: Some(hub::RetryPolicy {
            max_server_wait: Duration::from_millis(50),
            ..hub::RetryPolicy::fast()
        }),
        poll_interval: Duration::from_millis(5),
        replan_delay: Duration::from_millis(20),
        ..Tuning::default()
    }
}

fn faults(seed: u64) -> Vec<hub_emulator::FaultRule> {
    [
        format!("POST /api/models/alice/*/commit/* land-then-500 p=0.25 seed={seed}"),
        format!(
            "POST /api/models/alice/*/commit/* land-then-drop p=0.15 seed={}",
            seed + 1
        ),
        format!(
            "POST /api/models/alice/*/commit/* 503 p=0.15 seed={}",
            seed + 2
        ),
        format!("* /api/models/ 429 retry-after=0 p=0.1 seed={}", seed + 3),
        format!("* /api/ drop p=0.05 seed={}", seed + 4),
        format!("PUT /_lfs/ 500 p=0.2 seed={}", seed + 5),
        // The Xet store (weights.bin goes through Xet): xorb uploads that fail, shard uploads dropped.
        format!("PUT /simulation/xorb-uploads/ 500 p=0.2 seed={}", seed + 6),
        format!("POST /xet-cas/*/v2/shards drop p=0.15 seed={}", seed + 7),
    ]
    .iter()
    .map(|spec| hub_emulator::FaultRule::parse(spec).expect("fault spec"))
    .collect()
}

/// Deploys until it succeeds (at most [`TRIES`] times); returns how many tries it took.
async fn deploy_until_done(url: &str, args: &DeployArgs) -> Result<usize, String> {
    let env = |k: &str| (k == "HF_ENDPOINT").then(|| url.to_string());
    let cfg = validate(args, &env).map_err(|f| f.to_string())?;
    let secrets = Secrets {
        token: Token::new(ALICE),
        proxy_token: None,
    };
    let mut last = String::new();
    for attempt in 1..=TRIES {
        match deploy(&cfg, &secrets, &tuning(), &quiet()).await {
            Ok(_) => return Ok(attempt),
            Err(stopped) => last = stopped.failure.to_string(),
        }
    }
    Err(last)
}

/// path → git blob sha1 of the files at `rev` (`.gitattributes` left out), read through a fault-free client.
async fn tree_at(client: &HubClient, repo: &RepoRef, rev: &str) -> BTreeMap<String, String> {
    client
        .list_tree(repo, rev)
        .await
        .expect("tree")
        .into_iter()
        .filter(|e| e.path != ".gitattributes")
        .map(|e| (e.path, e.lfs_sha256.unwrap_or(e.oid)))
        .collect()
}

fn local_tree(files: &[(&str, &[u8])]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, c)| {
            let h = hub::hash::hash_bytes(c);
            // The emulator stores a sample with a NUL byte in LFS: compare by sha256 there.
            let id = if c.contains(&0) { h.sha256 } else { h.git_sha1 };
            (p.to_string(), id)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_runs_converge_without_duplicate_commits() {
    let runs = std::env::var("HF_DEPLOY_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let mut reruns = 0;
    for seed in 0..runs {
        let emu = emulator_with(|b| {
            let b = b.build_lag_ms(20).stale_reads_ms(40);
            faults(seed * 10).into_iter().fold(b, |b, f| b.fault(f))
        })
        .await;
        let url = emu.url().to_string();
        let name = format!("run{seed}");
        let repo = RepoRef::new(RepoType::Model, RepoId::new("alice", &name).expect("id"));
        let binary = [7u8, 0, 1, 2, 3, 4];
        let first: Vec<(&str, &[u8])> = vec![
            ("a.txt", b"one\n"),
            ("b/c.txt", b"two\n"),
            ("old.txt", b"to be deleted\n"),
            ("weights.bin", &binary),
        ];
        let (_dir, path) = source(&first);
        let args = DeployArgs {
            huggingface_repo: Some(format!("alice/{name}")),
            repo_type: Some("model".into()),
            source_dir: Some(path.display().to_string()),
            hash_cache: Some("false".into()),
            ..DeployArgs::default()
        };
        let tries = deploy_until_done(&url, &args)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the first state never deployed: {e}"));
        reruns += tries - 1;
        // The second state: one file changed, one added, one deleted.
        std::fs::remove_file(path.join("old.txt")).expect("rm");
        write_tree(&path, &[("a.txt", b"ONE\n"), ("new.txt", b"three\n")]);
        let second: Vec<(&str, &[u8])> = vec![
            ("a.txt", b"ONE\n"),
            ("b/c.txt", b"two\n"),
            ("new.txt", b"three\n"),
            ("weights.bin", &binary),
        ];
        let tries = deploy_until_done(&url, &args)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the second state never deployed: {e}"));
        reruns += tries - 1;

        // Checked without faults, at commit ids (which are never stale).
        emu.clear_faults();
        let client = HubClient::new(&url, Token::new(ALICE)).expect("client");
        let commits: Vec<String> = reqwest::Client::new()
            .get(format!("{url}/api/models/alice/{name}/commits/main"))
            .bearer_auth(ALICE)
            .send()
            .await
            .expect("commits")
            .json::<Vec<serde_json::Value>>()
            .await
            .expect("commits json")
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect();
        let head = commits.first().expect("a head").clone();
        assert_eq!(
            tree_at(&client, &repo, &head).await,
            local_tree(&second),
            "seed {seed}: the repo holds exactly the folder"
        );
        let mut trees = Vec::new();
        for id in &commits {
            trees.push(tree_at(&client, &repo, id).await);
        }
        for pair in trees.windows(2) {
            assert_ne!(pair[0], pair[1], "seed {seed}: a commit was made twice");
        }
        assert!(
            trees.contains(&local_tree(&first)),
            "seed {seed}: the first state was committed"
        );
    }
    println!("{runs} seeded runs converged; {reruns} deploy(s) needed a rerun");
}
