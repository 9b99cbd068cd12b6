//! The Hub at its worst: build lag, timed builds, restarts on settings writes, commit budgets,
//! commits that land and then fail, stale reads, link shaping and Hub-shaped accounts. These tests
//! start from the ideal Hub (`common::builder`), turn one behaviour on and show what changes; the
//! realistic defaults are pinned at the end.

mod common;

use common::*;
use hub_emulator::FaultRule;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn stage(api: &Api<'_>, id: &str) -> String {
    let v: Value = api
        .get(&format!("/api/spaces/{id}/runtime"))
        .await
        .json()
        .await
        .expect("json");
    v["stage"].as_str().expect("stage").to_string()
}

/// Reads the runtime until it shows `want` (or 10 s pass); returns when it first showed it.
async fn until_stage(api: &Api<'_>, id: &str, want: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if stage(api, id).await == want {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{id} never reached {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn docker_space(api: &Api<'_>, id: &str) {
    assert_status(
        &api.create(id, "space", false, Some("docker")).await,
        StatusCode::OK,
    );
}

async fn commit_dockerfile(api: &Api<'_>, id: &str) {
    let r = api
        .commit(
            "spaces",
            id,
            None,
            &[file_line("Dockerfile", b"FROM python:3.12\n")],
        )
        .await;
    assert_status(&r, StatusCode::OK);
}

#[tokio::test]
async fn build_lag_keeps_the_previous_settled_stage() {
    // Long enough that the reads right after each change land inside the lag on a busy machine.
    let lag = Duration::from_millis(1000);
    let emu = builder().build_lag_ms(1000).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    let created = Instant::now();
    docker_space(&api, "alice/app").await;
    // A fresh docker Space shows NO_APP_FILE until the builder picks it up.
    assert_eq!(stage(&api, "alice/app").await, "NO_APP_FILE");
    let building = until_stage(&api, "alice/app", "BUILDING").await;
    assert!(building - created >= lag);
    until_stage(&api, "alice/app", "NO_APP_FILE").await;

    commit_dockerfile(&api, "alice/app").await;
    let committed = Instant::now();
    // Right after the commit the Hub still reports the old stage, not BUILDING.
    assert_eq!(stage(&api, "alice/app").await, "NO_APP_FILE");
    let info: Value = api
        .get("/api/spaces/alice/app")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(info["runtime"]["stage"], "NO_APP_FILE");
    let building = until_stage(&api, "alice/app", "BUILDING").await;
    assert!(building - committed >= lag);
    until_stage(&api, "alice/app", "RUNNING").await;

    // A restart of a RUNNING Space keeps showing RUNNING during the lag.
    let r = api
        .post_json("/api/spaces/alice/app/restart", json!({}))
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(stage(&api, "alice/app").await, "RUNNING");
    until_stage(&api, "alice/app", "BUILDING").await;
}

#[tokio::test]
async fn without_build_lag_a_commit_shows_building_at_once() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    docker_space(&api, "alice/app").await;
    assert_eq!(stage(&api, "alice/app").await, "BUILDING");
}

#[tokio::test]
async fn builds_last_build_ms() {
    let emu = builder()
        .build_polls(0)
        .build_ms(1000)
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    docker_space(&api, "alice/app").await;
    until_stage(&api, "alice/app", "NO_APP_FILE").await;
    commit_dockerfile(&api, "alice/app").await;
    let committed = Instant::now();
    assert_eq!(stage(&api, "alice/app").await, "BUILDING");
    assert_eq!(stage(&api, "alice/app").await, "BUILDING");
    let running = until_stage(&api, "alice/app", "RUNNING").await;
    assert!(running - committed >= Duration::from_millis(1000));
}

async fn running_space(emu: &hub_emulator::Emulator, id: &str) {
    let api = Api::new(emu, ALICE);
    docker_space(&api, id).await;
    commit_dockerfile(&api, id).await;
    until_stage(&api, id, "RUNNING").await;
}

