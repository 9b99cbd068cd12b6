//! The engine in-process: `hf_deploy::deploy` against the emulator, without a subprocess. Plan, dry run,
//! deploy and the proxy Space go through the same gather → plan → execute path.

mod common;

use std::time::Duration;

use common::{
    assert_tree, emulator, emulator_with, remote_tree, repo, source, ALICE, BOB_READ, CAROL_FREE,
};
use hf_deploy::{deploy, validate, DeployArgs, Reporter, Secrets, Style, Tuning};
use hub::{RepoType, Token};

const APP: &[(&str, &[u8])] = &[
    ("app.py", b"print('hi')\n"),
    ("data/big.bin", &[7u8; 11 << 20]),
];

fn quiet() -> Reporter {
    Reporter::new(Style {
        github: false,
        json: false,
        tty: false,
    })
}

/// Poll fast: the emulator's Spaces settle in a few reads (after its build lag, which the default commit grace
/// covers).
fn fast() -> Tuning {
    Tuning {
        poll_interval: Duration::from_millis(5),
        ..Tuning::default()
    }
}

fn config(endpoint: &str, args: DeployArgs) -> hf_deploy::DeployConfig {
    let endpoint = endpoint.to_string();
    let env = move |k: &str| (k == "HF_ENDPOINT").then(|| endpoint.clone());
    validate(&args, &env).expect("valid inputs")
}

