//! `create_proxy: true` end to end against the emulator, no Docker: the deploy creates the public proxy Space
//! with its settings, the real `hf-space-proxy` is started with exactly what the emulator stored, and a call
//! through it reaches the private Space's app with the token added server-side. Reruns write nothing;
//! a free plan, a bad suffix or someone else's Space in the way stop the deploy before any write.

mod common;

use std::collections::BTreeMap;

use common::{
    client, emulator, emulator_with, journal_since, repo, source, Deploy, ALICE, BOB_READ,
    CAROL_FREE,
};
use hub::RepoType;
use serde_json::Value;

const APP: &[(&str, &[u8])] = &[
    (
        "app.py",
        b"import gradio as gr\ngr.Interface(lambda s: s, 'text', 'text').launch()\n",
    ),
    ("requirements.txt", b"gradio\n"),
];

/// A private Space in org `acme` (alice writes, bob reads) with its proxy; bob's read token goes to the proxy.
fn private_with_proxy(url: &str, path: &std::path::Path, target: &str) -> Deploy {
    Deploy::new(url, Some(ALICE))
        .input("huggingface_repo", target)
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("proxy_allow_origins", "https://site.example")
        .input("source_dir", path.to_str().expect("utf-8 path"))
        .env("HF_DEPLOY_PROXY_HF_TOKEN", BOB_READ)
        .arg("--json")
}

/// Collects what provisioning reports.
#[derive(Default)]
struct Lines(std::sync::Mutex<Vec<String>>);

impl hf_deploy::Report for Lines {
    fn info(&self, line: &str) {
        self.0.lock().unwrap().push(format!("info: {line}"));
    }
    fn warn(&self, line: &str) {
        self.0.lock().unwrap().push(format!("warn: {line}"));
    }
}

impl Lines {
    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

struct Proxy {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts hf-space-proxy with the proxy Space's variables and secret as the emulator holds them, like the
/// Space's container would get them.
async fn start_proxy(emu: &hub_emulator::Emulator, proxy_repo: &str) -> Proxy {
    let variables = emu.space_variables(proxy_repo);
    let secret = emu
        .space_secret(proxy_repo, "PROXY_HF_TOKEN")
        .expect("the proxy Space has its token secret");
    start_proxy_with(variables, secret).await
}

async fn start_proxy_with(variables: BTreeMap<String, String>, secret: String) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let origin = format!("http://{addr}");
    let mut env: BTreeMap<String, String> = variables;
    env.insert("PROXY_HF_TOKEN".into(), secret);
    env.insert("PROXY_LISTEN".into(), addr.to_string());
    env.insert("PROXY_PUBLIC_ORIGIN".into(), origin.clone());
    let config =
        hf_space_proxy::Config::from_map(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .expect("the stored settings are a valid proxy configuration");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = hf_space_proxy::serve(config, listener, async {
            let _ = stopped.await;
        })
        .await;
    });
    Proxy {
        url: origin,
        stop,
        task,
    }
}