#[tokio::test]
async fn settings_writes_restart_the_space() {
    let emu = builder()
        .settings_restart(true)
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    running_space(&emu, "alice/app").await;
    emu.clear_journal();
    let r = api
        .post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "TOKEN", "value": "x"}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(stage(&api, "alice/app").await, "BUILDING");
    until_stage(&api, "alice/app", "RUNNING").await;
    let r = api
        .delete_json("/api/spaces/alice/app/variables", json!({"key": "MISSING"}))
        .await;
    assert_status(&r, StatusCode::OK);
    // Deleting nothing changes nothing and restarts nothing.
    assert_eq!(stage(&api, "alice/app").await, "RUNNING");
    let r = api
        .post_json(
            "/api/spaces/alice/app/variables",
            json!({"key": "MODE", "value": "a"}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let r = api
        .post_json("/api/spaces/alice/app/restart", json!({}))
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(emu.restart_count(Some("settings")), 2);
    assert_eq!(emu.restart_count(Some("api")), 1);
    assert_eq!(emu.restart_count(None), 3);
    // The control API shows the cause too, so other languages can count double restarts.
    let j: Vec<Value> = client()
        .get(format!("{}/_emulator/journal", emu.url()))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    let causes: Vec<&str> = j.iter().filter_map(|e| e["restart"].as_str()).collect();
    assert_eq!(causes, ["settings", "settings", "api"]);
}

#[tokio::test]
async fn without_settings_restart_a_secret_write_keeps_running() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    running_space(&emu, "alice/app").await;
    let r = api
        .post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "TOKEN", "value": "x"}),
        )
        .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(stage(&api, "alice/app").await, "RUNNING");
    assert_eq!(emu.restart_count(Some("settings")), 0);
}