fn secrets(token: &str, proxy: Option<&str>) -> Secrets {
    Secrets {
        token: Token::new(token),
        proxy_token: proxy.and_then(Token::new),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_everything_and_writes_nothing() {
    let emu = emulator().await;
    let (_dir, path) = source(APP);
    let cfg = config(
        emu.url(),
        DeployArgs {
            huggingface_repo: Some("alice/model".into()),
            repo_type: Some("model".into()),
            source_dir: Some(path.display().to_string()),
            dry_run: Some("true".into()),
            ..DeployArgs::default()
        },
    );
    let out = deploy(&cfg, &secrets(ALICE, None), &fast(), &quiet())
        .await
        .expect("dry run");
    assert!(out.dry_run && !out.changed && out.commit_sha.is_none());
    assert_eq!(out.counts.added, 2);
    // A repo to create has no preupload to ask: the 11 MiB file is planned as LFS by its size.
    let lfs: Vec<&str> = out
        .files
        .uploads
        .iter()
        .filter(|u| u.lfs)
        .map(|u| u.file.path.as_str())
        .collect();
    assert_eq!(lfs, ["data/big.bin"]);
    assert_eq!(emu.mutation_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_returns_its_outcome_and_a_rerun_plans_nothing() {
    let emu = emulator().await;
    let (_dir, path) = source(APP);
    let args = DeployArgs {
        huggingface_repo: Some("alice/model".into()),
        repo_type: Some("model".into()),
        source_dir: Some(path.display().to_string()),
        ..DeployArgs::default()
    };
    let cfg = config(emu.url(), args);
    let first = deploy(&cfg, &secrets(ALICE, None), &fast(), &quiet())
        .await
        .expect("deploy");
    assert!(first.changed && first.commit_sha.is_some());
    assert_eq!(first.repo_id, "alice/model");
    assert_tree(emu.url(), &repo(RepoType::Model, "alice/model"), APP).await;
    let writes = emu.mutation_count();
    let again = deploy(&cfg, &secrets(ALICE, None), &fast(), &quiet())
        .await
        .expect("rerun");
    assert!(!again.changed && again.commit_sha.is_none());
    assert_eq!(again.counts.unchanged, 2);
    assert_eq!(emu.mutation_count(), writes, "a no-op writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_still_returns_what_was_known() {
    let emu = emulator().await;
    let (_dir, path) = source(APP);
    let cfg = config(
        emu.url(),
        DeployArgs {
            huggingface_repo: Some("bob/model".into()),
            repo_type: Some("model".into()),
            source_dir: Some(path.display().to_string()),
            ..DeployArgs::default()
        },
    );
    let stopped = deploy(&cfg, &secrets(BOB_READ, None), &fast(), &quiet())
        .await
        .expect_err("a read token cannot deploy");
    assert_eq!(stopped.failure.code(), 3, "{}", stopped.failure);
    assert_eq!(emu.mutation_count(), 0);
}

/// The proxy Space's template is planned and committed by the same sync as the Space: the first run commits
/// it, the second finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_template_goes_through_the_same_sync() {
    let emu = emulator_with(|b| b).await;
    let (_dir, path) = source(&[("app.py", b"import gradio\n")]);
    let cfg = config(
        emu.url(),
        DeployArgs {
            huggingface_repo: Some("alice/app".into()),
            private: Some("true".into()),
            create_proxy: Some("true".into()),
            source_dir: Some(path.display().to_string()),
            ..DeployArgs::default()
        },
    );
    let out = deploy(&cfg, &secrets(ALICE, Some(BOB_READ)), &fast(), &quiet())
        .await
        .expect("deploy with proxy");
    assert!(out.proxy_enabled);
    assert_eq!(out.proxy_repo_id, "alice/app-proxy");
    let proxy = repo(RepoType::Space, "alice/app-proxy");
    let tree = remote_tree(emu.url(), &proxy).await;
    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "Dockerfile",
        "README.md",
        "src/main.rs",
    ] {
        assert!(tree.contains_key(path), "{path} missing: {tree:?}");
    }
    let writes = emu.mutation_count();
    let again = deploy(&cfg, &secrets(ALICE, Some(BOB_READ)), &fast(), &quiet())
        .await
        .expect("rerun");
    assert!(!again.changed);
    assert_eq!(
        emu.mutation_count(),
        writes,
        "an unchanged Space and proxy write nothing"
    );
}

/// `proxy_target_url` gets the proxy's token with every request: a plain-http or non-Space upstream is a
/// warning (kept for the step summary too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_is_not_an_https_space_is_a_warning() {
    let emu = emulator().await;
    let (_dir, path) = source(&[("app.py", b"import gradio\n")]);
    for (url, warned) in [
        ("http://api.example.com", true),
        ("https://api.example.com", true),
        ("http://alice-app.hf.space", true),
        ("https://alice-app.hf.space", false),
    ] {
        let cfg = config(
            emu.url(),
            DeployArgs {
                huggingface_repo: Some("alice/app".into()),
                create_proxy: Some("true".into()),
                proxy_target_url: Some(url.into()),
                source_dir: Some(path.display().to_string()),
                dry_run: Some("true".into()),
                ..DeployArgs::default()
            },
        );
        let reporter = quiet();
        deploy(&cfg, &secrets(ALICE, Some(BOB_READ)), &fast(), &reporter)
            .await
            .expect("dry run");
        let warnings = reporter.warnings();
        assert_eq!(
            warnings.iter().any(|w| w.contains("proxy_target_url")),
            warned,
            "{url}: {warnings:?}"
        );
    }
}

/// A folder with nothing to deploy is refused (exit 2) before anything remote changes; the message points at
/// include/exclude only when they are what left nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_to_deploy_names_include_and_exclude_only_when_they_apply() {
    let emu = emulator().await;
    let (_dir, path) = source(&[("app.py", b"print(1)\n"), (".git/HEAD", b"ref\n")]);
    let run = |include: Option<&str>, dir: &std::path::Path| {
        config(
            emu.url(),
            DeployArgs {
                huggingface_repo: Some("alice/model".into()),
                repo_type: Some("model".into()),
                source_dir: Some(dir.display().to_string()),
                include: include.map(str::to_string),
                ..DeployArgs::default()
            },
        )
    };
    let filtered = deploy(
        &run(Some("*.nothing"), &path),
        &secrets(ALICE, None),
        &fast(),
        &quiet(),
    )
    .await
    .expect_err("nothing left after include");
    assert_eq!(filtered.failure.code(), 2);
    assert!(
        filtered.failure.message.contains("after include/exclude"),
        "{}",
        filtered.failure
    );
    let (_empty, only_git) = source(&[(".git/HEAD", b"ref\n")]);
    let empty = deploy(
        &run(None, &only_git),
        &secrets(ALICE, None),
        &fast(),
        &quiet(),
    )
    .await
    .expect_err("an empty folder");
    assert_eq!(empty.failure.code(), 2);
    assert!(
        empty.failure.message.contains("holds no files to deploy")
            && !empty.failure.message.contains("include/exclude"),
        "{}",
        empty.failure
    );
    assert_eq!(emu.mutation_count(), 0);
}

/// A Space still building at `wait_timeout` fails with the time rounded to whole seconds and its page's URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_timeout_names_the_spaces_page_and_a_round_time() {
    let emu = emulator_with(|b| b.build_polls(1_000_000)).await;
    let (_dir, path) = source(&[("index.html", b"<p>hi</p>\n")]);
    let cfg = config(
        emu.url(),
        DeployArgs {
            huggingface_repo: Some("alice/slow".into()),
            space_sdk: Some("static".into()),
            wait_timeout: Some("1s".into()),
            source_dir: Some(path.display().to_string()),
            ..DeployArgs::default()
        },
    );
    let stopped = deploy(&cfg, &secrets(ALICE, None), &fast(), &quiet())
        .await
        .expect_err("still building");
    let text = stopped.failure.to_string();
    assert!(text.contains("after 1s (wait_timeout)"), "{text}");
    assert!(
        text.contains(&format!("{}/spaces/alice/slow", emu.url())),
        "{text}"
    );
    assert_eq!(stopped.outcome.repo_id, "alice/slow");
    assert!(stopped.outcome.commit_sha.is_some(), "the commit was made");
}

