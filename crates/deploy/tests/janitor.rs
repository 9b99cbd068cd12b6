//! The janitor against the emulator: a dry run makes no mutating request; a real run deletes
//! exactly the prefixed repos older than the TTL across all three types, pages through listings,
//! and counts a 404 on delete as done.

use std::time::{Duration, SystemTime};

use hf_deploy::{clean, JanitorOptions};
use hub::{CreateRepo, HubClient, RepoId, RepoRef, RepoType, RetryPolicy, Token};
use hub_emulator::{Emulator, FaultRule, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "hf_janitor_alice_7d3e1f";
const PREFIX: &str = "hfdeploy-e2e-";
const OLD: &str = "2020-01-01T00:00:00Z";

fn repo(t: RepoType, id: &str) -> RepoRef {
    RepoRef::new(t, RepoId::parse(id).unwrap())
}

/// Backdates a repo through the emulator's control API (`POST /_emulator/repos/{type}/{ns}/{name}/created_at`).
async fn backdate(emu: &Emulator, r: &RepoRef, at: &str) {
    let addr = emu.url().trim_start_matches("http://").to_string();
    let body = format!("{{\"createdAt\":\"{at}\"}}");
    let request = format!(
        "POST /_emulator/repos/{}/{}/created_at HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        r.repo_type,
        r.id,
        body.len()
    );
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "backdating {r}: {answer}"
    );
}

struct Fixture {
    emu: Emulator,
    client: HubClient,
    old: Vec<RepoRef>,
    kept: Vec<RepoRef>,
}

async fn fixture() -> Fixture {
    let emu = Emulator::builder()
        .user("alice", TOKEN, Role::Write)
        .org("acme", &["alice"])
        .list_page_size(2)
        .start()
        .await
        .unwrap();
    let client = HubClient::new(emu.url(), Token::new(TOKEN))
        .unwrap()
        .with_retry_policy(RetryPolicy::fast());
    let old = vec![
        repo(RepoType::Space, "alice/hfdeploy-e2e-20200101-1-space"),
        repo(RepoType::Model, "alice/hfdeploy-e2e-20200101-1-model"),
        repo(RepoType::Model, "alice/hfdeploy-e2e-20200101-2-model"),
        repo(RepoType::Dataset, "alice/hfdeploy-e2e-20200101-1-dataset"),
    ];
    let kept_old = vec![
        repo(RepoType::Model, "alice/keep-hfdeploy-e2e-old"), // prefix not at the start
        repo(RepoType::Model, "alice/HFDEPLOY-E2E-upper"), // listed (search is case-insensitive), not the prefix
        repo(RepoType::Dataset, "alice/unrelated"),        // no prefix at all
        repo(RepoType::Model, "acme/hfdeploy-e2e-other-owner"), // another namespace
    ];
    let young = vec![
        repo(RepoType::Space, "alice/hfdeploy-e2e-now-space"),
        repo(RepoType::Model, "alice/hfdeploy-e2e-now-model"),
    ];
    let static_space = CreateRepo {
        visibility: Some(hub::Visibility::Public),
        space_sdk: Some(hub::SpaceSdk::Static),
        hardware: None,
    };
    for r in old.iter().chain(&kept_old).chain(&young) {
        let opts = if r.repo_type == RepoType::Space {
            static_space.clone()
        } else {
            CreateRepo::default()
        };
        client.create_repo(r, &opts).await.unwrap();
    }
    for r in old.iter().chain(&kept_old) {
        backdate(&emu, r, OLD).await;
    }
    let kept = kept_old.into_iter().chain(young).collect();
    Fixture {
        emu,
        client,
        old,
        kept,
    }
}

fn options(dry_run: bool) -> JanitorOptions {
    JanitorOptions {
        prefix: PREFIX.into(),
        older_than: Duration::from_secs(6 * 3600),
        dry_run,
        repo_types: RepoType::ALL.to_vec(),
        now: SystemTime::now(),
    }
}