#[tokio::test]
async fn commits_over_the_operation_budget_fail_without_landing() {
    let emu = builder().commit_max_ops(2).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let before = api.head_sha("models", "alice/m").await;
    let three: Vec<Value> = (0..3)
        .map(|i| file_line(&format!("f{i}.txt"), b"x"))
        .collect();
    let r = api.commit("models", "alice/m", None, &three).await;
    assert_status(&r, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(api.head_sha("models", "alice/m").await, before);
    let r = api.commit("models", "alice/m", None, &three[..2]).await;
    assert_status(&r, StatusCode::OK);
}

#[tokio::test]
async fn slow_commits_land_then_time_out() {
    // 2 kB/s: a ~1.5 kB commit body takes ~750 ms to arrive, over the 200 ms budget.
    let emu = builder()
        .bandwidth(2_000)
        .commit_timeout_ms(200)
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let before = api.head_sha("models", "alice/m").await;
    let r = api
        .commit(
            "models",
            "alice/m",
            None,
            &[file_line("big.txt", &[b'a'; 1000])],
        )
        .await;
    assert_status(&r, StatusCode::GATEWAY_TIMEOUT);
    assert_ne!(
        api.head_sha("models", "alice/m").await,
        before,
        "the commit landed"
    );
    let journal = emu.journal();
    let last = journal
        .iter()
        .rev()
        .find(|e| e.path.contains("/commit/"))
        .expect("journaled");
    assert_eq!((last.status, last.mutating), (504, true));
}

/// Outcomes (status, 0 = dropped) of `n` one-file commits against a fresh emulator with `rule`,
/// and how many landed.
async fn land_then_run(rule: &str, n: usize) -> (Vec<u16>, usize) {
    let emu = builder()
        .fault(FaultRule::parse(rule).expect("rule"))
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let mut outcomes = Vec::new();
    for i in 0..n {
        let r = api
            .req(reqwest::Method::POST, "/api/models/alice/m/commit/main")
            .header("content-type", "application/x-ndjson")
            .body(format!(
                "{}\n{}\n",
                json!({"key": "header", "value": {"summary": format!("c{i}")}}),
                file_line(&format!("f{i}.txt"), b"x")
            ))
            .send()
            .await;
        outcomes.push(r.map_or(0, |r| r.status().as_u16()));
    }
    let landed = api.files("models", "alice/m").await.len() - 1; // .gitattributes
    (outcomes, landed)
}

#[tokio::test]
async fn commits_land_then_fail_reproducibly() {
    let rule = "POST /api/*/commit/* land-then-500 p=0.5 seed=42";
    let (a, landed) = land_then_run(rule, 10).await;
    let (b, _) = land_then_run(rule, 10).await;
    assert_eq!(a, b, "same seed, same outcomes");
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
    assert_eq!(landed, 10, "every commit landed, failed or not");

    let (drops, landed) = land_then_run("POST /api/*/commit/* land-then-drop first=1", 2).await;
    assert_eq!(drops, [0, 200]);
    assert_eq!(landed, 2);
    // The --commit-lands-then-fails shorthand builds the same rule.
    let sugar = FaultRule::commit_lands_then_fails("drop first=1").expect("rule");
    assert_eq!(
        sugar,
        FaultRule::parse("POST /api/*/commit/* land-then-drop first=1").expect("rule")
    );
}

#[tokio::test]
async fn branch_reads_are_stale_right_after_a_commit() {
    let emu = builder().stale_reads_ms(1500).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let old = api.head_sha("models", "alice/m").await;
    let r = api
        .commit("models", "alice/m", None, &[file_line("new.txt", b"x")])
        .await;
    let committed = Instant::now();
    let new: Value = r.json().await.expect("json");
    let new = new["commitOid"].as_str().expect("oid").to_string();
    let rev: Value = api
        .get("/api/models/alice/m/revision/main")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rev["sha"], old.as_str());
    let tree: Vec<Value> = api
        .get("/api/models/alice/m/tree/main")
        .await
        .json()
        .await
        .expect("json");
    assert!(!tree.iter().any(|e| e["path"] == "new.txt"));
    // The commit id itself resolves at once.
    let by_id = api
        .get(&format!("/api/models/alice/m/revision/{new}"))
        .await;
    assert_status(&by_id, StatusCode::OK);
    tokio::time::sleep_until((committed + Duration::from_millis(1600)).into()).await;
    assert_eq!(api.head_sha("models", "alice/m").await, new);
}

#[tokio::test]
async fn the_control_api_reads_the_real_head_while_main_is_stale() {
    let emu = builder()
        .stale_reads_ms(60_000)
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let old = api.head_sha("models", "alice/m").await;
    let r = api
        .commit("models", "alice/m", None, &[file_line("new.txt", b"x")])
        .await;
    let new: Value = r.json().await.expect("json");
    assert_eq!(
        api.head_sha("models", "alice/m").await,
        old,
        "main is stale"
    );
    let real: Value = client()
        .get(format!(
            "{}/_emulator/repos/model/alice/m/refs/main",
            emu.url()
        ))
        .send()
        .await
        .expect("control")
        .json()
        .await
        .expect("json");
    assert_eq!(real["commit"], new["commitOid"]);
    let missing = client()
        .get(format!(
            "{}/_emulator/repos/model/alice/m/refs/nope",
            emu.url()
        ))
        .send()
        .await
        .expect("control");
    assert_status(&missing, StatusCode::NOT_FOUND);
}

#[test]
fn the_default_is_the_realistic_hub() {
    let d = hub_emulator::Realism::default();
    assert_eq!(d.stale_reads_ms, hub_emulator::DEFAULT_STALE_READS_MS);
    assert!(d.stale_reads_ms > 0);
    assert_eq!(d.commit_max_ops, Some(25_000));
    assert_eq!(d.commit_timeout_ms, 60_000);
    assert!(d.build_lag_ms > 0 && d.settings_restart && d.hub_accounts);
    let ideal = hub_emulator::Realism::instant();
    assert_eq!(
        (
            ideal.stale_reads_ms,
            ideal.commit_max_ops,
            ideal.commit_timeout_ms
        ),
        (0, None, 0)
    );
}