/// A free account may create a Gradio Space on ZeroGPU (`space_hardware: zero-a10g`), not on the default
/// hardware; the plan check and the Hub agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_account_gets_a_gradio_space_on_zero_gpu_only() {
    // Hub-shaped accounts: whoami as the Hub sends it, and ZeroGPU open to free accounts.
    let emu = emulator_with(|b| b.hub_accounts(true)).await;
    let (_dir, path) = source(&[("app.py", b"import gradio\n")]);
    let args = |name: &str, hardware: Option<&str>| DeployArgs {
        huggingface_repo: Some(format!("carol/{name}")),
        space_sdk: Some("gradio".into()),
        space_hardware: hardware.map(str::to_string),
        source_dir: Some(path.display().to_string()),
        ..DeployArgs::default()
    };
    let refused = deploy(
        &config(emu.url(), args("cpu", None)),
        &secrets(CAROL_FREE, None),
        &fast(),
        &quiet(),
    )
    .await
    .expect_err("free plan, default hardware");
    assert_eq!(refused.failure.code(), 3);
    assert!(
        refused
            .failure
            .message
            .contains("space_hardware: zero-a10g"),
        "{}",
        refused.failure
    );
    assert_eq!(emu.mutation_count(), 0);
    let zero = deploy(
        &config(emu.url(), args("zero", Some("zero-a10g"))),
        &secrets(CAROL_FREE, None),
        &fast(),
        &quiet(),
    )
    .await
    .expect("a Gradio Space on ZeroGPU");
    assert!(zero.changed);
    assert_eq!(
        hub::HubClient::new(emu.url(), Token::new(CAROL_FREE))
            .expect("client")
            .space_runtime(&hub::RepoId::parse("carol/zero").expect("id"))
            .await
            .expect("runtime")
            .hardware
            .as_deref(),
        Some("zero-a10g")
    );
}

/// Nothing asked, nothing sent: the account's default visibility applies. `visibility: private` (or the legacy
/// `private: true`) makes it private.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_is_sent_only_when_asked() {
    let emu = emulator().await;
    let (_dir, path) = source(&[("a.txt", b"a\n")]);
    let args = |name: &str, visibility: Option<&str>, private: Option<&str>| DeployArgs {
        huggingface_repo: Some(format!("alice/{name}")),
        repo_type: Some("model".into()),
        visibility: visibility.map(str::to_string),
        private: private.map(str::to_string),
        source_dir: Some(path.display().to_string()),
        ..DeployArgs::default()
    };
    for (name, visibility, private, expect_private) in [
        ("unset", None, None, false),
        ("vis-private", Some("private"), None, true),
        ("legacy-private", None, Some("true"), true),
        ("vis-protected", Some("protected"), None, false),
    ] {
        deploy(
            &config(emu.url(), args(name, visibility, private)),
            &secrets(ALICE, None),
            &fast(),
            &quiet(),
        )
        .await
        .expect("deploy");
        let info = common::client(emu.url())
            .repo_info(&repo(RepoType::Model, &format!("alice/{name}")), None)
            .await
            .expect("info")
            .expect("exists");
        assert_eq!(info.private, expect_private, "{name}");
    }
    let env = |_: &str| None;
    let conflict = validate(&args("x", Some("public"), Some("true")), &env).expect_err("conflict");
    assert!(
        conflict
            .message
            .contains("visibility is public but private is true"),
        "{conflict}"
    );
}
