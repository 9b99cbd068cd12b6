//! Fault injection: statuses with Retry-After, dropped connections, schedules, seeded probability.

mod common;

use common::*;
use hub_emulator::{FaultAction, FaultRule, FaultTrigger};
use reqwest::StatusCode;
use serde_json::json;

async fn statuses(api: &Api<'_>, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(api.get(path).await.status().as_u16());
    }
    out
}

#[tokio::test]
async fn schedules_first_and_every() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    emu.inject(FaultRule::parse("GET /api/whoami-v2 503 first=2").expect("spec"));
    assert_eq!(
        statuses(&api, "/api/whoami-v2", 4).await,
        [503, 503, 200, 200]
    );
    emu.clear_faults();
    emu.inject(FaultRule {
        method: Some("GET".into()),
        path: "/api/*".into(),
        action: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        trigger: FaultTrigger::Every(3),
        times: None,
    });
    assert_eq!(
        statuses(&api, "/api/whoami-v2", 6).await,
        [200, 200, 500, 200, 200, 500]
    );
    // The journal shows injected answers too.
    assert_eq!(emu.journal().iter().filter(|e| e.status == 500).count(), 2);
}

#[tokio::test]
async fn seeded_probability_is_reproducible() {
    let spec = "GET /api/whoami-v2 502 p=0.5 seed=7";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emu = builder()
            .fault(FaultRule::parse(spec).expect("spec"))
            .start()
            .await
            .expect("start");
        runs.push(statuses(&Api::new(&emu, ALICE), "/api/whoami-v2", 40).await);
    }
    assert_eq!(runs[0], runs[1]);
    let failures = runs[0].iter().filter(|&&s| s == 502).count();
    assert!((8..=32).contains(&failures), "p=0.5 gave {failures}/40");
    let emu = builder()
        .fault(FaultRule::parse("GET /api/whoami-v2 502 p=0.5 seed=8").expect("spec"))
        .start()
        .await
        .expect("start");
    assert_ne!(
        statuses(&Api::new(&emu, ALICE), "/api/whoami-v2", 40).await,
        runs[0]
    );
}

#[tokio::test]
async fn rate_limit_drop_delay_and_control_api() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    let http = client();
    let r = http
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"spec": "* /api/whoami-v2 429 retry-after=3 times=1"}))
        .send()
        .await
        .expect("post");
    assert_status(&r, StatusCode::OK);
    let r = api.get("/api/whoami-v2").await;
    assert_status(&r, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_status(&api.get("/api/whoami-v2").await, StatusCode::OK);
    // Structured JSON form: drop the connection without an answer.
    http.post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"method": "GET", "path": "/api/models", "drop": true, "first": 1}))
        .send()
        .await
        .expect("post");
    let err = api.req(reqwest::Method::GET, "/api/models").send().await;
    assert!(
        err.is_err(),
        "a dropped connection must not produce a response"
    );
    assert_eq!(emu.journal().last().map(|e| e.status), Some(0));
    assert_status(&api.get("/api/models").await, StatusCode::OK);
    // Delay, then a normal answer.
    emu.inject(FaultRule::parse("GET /api/whoami-v2 delay=150").expect("spec"));
    let t = std::time::Instant::now();
    assert_status(&api.get("/api/whoami-v2").await, StatusCode::OK);
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));
    let r = http
        .delete(format!("{}/_emulator/faults", emu.url()))
        .send()
        .await
        .expect("delete");
    assert_status(&r, StatusCode::OK);
    let bad = http
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"spec": "GET nothing 503"}))
        .send()
        .await
        .expect("post");
    assert_status(&bad, StatusCode::BAD_REQUEST);
}