#[tokio::test]
async fn the_default_emulator_serves_stale_main_right_after_a_commit() {
    // The default builder (not `instant`), with a window a busy machine cannot miss.
    let emu = hub_emulator::Emulator::builder()
        .user("alice", ALICE, hub_emulator::Role::Write)
        .stale_reads_ms(60_000)
        .start()
        .await
        .expect("start");
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let old = api.head_sha("models", "alice/m").await;
    api.commit("models", "alice/m", None, &[file_line("new.txt", b"x")])
        .await;
    assert_eq!(api.head_sha("models", "alice/m").await, old);
    // Budgets on by default: a commit of 25,001 operations is refused without landing.
    let lines: Vec<Value> = (0..25_001)
        .map(|i| json!({"key": "deletedFile", "value": {"path": format!("f{i}")}}))
        .collect();
    let r = api.commit("models", "alice/m", None, &lines).await;
    assert_status(&r, StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn reads_are_fresh_without_stale_reads() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let r = api
        .commit("models", "alice/m", None, &[file_line("new.txt", b"x")])
        .await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        api.head_sha("models", "alice/m").await,
        v["commitOid"].as_str().expect("oid")
    );
}

#[tokio::test]
async fn latency_is_added_per_request() {
    let emu = builder().latency_ms(150).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    let t = Instant::now();
    assert_status(&api.get("/api/whoami-v2").await, StatusCode::OK);
    assert_status(&api.get("/api/whoami-v2").await, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn bandwidth_caps_bodies() {
    // 100 kB/s: a 40 kB file takes ≥ 0.4 s up and ≥ 0.4 s down.
    let emu = builder().bandwidth(100_000).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    assert_status(
        &api.create("alice/m", "model", false, None).await,
        StatusCode::OK,
    );
    let content = vec![b'a'; 30_000];
    let t = Instant::now();
    let r = api
        .commit("models", "alice/m", None, &[file_line("big.txt", &content)])
        .await;
    assert_status(&r, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "up {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let body = api
        .get("/alice/m/resolve/main/big.txt")
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.len(), content.len());
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "down {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn hub_accounts_shape_whoami_and_zero_gpu() {
    let emu = builder().hub_accounts(true).start().await.expect("start");
    let who: Value = Api::new(&emu, ALICE)
        .get("/api/whoami-v2")
        .await
        .json()
        .await
        .expect("json");
    assert!(who.get("plan").is_none(), "{who}");
    assert_eq!(who["isPro"], true);
    assert_eq!(who["orgs"][0]["plan"], "team");
    let carol = Api::new(&emu, CAROL);
    let create = |hw: &'static str| {
        carol.post_json(
            "/api/repos/create",
            json!({"name": format!("g-{hw}"), "type": "space", "sdk": "gradio", "hardware": hw}),
        )
    };
    assert_status(&create("zero-a10g").await, StatusCode::OK);
    assert_status(&create("cpu-basic").await, StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test]
async fn without_hub_accounts_whoami_has_a_plan_and_free_means_static() {
    let emu = start().await;
    let who: Value = Api::new(&emu, ALICE)
        .get("/api/whoami-v2")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(who["plan"], "pro");
    let r = Api::new(&emu, CAROL)
        .post_json(
            "/api/repos/create",
            json!({"name": "g", "type": "space", "sdk": "gradio", "hardware": "zero-a10g"}),
        )
        .await;
    assert_status(&r, StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test]
async fn a_missing_repo_asked_without_a_token_is_401() {
    let emu = start().await;
    let r = Api::anonymous(&emu).get("/api/models/alice/nothing").await;
    assert_status(&r, StatusCode::UNAUTHORIZED);
    let r = Api::new(&emu, ALICE).get("/api/models/alice/nothing").await;
    assert_status(&r, StatusCode::NOT_FOUND);
}