fn sorted(mut v: Vec<RepoRef>) -> Vec<String> {
    let mut keys: Vec<String> = v.drain(..).map(|r| r.resource_key()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn dry_run_changes_nothing_then_real_run_deletes_exactly_the_expired() {
    let f = fixture().await;
    f.emu.clear_journal();

    let mut out = Vec::new();
    let report = clean(&f.client, "alice", &options(true), &mut out)
        .await
        .unwrap();
    assert_eq!(
        f.emu.mutation_count(),
        0,
        "dry run mutated: {:?}",
        f.emu.journal()
    );
    assert!(
        f.emu.journal().iter().all(|e| e.method == "GET"),
        "{:?}",
        f.emu.journal()
    );
    assert_eq!(sorted(report.matched.clone()), sorted(f.old.clone()));
    assert!(report.deleted.is_empty());
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.matches("would delete").count(),
        f.old.len() + 1,
        "{text}"
    );
    assert!(!text.contains(TOKEN));
    // Listings were paged (2 per page) for every type.
    let listings = f
        .emu
        .journal()
        .iter()
        .filter(|e| e.path.starts_with("/api/models"))
        .count();
    assert!(
        listings >= 3,
        "models listing should take several pages, took {listings}"
    );

    let mut out = Vec::new();
    let report = clean(&f.client, "alice", &options(false), &mut out)
        .await
        .unwrap();
    assert_eq!(sorted(report.deleted.clone()), sorted(f.old.clone()));
    assert!(report.failed.is_empty() && report.already_gone.is_empty());
    for r in &f.old {
        assert!(
            f.client.repo_info(r, None).await.unwrap().is_none(),
            "{r} should be gone"
        );
    }
    for r in &f.kept {
        assert!(
            f.client.repo_info(r, None).await.unwrap().is_some(),
            "{r} must be kept"
        );
    }
    let deletes = f
        .emu
        .journal()
        .iter()
        .filter(|e| e.method == "DELETE")
        .count();
    assert_eq!(deletes, f.old.len());

    // Nothing left to do.
    let again = clean(&f.client, "alice", &options(false), &mut Vec::new())
        .await
        .unwrap();
    assert!(again.matched.is_empty());
}

#[tokio::test]
async fn a_404_on_delete_counts_as_done() {
    let f = fixture().await;
    f.emu
        .inject(FaultRule::parse("DELETE /api/repos/delete 404 first=1").unwrap());
    let report = clean(&f.client, "alice", &options(false), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(report.already_gone.len(), 1);
    assert_eq!(
        report.deleted.len() + report.already_gone.len(),
        f.old.len()
    );
    assert!(report.failed.is_empty());
}

#[tokio::test]
async fn failures_are_reported_and_others_still_deleted() {
    let f = fixture().await;
    f.emu
        .inject(FaultRule::parse("DELETE /api/repos/delete 403 first=1").unwrap());
    let report = clean(&f.client, "alice", &options(false), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.deleted.len(), f.old.len() - 1);
    assert!(!report.failed[0].1.contains(TOKEN));
}

async fn run_cli(emu: &Emulator, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hf-deploy"));
    cmd.arg("janitor")
        .args(args)
        .env("HF_ENDPOINT", emu.url())
        .env_remove("GITHUB_ACTIONS");
    cmd.env_remove("HF_DEPLOY_PROXY_HF_TOKEN")
        .env_remove("HF_DEPLOY_JANITOR_NAMESPACE");
    match token {
        Some(t) => cmd.env("HF_TOKEN", t),
        None => cmd.env_remove("HF_TOKEN"),
    };
    let out = cmd.output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[tokio::test]
async fn command_line_dry_run_and_missing_token() {
    let f = fixture().await;
    f.emu.clear_journal();
    let (code, stdout, stderr) = run_cli(
        &f.emu,
        Some(TOKEN),
        &["--dry-run", "--json", "--older-than", "6h"],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let result: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(result["namespace"], "alice");
    assert_eq!(result["dry_run"], true);
    assert_eq!(
        result["matched"].as_array().map(Vec::len),
        Some(f.old.len())
    );
    assert_eq!(result["deleted"].as_array().map(Vec::len), Some(0));
    assert_eq!(f.emu.mutation_count(), 0);
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));

    let (code, _, stderr) = run_cli(&f.emu, None, &["--dry-run"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("HF_TOKEN"), "{stderr}");

    let (code, stdout, stderr) = run_cli(&f.emu, Some(TOKEN), &["--older-than", "6h"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("deleted ").count(),
        f.old.len() + 1,
        "{stdout}"
    );
    for r in &f.old {
        assert!(
            f.client.repo_info(r, None).await.unwrap().is_none(),
            "{r} should be gone"
        );
    }
}