async fn get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_space_is_reachable_through_its_proxy_and_a_rerun_writes_nothing() {
    let emu = emulator_with(|b| b.org("acme", &["alice", "bob"])).await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);

    let first = private_with_proxy(&url, &path, "acme/app").run().await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let json = first.json();
    assert_eq!(json["proxy_enabled"], Value::Bool(true));
    assert_eq!(json["proxy_repo_id"], "acme/app-proxy");
    let proxy_host = emu
        .space_host("acme/app-proxy")
        .expect("proxy Space exists");
    assert_eq!(json["proxy_url"], proxy_host.as_str());
    assert_eq!(first.outputs["proxy_repo_id"], "acme/app-proxy");
    assert!(
        !first.visible().contains("can write"),
        "bob's read token must not trigger the write warning"
    );

    // The proxy Space: public, docker, the embedded template, the settings hf-deploy manages.
    let anonymous = hub::HubClient::new(&url, None).expect("client");
    let info = anonymous
        .repo_info(&repo(RepoType::Space, "acme/app-proxy"), None)
        .await
        .expect("info");
    assert!(info.is_some(), "the proxy Space must be public");
    let tree: Vec<String> = client(&url)
        .list_tree(&repo(RepoType::Space, "acme/app-proxy"), "main")
        .await
        .expect("tree")
        .into_iter()
        .map(|e| e.path)
        .collect();
    for file in [
        "Dockerfile",
        "README.md",
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "src/lib.rs",
    ] {
        assert!(
            tree.iter().any(|p| p == file),
            "{file} missing from the proxy Space: {tree:?}"
        );
    }
    let readme = get(
        &format!("{url}/spaces/acme/app-proxy/resolve/main/README.md"),
        None,
    )
    .await
    .1;
    assert!(readme.contains("sdk: docker"), "{readme}");
    assert!(
        !readme.contains("{{"),
        "placeholders left in the README: {readme}"
    );
    let target_host = emu.space_host("acme/app").expect("target exists");
    let vars = emu.space_variables("acme/app-proxy");
    assert_eq!(vars["PROXY_TARGET_URL"], target_host);
    assert_eq!(vars["PROXY_ALLOW_ORIGINS"], "https://site.example");
    assert!(
        !vars
            .values()
            .any(|v| v.contains(BOB_READ) || v.contains(ALICE)),
        "a token in a public variable"
    );
    assert_eq!(
        emu.space_secret("acme/app-proxy", "PROXY_HF_TOKEN")
            .as_deref(),
        Some(BOB_READ)
    );

    // Directly, without a token, the private app refuses.
    let (direct, _) = get(&format!("{target_host}/echo"), None).await;
    assert!(
        matches!(direct, 401 | 403 | 404),
        "private Space answered {direct} without a token"
    );

    // Through the proxy, an anonymous caller (with its own, foreign credentials) gets through.
    let proxy = start_proxy(&emu, "acme/app-proxy").await;
    let (status, body) = get(
        &format!("{}/echo?x=1", proxy.url),
        Some("Bearer hf_a_callers_own_token"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let echo: Value = serde_json::from_str(&body).expect("echo JSON");
    assert_eq!(echo["path"], "/echo");
    let headers = echo["headers"].as_object().expect("headers");
    assert!(
        !headers.contains_key("authorization"),
        "the caller's Authorization reached the app: {body}"
    );
    assert!(
        !headers.contains_key("x-hf-authorization"),
        "the Hub edge must strip the token header: {body}"
    );
    for secret in [BOB_READ, ALICE, "hf_a_callers_own_token"] {
        assert!(!body.contains(secret), "{secret} in the response");
    }
    let _ = proxy.stop.send(());
    let _ = proxy.task.await;

    // Unchanged rerun: no commit, no variable or secret write, on either Space.
    let before = emu.journal().len();
    let again = private_with_proxy(&url, &path, "acme/app").run().await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["changed"], Value::Bool(false));
    let writes: Vec<_> = journal_since(&emu, before)
        .into_iter()
        .filter(|e| e.2)
        .collect();
    assert!(writes.is_empty(), "an unchanged rerun wrote: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_proxy_token_rewrites_only_the_secret_and_warns_when_it_can_write() {
    // As on the Hub, a secret or variable write restarts the Space.
    let emu = emulator_with(|b| b.org("acme", &["alice", "bob"]).settings_restart(true)).await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let first = private_with_proxy(&url, &path, "acme/rot").run().await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let fingerprint = emu.space_variables("acme/rot-proxy")["PROXY_HF_TOKEN_FINGERPRINT"].clone();

    // No proxy token now: the write token is the fallback, which the deployer warns about.
    let before = emu.journal().len();
    let second = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "acme/rot")
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("proxy_allow_origins", "https://site.example")
        .input("source_dir", path.to_str().expect("utf-8"))
        .run()
        .await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let shown = second.visible();
    assert!(
        shown.contains("can write") && shown.contains("read-only token"),
        "{shown}"
    );
    // The warning, with its fix, reaches the step summary too.
    assert!(
        second.summary.contains("#### Warnings")
            && second.summary.contains("proxy_hf_token is not set")
            && second.summary.contains("read-only token"),
        "{}",
        second.summary
    );
    assert_eq!(
        emu.space_secret("acme/rot-proxy", "PROXY_HF_TOKEN")
            .as_deref(),
        Some(ALICE)
    );
    assert_ne!(
        emu.space_variables("acme/rot-proxy")["PROXY_HF_TOKEN_FINGERPRINT"],
        fingerprint
    );
    let writes: Vec<(String, String)> = journal_since(&emu, before)
        .into_iter()
        .filter(|e| e.2)
        .map(|e| (e.0, e.1))
        .collect();
    assert!(
        writes
            .iter()
            .all(|(_, p)| p.starts_with("/api/spaces/acme/rot-proxy/")),
        "only the proxy Space changes: {writes:?}"
    );
    assert!(
        writes.iter().any(|(_, p)| p.ends_with("/secrets")),
        "{writes:?}"
    );
    assert!(
        !writes.iter().any(|(_, p)| p.contains("/commit/")),
        "no template commit: {writes:?}"
    );
    // The secret write restarts the Space on the Hub (and here): a restart call would build it twice.
    assert!(
        !writes.iter().any(|(_, p)| p.ends_with("/restart")),
        "no restart call after a settings write: {writes:?}"
    );
    assert!(
        emu.restart_count(Some("settings")) > 0,
        "the settings write restarted the proxy Space"
    );

    // Only the origins change: the variable is rewritten, the secret is not.
    let before = emu.journal().len();
    let third = private_with_proxy(&url, &path, "acme/rot")
        .input("proxy_allow_origins", "https://other.example")
        .env("HF_DEPLOY_PROXY_HF_TOKEN", ALICE)
        .run()
        .await;
    assert_eq!(third.code, 0, "{}", third.visible());
    assert_eq!(
        emu.space_variables("acme/rot-proxy")["PROXY_ALLOW_ORIGINS"],
        "https://other.example"
    );
    let writes: Vec<String> = journal_since(&emu, before)
        .into_iter()
        .filter(|e| e.2)
        .map(|e| e.1)
        .collect();
    // The variable write restarts the Space by itself; no second restart.
    assert!(
        writes.iter().any(|p| p.ends_with("/variables"))
            && !writes.iter().any(|p| p.ends_with("/restart")),
        "{writes:?}"
    );
    assert!(
        !writes.iter().any(|p| p.ends_with("/secrets")),
        "the unchanged token was rewritten: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_plan_gets_exit_3_before_any_write() {
    let emu =
        emulator_with(|b| b.org_with_plan("poor", &["alice"], hub_emulator::Plan::Free)).await;
    let url = emu.url().to_string();
    let (_dir, path) = source(&[("index.html", b"<p>static is free</p>\n")]);
    for (token, target) in [(CAROL_FREE, "carol/site"), (ALICE, "poor/site")] {
        let run = Deploy::new(&url, Some(token))
            .input("huggingface_repo", target)
            .input("space_sdk", "static")
            .input("create_proxy", "true")
            .input("source_dir", path.to_str().expect("utf-8"))
            .run()
            .await;
        assert_eq!(run.code, 3, "{target}: {}", run.stderr);
        let error = run.error();
        for needle in ["PRO", "Team", "Enterprise", "protected"] {
            assert!(
                error.contains(needle),
                "{target}: the error should mention {needle}: {error}"
            );
        }
        assert_eq!(
            error.matches("paid plan").count(),
            1,
            "one clear error: {}",
            error
        );
    }
    assert_eq!(emu.mutation_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_suffixes_and_someone_elses_space_get_exit_2_before_any_write() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let run_with = |suffix: Option<String>, target: &str, kind: &str| {
        let mut d = Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", target)
            .input("repo_type", kind)
            .input("space_sdk", "gradio")
            .input("create_proxy", "true")
            .input("source_dir", path.to_str().expect("utf-8"));
        if let Some(s) = suffix {
            d = d.input("proxy_space_suffix", &s);
        }
        d.run()
    };
    let too_long = format!("-{}", "x".repeat(96));
    for suffix in ["--x", "/x", too_long.as_str(), "-proxy.git"] {
        let run = run_with(Some(suffix.to_string()), "alice/app", "space").await;
        assert_eq!(run.code, 2, "suffix {suffix:?}: {}", run.stderr);
    }
    let model = run_with(None, "alice/model", "model").await;
    assert_eq!(model.code, 2, "create_proxy on a model: {}", model.stderr);
    for bad_url in [
        "ftp://x.example",
        "https://user:pw@x.example",
        "https://x.example/?q=1",
        "x.example",
    ] {
        let run = Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/app")
            .input("space_sdk", "gradio")
            .input("create_proxy", "true")
            .input("proxy_target_url", bad_url)
            .input("source_dir", path.to_str().expect("utf-8"))
            .run()
            .await;
        assert_eq!(
            run.code,
            2,
            "proxy_target_url {bad_url:?}: {}",
            run.visible()
        );
        assert!(!run.visible().contains("pw@"), "credentials echoed back");
    }
    assert_eq!(emu.mutation_count(), 0);

    // Someone's own app already lives where the proxy would go: never overwrite it.
    let c = client(&url);
    let theirs = repo(RepoType::Space, "alice/app2-proxy");
    c.create_repo(
        &theirs,
        &hub::CreateRepo {
            visibility: Some(hub::Visibility::Public),
            space_sdk: Some(hub::SpaceSdk::Gradio),
            hardware: None,
        },
    )
    .await
    .expect("create");
    c.commit(
        &theirs,
        "main",
        &hub::CommitRequest {
            summary: "their app".into(),
            description: String::new(),
            parent_commit: None,
            create_pr: false,
            operations: vec![hub::CommitOperation::AddBytes {
                path: "app.py".into(),
                content: b"print(1)\n".to_vec(),
            }],
        },
    )
    .await
    .expect("commit");
    let before = emu.mutation_count();
    let run = run_with(None, "alice/app2", "space").await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.visible().contains("not an hf-deploy proxy"),
        "{}",
        run.visible()
    );
    assert_eq!(
        emu.mutation_count(),
        before,
        "nothing written, not even the target"
    );
}

/// Someone's app committed a moment ago: the Hub's CDN still serves the Space's first commit, which looks like a
/// proxy whose first run stopped early. The deploy judges by the current head and refuses, writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_space_is_refused_even_while_its_reads_are_stale() {
    let emu = emulator_with(|b| b.stale_reads_ms(60_000)).await;
    let url = emu.url().to_string();
    let c = client(&url);
    let theirs = repo(RepoType::Space, "alice/web-proxy");
    c.create_repo(
        &theirs,
        &hub::CreateRepo {
            space_sdk: Some(hub::SpaceSdk::Gradio),
            ..hub::CreateRepo::default()
        },
    )
    .await
    .expect("create");
    c.commit(
        &theirs,
        "main",
        &hub::CommitRequest {
            summary: "their app".into(),
            operations: vec![hub::CommitOperation::AddBytes {
                path: "app.py".into(),
                content: b"print(1)\n".to_vec(),
            }],
            ..hub::CommitRequest::default()
        },
    )
    .await
    .expect("commit");
    let before = emu.mutation_count();
    let (_dir, path) = source(APP);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/web")
        .input("space_sdk", "gradio")
        .input("create_proxy", "true")
        .input("source_dir", path.to_str().expect("utf-8"))
        .run()
        .await;
    assert_eq!(run.code, 2, "{}", run.visible());
    assert!(
        run.visible().contains("not an hf-deploy proxy"),
        "{}",
        run.visible()
    );
    assert_eq!(emu.mutation_count(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_with_create_proxy_writes_nothing_and_names_the_proxy() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/dry")
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("dry_run", "true")
        .input("source_dir", path.to_str().expect("utf-8"))
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(emu.mutation_count(), 0);
    assert!(
        run.visible().contains("alice/dry-proxy"),
        "{}",
        run.visible()
    );
}

/// The deploy's last step, `wait_and_probe`, against the real proxy: live and ready with the stored token;
/// live but not ready (a warning, not a failure) when its upstream is unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_reports_a_live_proxy_and_warns_when_it_cannot_reach_the_private_space() {
    let emu = emulator_with(|b| b.org("acme", &["alice", "bob"])).await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let run = private_with_proxy(&url, &path, "acme/probe").run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let proxy_id = hub::RepoId::parse("acme/probe-proxy").expect("id");
    let c = client(&url);
    let opts = hf_deploy::WaitOptions::settled(
        std::time::Duration::from_secs(10),
        &hf_deploy::Tuning::default(),
    );

    let good = start_proxy(&emu, "acme/probe-proxy").await;
    let lines = Lines::default();
    hf_deploy::wait_and_probe(&c, &proxy_id, &good.url, &opts, true, &lines)
        .await
        .expect("probe");
    let text = lines.text();
    assert!(
        text.contains("is live") && text.contains("reaches its upstream"),
        "{text}"
    );
    assert!(!text.contains("warn:"), "{text}");
    let _ = good.stop.send(());
    let _ = good.task.await;

    // An upstream that is gone: a port nothing listens on any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let mut vars = emu.space_variables("acme/probe-proxy");
    vars.insert("PROXY_TARGET_URL".into(), closed);
    vars.insert("PROXY_WAKE_RETRY_SECS".into(), "0".into());
    let bad = start_proxy_with(vars, BOB_READ.to_string()).await;
    let lines = Lines::default();
    hf_deploy::wait_and_probe(&c, &proxy_id, &bad.url, &opts, true, &lines)
        .await
        .expect("a probe failure is a warning");
    let text = lines.text();
    assert!(
        text.contains("is live") && text.contains("warn:") && text.contains("cannot reach"),
        "{text}"
    );
    let _ = bad.stop.send(());
    let _ = bad.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_proxy_token_gets_exit_3_before_any_write_and_is_never_shown() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let bogus = "hf_not_a_valid_proxy_token_4242";
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/badtoken")
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("source_dir", path.to_str().expect("utf-8"))
        .env("HF_DEPLOY_PROXY_HF_TOKEN", bogus)
        .run()
        .await;
    assert_eq!(run.code, 3, "{}", run.visible());
    assert!(
        run.visible().contains("proxy_hf_token"),
        "{}",
        run.visible()
    );
    assert!(!run.visible().contains(bogus), "the proxy token leaked");
    assert_eq!(emu.mutation_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_target_url_overrides_the_spaces_own_url() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/custom")
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("proxy_target_url", "https://api.example.com/")
        .input("source_dir", path.to_str().expect("utf-8"))
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    let vars = emu.space_variables("alice/custom-proxy");
    assert_eq!(vars["PROXY_TARGET_URL"], "https://api.example.com");
    assert_eq!(vars["PROXY_ALLOW_ORIGINS"], "*");
}

/// Right after its writes, the Hub may still report the proxy Space's previous stage (a new Space's
/// `NO_APP_FILE`) before it builds: the proxy's wait gets the same after-commit grace as the target's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_wait_survives_a_build_lag() {
    let emu = emulator_with(|b| b.org("acme", &["alice", "bob"]).build_lag_ms(400)).await;
    let url = emu.url().to_string();
    let (_dir, path) = source(APP);
    let run = private_with_proxy(&url, &path, "acme/lagged").run().await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert!(
        run.visible().contains("Space acme/lagged-proxy: RUNNING"),
        "{}",
        run.visible()
    );
}
