//! A deploy against the emulator, end to end through the binary: the repo ends up holding exactly the folder,
//! and only what changed is sent.

mod common;

use common::*;
use hub::RepoType;

fn lfs_puts(emu: &hub_emulator::Emulator, from: usize) -> usize {
    journal_since(emu, from)
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.starts_with("/_lfs/"))
        .count()
}

/// A Hub without Xet: these tests are about the LFS transfers themselves.
async fn lfs_only_emulator() -> hub_emulator::Emulator {
    emulator_with(|b| b.xet(false)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_deploy_then_rerun_makes_no_commit() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(2 * 1024 * 1024, 1);
    let files: Vec<(&str, &[u8])> = vec![
        ("config.json", b"{\"a\": 1}\n"),
        (
            "data/nested/deep/notes.txt",
            b"hello from a nested folder\n",
        ),
        ("weights/model.bin", &big),
        ("empty.txt", b""),
    ];
    let (_dir, src) = source(&files);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/model-one")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let repo = repo(RepoType::Model, "alice/model-one");
    assert_tree(&url, &repo, &files).await;
    assert_eq!(first.outputs["repo_id"], "alice/model-one");
    assert_eq!(first.outputs["space_url"], "");
    assert_eq!(first.outputs["proxy_enabled"], "false");
    assert!(
        first.outputs["repo_url"].ends_with("/alice/model-one"),
        "{:?}",
        first.outputs
    );
    assert!(first.summary.contains("| added |"), "{}", first.summary);

    let before = head(&url, &repo).await;
    let mark = emu.journal().len();
    // GitHub mode with --json: masks and logs on stderr, stdout holds only the JSON object.
    let again = deploy().arg("--json").run().await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(head(&url, &repo).await, before, "a rerun must not commit");
    assert!(
        journal_since(&emu, mark)
            .iter()
            .all(|(_, _, mutating)| !mutating),
        "{:?}",
        journal_since(&emu, mark)
    );
    let json = again.json();
    assert_eq!(json["changed"], false);
    assert!(json["commit_sha"].is_null());
    assert_eq!(json["unchanged"], 4);
    assert!(
        again.stderr.contains("already up to date"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_file_uploads_only_that_file_and_deletions_apply() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big_a = random_bytes(2 * 1024 * 1024, 2);
    let big_b = random_bytes(2 * 1024 * 1024, 3);
    let (_dir, src) = source(&[
        ("a.txt", b"a\n"),
        ("b.txt", b"b\n"),
        ("one.bin", &big_a),
        ("two.bin", &big_b),
    ]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/ds")
            .input("repo_type", "dataset")
            .input("source_dir", &src.display().to_string())
    };
    assert_eq!(deploy().run().await.code, 0);

    // One LFS file changes: one LFS upload, one commit.
    let changed = random_bytes(2 * 1024 * 1024, 4);
    std::fs::write(src.join("one.bin"), &changed).expect("write");
    let mark = emu.journal().len();
    let run = deploy().run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        content_uploads(&emu, mark),
        1,
        "{:?}",
        journal_since(&emu, mark)
    );
    assert_eq!(commits(&emu, mark), 1, "{}", run.stdout);

    // One small file changes and one is deleted: no LFS upload at all.
    std::fs::write(src.join("a.txt"), b"a2\n").expect("write");
    std::fs::remove_file(src.join("b.txt")).expect("rm");
    let mark = emu.journal().len();
    let run = deploy().run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(content_uploads(&emu, mark), 0);
    assert_eq!(commits(&emu, mark), 1);
    assert_tree(
        &url,
        &repo(RepoType::Dataset, "alice/ds"),
        &[
            ("a.txt", b"a2\n"),
            ("one.bin", &changed),
            ("two.bin", &big_b),
        ],
    )
    .await;

    // delete_stale: false keeps remote files that are gone locally.
    std::fs::remove_file(src.join("a.txt")).expect("rm");
    let run = deploy().input("delete_stale", "false").run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(remote_tree(&url, &repo(RepoType::Dataset, "alice/ds"))
        .await
        .contains_key("a.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_source_dir_include_exclude_and_split_commits() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let root = tempfile::tempdir().expect("tempdir");
    write_tree(
        root.path(),
        &[
            ("outside.txt", b"not deployed"),
            ("build/site/app.py", b"print(1)\n"),
            ("build/site/lib/util.py", b"x = 1\n"),
            ("build/site/assets/logo.svg", b"<svg/>"),
            ("build/site/assets/private/key.txt", b"nope"),
            ("build/site/notes.tmp", b"tmp"),
            ("build/site/README.md", b"# model\n"),
            ("build/site/.git/config", b"[core]"),
        ],
    );
    let src = root.path().join("build/site");
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/filtered")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .input("include", "*.py\nassets/")
        .input("exclude", "assets/private, *.tmp")
        .env("HF_DEPLOY_MAX_COMMIT_FILES", "2")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/filtered"),
        &[
            ("app.py", b"print(1)\n"),
            ("lib/util.py", b"x = 1\n"),
            ("assets/logo.svg", b"<svg/>"),
        ],
    )
    .await;
    // Three files in commits of at most two operations.
    let commit_posts = emu
        .journal()
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains("/commit/"))
        .count();
    assert_eq!(commit_posts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_lfs_file_round_trips() {
    let emu = lfs_only_emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(12 * 1024 * 1024, 5);
    let files: Vec<(&str, &[u8])> = vec![("big/weights.safetensors", &big)];
    let (_dir, src) = source(&files);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/big")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_tree(&url, &repo(RepoType::Model, "alice/big"), &files).await;
    // 12 MiB in 5 MiB parts: three part uploads and one completion.
    assert_eq!(lfs_puts(&emu, 0), 3, "{:?}", emu.journal());
    // A rerun uploads nothing.
    let mark = emu.journal().len();
    let again = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/big")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(again.code, 0);
    assert_eq!(lfs_puts(&emu, mark), 0);
    assert_eq!(commits(&emu, mark), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("app.py", b"print(1)\n"), ("index.html", b"<p>hi</p>")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/dry")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .input("dry_run", "true")
        .env("GITHUB_ACTIONS", "false")
        .arg("--json")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(emu.mutation_count(), 0, "{:?}", emu.journal());
    let json = run.json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["changed"], false);
    assert_eq!(
        json["added"], 3,
        "app.py, index.html and a generated README.md: {json}"
    );

    // Against an existing repo too.
    let real = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/dry")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(real.code, 0, "{}", real.stderr);
    std::fs::write(src.join("app.py"), b"print(2)\n").expect("write");
    let before = emu.mutation_count();
    let dry = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/dry")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .arg("--dry-run")
        .run()
        .await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(emu.mutation_count(), before);
    assert!(dry.stdout.contains("~ app.py"), "{}", dry.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_gets_front_matter_waits_and_reports_build_errors() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("index.html", b"<p>hi</p>"), ("README.md", b"# My Space\n")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/site")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("added `sdk`"), "{}", run.stdout);
    assert!(run.stdout.contains("RUNNING"), "{}", run.stdout);
    assert!(!run.outputs["space_url"].is_empty(), "{:?}", run.outputs);
    assert_tree(
        &url,
        &repo(RepoType::Space, "alice/site"),
        &[
            ("index.html", b"<p>hi</p>"),
            ("README.md", b"---\nsdk: static\n---\n\n# My Space\n"),
        ],
    )
    .await;

    // A build error fails the deploy with exit 1 and says so.
    write_tree(&src, &[("BUILD_ERROR", b"boom")]);
    let failed = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/site")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    let error = failed.error();
    assert!(error.contains("BUILD_ERROR"), "{error}");
    // The error message and the build log's last lines (the emulator logs `ERROR: <message>`).
    assert!(error.contains("boom"), "{error}");
    assert!(
        error.contains("last log lines:") && error.contains("\nERROR: boom"),
        "{error}"
    );
    assert!(failed.stdout.contains("::error"), "{}", failed.stdout);
    assert_eq!(failed.outputs["repo_id"], "alice/site");

    // wait: false returns right after the commit.
    std::fs::remove_file(src.join("BUILD_ERROR")).expect("rm");
    let nowait = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/site")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .input("wait", "false")
        .run()
        .await;
    assert_eq!(nowait.code, 0, "{}", nowait.stderr);
    assert!(
        !nowait.stdout.contains("Waiting for the Space"),
        "{}",
        nowait.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_repo_is_the_github_name_under_the_token_owner() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("index.html", b"<p>hi</p>")]);
    let run = Deploy::new(&url, Some(ALICE))
        .env("GITHUB_REPOSITORY", "octo-org/my-app")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_RUN_ID", "77")
        .input("huggingface_repo", "")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.outputs["repo_id"], "alice/my-app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_after_a_failed_commit_uploads_nothing_again() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(3 * 1024 * 1024, 21);
    let files: Vec<(&str, &[u8])> = vec![("a.bin", &big), ("b.txt", b"b\n")];
    let (_dir, src) = source(&files);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/resume")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    emu.inject(
        hub_emulator::FaultRule::parse("POST /api/models/alice/resume/commit 500")
            .expect("fault spec"),
    );
    let failed = deploy().run().await;
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(failed.error().contains("committing"), "{}", failed.error());
    assert!(
        failed
            .error()
            .contains("a rerun sends only what is still missing"),
        "{}",
        failed.error()
    );
    // Printed once: the annotation, not a second `error:` line.
    assert!(!failed.stderr.contains("error: "), "{}", failed.stderr);
    assert_eq!(
        content_uploads(&emu, 0),
        1,
        "the LFS object went up before the commit failed"
    );
    emu.clear_faults();
    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        content_uploads(&emu, mark),
        0,
        "the Hub already had the object: {:?}",
        journal_since(&emu, mark)
    );
    assert_eq!(commits(&emu, mark), 1);
    assert_tree(&url, &repo(RepoType::Model, "alice/resume"), &files).await;
    assert_eq!(emu.token_leaks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_mismatch_warns_and_never_flips() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"one\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/pr")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    assert_eq!(deploy().input("private", "true").run().await.code, 0);
    let model = repo(RepoType::Model, "alice/pr");

    // The repo is private; asking for public is a warning, never a silent flip.
    let warned = deploy().input("private", "false").run().await;
    assert_eq!(warned.code, 0, "{}", warned.stderr);
    assert!(warned.stdout.contains("::warning"), "{}", warned.stdout);
    let info = client(&url)
        .repo_info(&model, None)
        .await
        .expect("info")
        .expect("exists");
    assert!(info.private);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_space_front_matter_gets_app_port() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[
        ("Dockerfile", b"FROM scratch\n"),
        ("README.md", b"---\ntitle: Demo\n---\nhello\n"),
    ]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/dock")
        .input("space_sdk", "docker")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("`app_port`"), "{}", run.stdout);
    assert_tree(
        &url,
        &repo(RepoType::Space, "alice/dock"),
        &[
            ("Dockerfile", b"FROM scratch\n"),
            (
                "README.md",
                b"---\ntitle: Demo\nsdk: docker\napp_port: 7860\n---\nhello\n",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_help_need_no_token() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hf-deploy"))
        .arg("--version")
        .output()
        .await
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hf-deploy "));
    let help = tokio::process::Command::new(env!("CARGO_BIN_EXE_hf-deploy"))
        .args(["deploy", "--help"])
        .output()
        .await
        .expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--huggingface-repo",
        "--source-dir",
        "--dry-run",
        "--delete-stale",
        "--wait-timeout",
        "--json",
        "HF_DEPLOY_SOURCE_DIR",
    ] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_deploy_resumes_without_uploading_again() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(3 * 1024 * 1024, 31);
    let files: Vec<(&str, &[u8])> = vec![("w.bin", &big), ("x.txt", b"x\n")];
    let (_dir, src) = source(&files);
    // The commit hangs long enough to kill the deploy after its upload.
    emu.inject(
        hub_emulator::FaultRule::parse("POST /api/models/alice/killed/commit delay=30000")
            .expect("fault spec"),
    );
    let killed = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/killed")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string());
    let mut child = killed
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    // Wait for the signal (the commit request reached the Hub), bounded; then kill mid-commit.
    let mut seen = false;
    for _ in 0..2000 {
        if emu.journal().iter().any(|e| {
            (e.method == "PUT" && e.path.starts_with("/_lfs/"))
                || (e.path.ends_with("/shards") && e.status == 200)
        }) && emu.journal().iter().any(|e| e.path.contains("/preupload/"))
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    if !seen {
        child.start_kill().expect("kill");
        let out = child.wait_with_output().await.expect("output");
        panic!(
            "the deploy never uploaded: {:?}\n{}\n{}",
            emu.journal(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.kill().await.expect("kill");
    emu.clear_faults();
    let mark = emu.journal().len();
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/killed")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        content_uploads(&emu, mark),
        0,
        "{:?}",
        journal_since(&emu, mark)
    );
    assert_tree(&url, &repo(RepoType::Model, "alice/killed"), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_tree_listing_sees_every_file() {
    let emu = emulator_with(|b| b.tree_page_size(3)).await;
    let url = emu.url().to_string();
    let owned: Vec<(String, Vec<u8>)> = (0..11)
        .map(|i| {
            (
                format!("d{}/f{i}.txt", i % 3),
                format!("{i}\n").into_bytes(),
            )
        })
        .collect();
    let files: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let (_dir, src) = source(&files);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/paged")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    assert_eq!(deploy().run().await.code, 0);
    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(commits(&emu, mark), 0, "{}", again.stdout);
    let pages = journal_since(&emu, mark)
        .iter()
        .filter(|(_, p, _)| p.contains("/tree/"))
        .count();
    assert!(
        pages >= 4,
        "12 entries in pages of 3: {pages} tree requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_plan_can_create_a_static_space_declared_by_its_readme() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let readme: &[u8] = b"---\ntitle: Free\nsdk: static\n---\n";
    let files: Vec<(&str, &[u8])> = vec![("index.html", b"<p>free</p>"), ("README.md", readme)];
    let (_dir, src) = source(&files);
    // space_sdk is left at its default (gradio, which needs a paid plan); the README's sdk wins.
    let run = Deploy::new(&url, Some(CAROL_FREE))
        .input("huggingface_repo", "carol/site")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("wins over space_sdk"), "{}", run.stdout);
    assert_tree(&url, &repo(RepoType::Space, "carol/site"), &files).await;
}

/// Right after a commit the Hub's CDN may serve the previous head for `revision/main` and the tree. Preupload (a
/// POST) answers for the real head: the deploy plans again there instead of committing on the stale head and
/// getting a 412. A window of a minute, so every read of this test falls inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeploy_while_main_reads_stale_plans_at_the_real_head() {
    let emu = emulator_with(|b| b.stale_reads_ms(60_000)).await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"a\n"), ("b.txt", b"b\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/stale")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.stderr);

    // Unchanged: the stale view lacks both files, preupload tells the real head, and nothing is committed.
    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("was stale"), "{}", again.stdout);
    let posts = |from| {
        journal_since(&emu, from)
            .into_iter()
            .filter(|(m, p, _)| m == "POST" && p.contains("/commit/"))
            .count()
    };
    assert_eq!(posts(mark), 0, "no commit, not even a refused one");
    assert_eq!(again.outputs["commit_sha"], "");

    // One file changed: one commit, on the real head at the first try.
    std::fs::write(src.join("a.txt"), b"a2\n").expect("write");
    let mark = emu.journal().len();
    let changed = deploy().run().await;
    assert_eq!(changed.code, 0, "{}\n{}", changed.stdout, changed.stderr);
    assert_eq!(posts(mark), 1, "{}", changed.stdout);
    assert_tree_at(
        &url,
        &repo(RepoType::Model, "alice/stale"),
        &changed.outputs["commit_sha"],
        &[("a.txt", b"a2\n"), ("b.txt", b"b\n")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_streamlit_space_is_deployed_with_a_warning() {
    // The Hub no longer creates Streamlit Spaces, but one created before (here: made docker, then given a
    // `sdk: streamlit` README) keeps building; its own README is deployed as is.
    let emu = emulator().await;
    let url = emu.url().to_string();
    let readme: &[u8] = b"---\ntitle: Legacy\nsdk: streamlit\n---\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("app.py", b"import streamlit as st\n"),
        ("README.md", readme),
    ];
    let (_dir, src) = source(&[("Dockerfile", b"FROM scratch\n")]);
    let first = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/legacy")
        .input("space_sdk", "docker")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let (_dir2, src) = source(&files);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/legacy")
        .input("space_sdk", "streamlit")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.visible().contains("deprecated"), "{}", run.visible());
    assert!(run.stdout.contains("RUNNING"), "{}", run.stdout);
    assert_tree_at(
        &url,
        &repo(RepoType::Space, "alice/legacy"),
        &run.outputs["commit_sha"],
        &files,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_stage_right_after_the_commit_is_rechecked() {
    // build_polls(0): the Space reports RUNNING at once, never BUILDING, like a Hub answer that still shows
    // the previous build. The deploy keeps polling through the grace before it trusts that stage.
    let emu = emulator_with(|b| b.build_polls(0)).await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("index.html", b"<p>hi</p>")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/instant")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_COMMIT_GRACE_MS", "500")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let polls = emu
        .journal()
        .iter()
        .filter(|e| e.path.ends_with("/runtime"))
        .count();
    assert!(
        polls >= 3,
        "RUNNING was trusted without re-checking: {polls} runtime reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_into_an_org_the_token_owner_belongs_to() {
    let emu = emulator_with(|b| b.org("acme", &["alice"])).await;
    let url = emu.url().to_string();
    let files: Vec<(&str, &[u8])> = vec![("data.csv", b"a,b\n1,2\n")];
    let (_dir, src) = source(&files);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "acme/shared")
        .input("repo_type", "dataset")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_tree(&url, &repo(RepoType::Dataset, "acme/shared"), &files).await;
    assert!(
        run.outputs["repo_url"].ends_with("/datasets/acme/shared"),
        "{:?}",
        run.outputs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_pr_opens_a_pull_request_and_leaves_the_branch_alone() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"one\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/with-pr")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    assert_eq!(deploy().run().await.code, 0);
    let model = repo(RepoType::Model, "alice/with-pr");
    let before = head(&url, &model).await;
    std::fs::write(src.join("a.txt"), b"two\n").expect("write");
    let run = deploy()
        .input("create_pr", "true")
        .arg("--json")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        head(&url, &model).await,
        before,
        "create_pr must not move main"
    );
    let json = run.json();
    assert_eq!(json["changed"], true);
    assert!(
        json["pr_url"]
            .as_str()
            .is_some_and(|u| u.contains("/discussions/")),
        "{json}"
    );
}

/// A pull request is reported as one: the last line, the step summary and the `pr_url`/`commit_sha` outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_pr_is_reported_as_a_pull_request_with_its_outputs() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"one\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/pr-report")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.outputs["pr_url"], "", "no pull request: empty");
    assert_eq!(first.outputs["commit_sha"].len(), 40, "{:?}", first.outputs);
    std::fs::write(src.join("a.txt"), b"two\n").expect("write");
    let run = deploy().input("create_pr", "true").run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pr = &run.outputs["pr_url"];
    assert!(pr.contains("/discussions/"), "{:?}", run.outputs);
    assert_eq!(run.outputs["commit_sha"].len(), 40, "{:?}", run.outputs);
    assert!(
        run.stdout.contains(&format!("Opened pull request {pr}"))
            && !run.stdout.contains("Deployed "),
        "{}",
        run.stdout
    );
    assert!(
        run.summary.contains("pull request opened") && run.summary.contains(pr.as_str()),
        "{}",
        run.summary
    );
    let noop = deploy().input("create_pr", "true").run().await;
    assert_eq!(noop.code, 0, "{}", noop.stderr);
}

/// Waits until every file under `root` changed more than the hash cache's racy window ago (it never stores a
/// file modified within 100 ms of the run that hashed it).
fn settle(root: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let mut newest = 0i128;
    for entry in walk_files(root) {
        let m = std::fs::metadata(&entry).unwrap();
        newest = newest.max(i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()));
    }
    let settled_at = newest + 150_000_000;
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
        <= settled_at
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn walk_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_cache_skips_unchanged_files_and_sees_same_size_rewrites() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(11 * 1024 * 1024, 7);
    let files: Vec<(&str, &[u8])> = vec![("app.txt", b"version one\n"), ("weights.bin", &big)];
    let (_dir, src) = source(&files);
    let cache = tempfile::tempdir().unwrap();
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/cached")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("HF_DEPLOY_CACHE_DIR", &cache.path().display().to_string())
    };
    settle(&src);
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.visible());
    assert!(
        !first.visible().contains("hash cache"),
        "{}",
        first.visible()
    );

    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.visible());
    assert!(
        again
            .visible()
            .contains("(2 unchanged since the last run, digests from the hash cache)"),
        "{}",
        again.visible()
    );
    assert!(
        again.visible().contains("already up to date"),
        "{}",
        again.visible()
    );

    // Same size, mtime put back: only the ctime moved. The deploy must still see and send the new content.
    let app = src.join("app.txt");
    let mtime = std::fs::metadata(&app).unwrap().modified().unwrap();
    std::fs::write(&app, b"version two\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&app)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let mark = emu.journal().len();
    let changed = deploy().run().await;
    assert_eq!(changed.code, 0, "{}", changed.visible());
    assert!(
        changed
            .visible()
            .contains("(1 unchanged since the last run"),
        "{}",
        changed.visible()
    );
    assert_eq!(commits(&emu, mark), 1);
    let now: Vec<(&str, &[u8])> = vec![("app.txt", b"version two\n"), ("weights.bin", &big)];
    assert_tree(&url, &repo(RepoType::Model, "alice/cached"), &now).await;

    // Off: every file is read again.
    let off = deploy().input("hash_cache", "false").run().await;
    assert_eq!(off.code, 0, "{}", off.visible());
    assert!(!off.visible().contains("hash cache"), "{}", off.visible());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_hash_cache_warns_and_deploys() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let files: Vec<(&str, &[u8])> = vec![("a.txt", b"a\n")];
    let (_dir, src) = source(&files);
    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    settle(&src);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/no-cache")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .env(
            "HF_DEPLOY_CACHE_DIR",
            &not_a_dir.path().display().to_string(),
        )
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert!(
        run.visible().contains("cannot write the hash cache"),
        "{}",
        run.visible()
    );
    assert_tree(&url, &repo(RepoType::Model, "alice/no-cache"), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_10_mib_upload_while_preupload_decides_the_rest() {
    // Preupload answers late: a file that is LFS whatever it says must already be uploaded by then.
    let emu = emulator_with(|b| {
        b.fault(
            hub_emulator::FaultRule::parse("POST /api/models/alice/early/preupload delay=1500")
                .expect("fault spec"),
        )
    })
    .await;
    let url = emu.url().to_string();
    let big = random_bytes(11 * 1024 * 1024, 3);
    let files: Vec<(&str, &[u8])> = vec![("notes.txt", b"small\n"), ("weights.bin", &big)];
    let (_dir, src) = source(&files);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/early")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    let journal = journal_since(&emu, 0);
    let position = |wanted: &dyn Fn(&(String, String, bool)) -> bool| {
        journal
            .iter()
            .position(wanted)
            .unwrap_or_else(|| panic!("not in the journal: {journal:?}"))
    };
    // The file's bytes: an LFS PUT, or a xorb upload when the Hub picked Xet.
    let first_upload = position(&|(m, p, _)| {
        (m == "PUT" && p.starts_with("/_lfs/"))
            || p.starts_with("/simulation/xorb-uploads/")
            || p.contains("/v1/xorbs/")
    });
    let preupload = position(&|(_, p, _)| p.contains("/preupload/"));
    assert!(
        first_upload < preupload,
        "the LFS upload waited for preupload: {journal:?}"
    );
    assert_tree(&url, &repo(RepoType::Model, "alice/early"), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_cache_inside_source_dir_is_left_out_of_the_deploy() {
    // HOME = the deployed folder (a workspace deployed as `.`): ~/.cache/hf-deploy must not join the deploy.
    let emu = emulator().await;
    let url = emu.url().to_string();
    let files: Vec<(&str, &[u8])> = vec![("a.txt", b"a\n")];
    let (_dir, src) = source(&files);
    settle(&src);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/home")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("HOME", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.visible());
    assert!(
        first
            .visible()
            .contains("is inside source_dir: it is left out of the deploy"),
        "{}",
        first.visible()
    );
    assert!(
        src.join(".cache/hf-deploy/v1").is_dir(),
        "the cache was not written"
    );
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.visible());
    assert!(
        again.visible().contains("(1 unchanged since the last run"),
        "{}",
        again.visible()
    );
    assert_tree(&url, &repo(RepoType::Model, "alice/home"), &files).await;
}

/// An unreachable Hub: every retry is said (what failed, the wait) and the final error names the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_visible_and_network_errors_name_the_host() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let (_dir, src) = source(&[("a.txt", b"a\n")]);
    let run = Deploy::new(&closed, Some(ALICE))
        .input("huggingface_repo", "alice/unreachable")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_RETRY_BASE_MS", "1")
        .run()
        .await;
    assert_eq!(run.code, 1, "{}", run.visible());
    let shown = run.visible();
    let retries = shown.matches("; retry ").count();
    assert!(retries >= 3, "each retry is said: {shown}");
    assert!(shown.contains("whoami failed"), "{shown}");
    let error = run.error();
    assert!(error.contains(&closed), "the host is named: {error}");
}

/// Without a terminal, a long LFS upload prints its progress (bytes, rate) at a steady interval, not only when
/// a file finishes: here the Hub takes its time before reading a 64 MiB body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_lfs_upload_reports_progress_in_ci_logs() {
    let emu = lfs_only_emulator().await;
    emu.inject(hub_emulator::FaultRule::parse("PUT /_lfs/ delay=800").expect("fault"));
    let url = emu.url().to_string();
    let big = random_bytes(64 << 20, 7);
    let (_dir, src) = source(&[("weights.bin", &big)]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/progress")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_PROGRESS_INTERVAL_MS", "100")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    let progress: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("LFS: ") && l.contains(" of 64.0 MiB sent ("))
        .collect();
    assert!(progress.len() >= 4, "steady progress lines: {}", run.stdout);
    // The file starts uploading while preupload runs, but its log follows the plan it belongs to.
    let plan_at = run
        .stdout
        .find("Plan for model alice/progress")
        .expect("plan");
    let upload_at = run.stdout.find("LFS: ").expect("upload lines");
    assert!(plan_at < upload_at, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("LFS: 1/1 file(s) uploaded (weights.bin, 64.0 MiB)"),
        "{}",
        run.stdout
    );
}

/// A Space that takes a while to build: the wait shows the Space's page, the build log as it comes and a
/// heartbeat with the elapsed time, inside one collapsed group in GitHub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_space_wait_shows_heartbeats_and_the_build_log() {
    let emu = emulator_with(|b| b.build_polls(60)).await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("index.html", b"<p>hi</p>\n")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/slowbuild")
        .input("space_sdk", "static")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_PROGRESS_INTERVAL_MS", "100")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    let out = &run.stdout;
    assert!(
        out.contains(&format!(
            "::group::Space alice/slowbuild: build and start ({url}/spaces/alice/slowbuild)"
        )),
        "{out}"
    );
    assert!(out.contains("  | Building alice/slowbuild"), "{out}");
    let heartbeats = out
        .matches("Space alice/slowbuild: still BUILDING after ")
        .count();
    assert!(heartbeats >= 3, "{out}");
    let group = out.find("::group::Space alice/slowbuild").expect("group");
    let end = out[group..].find("::endgroup::").expect("closed") + group;
    assert!(out[group..end].contains("RUNNING"), "{out}");
}

/// The Hub judges `shouldIgnore` by the `.gitignore` sent with preupload: the deployed folder's, not the one
/// the repo held before (which would drop a file the new `.gitignore` no longer ignores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preupload_judges_ignored_files_by_the_deployed_gitignore() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"a\n"), (".gitignore", b"*.log\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/ignores")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    assert_eq!(deploy().run().await.code, 0);
    write_tree(
        &src,
        &[(".gitignore", b"*.tmp\n"), ("debug.log", b"kept\n")],
    );
    let run = deploy().run().await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/ignores"),
        &[
            ("a.txt", b"a\n"),
            (".gitignore", b"*.tmp\n"),
            ("debug.log", b"kept\n"),
        ],
    )
    .await;
}

/// A Space builds from main: a deploy to another branch waits for nothing (and says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_to_another_branch_does_not_wait_for_the_space() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("index.html", b"<p>v1</p>\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/branchy")
            .input("space_sdk", "static")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.visible());
    assert!(
        first.stdout.contains("Waiting for the Space"),
        "{}",
        first.stdout
    );
    let created = reqwest::Client::new()
        .post(format!("{url}/api/spaces/alice/branchy/branch/dev"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("create branch");
    assert!(created.status().is_success(), "{:?}", created.status());
    write_tree(&src, &[("index.html", b"<p>v2</p>\n")]);
    let run = deploy().input("revision", "dev").run().await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert!(
        run.stdout
            .contains("Not waiting for the Space: it builds from main, and this deploy commits to the branch dev"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("Waiting for the Space"),
        "{}",
        run.stdout
    );
}

/// A commit whose request fails (a 5xx: it may or may not have landed) is checked, not assumed: the branch is
/// read again, and what is still missing is committed in smaller parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_checked_then_retried_in_smaller_parts() {
    let emu = emulator().await;
    emu.inject(
        hub_emulator::FaultRule::parse("POST /api/models/alice/flaky/commit 500 first=1")
            .expect("fault"),
    );
    let url = emu.url().to_string();
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("f{i}.txt"), format!("{i}\n").into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let (_dir, src) = source(&refs);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/flaky")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert!(
        run.stdout
            .contains("checking whether the commit landed anyway")
            && run
                .stdout
                .contains("retrying in commits of at most 3 operations"),
        "{}",
        run.stdout
    );
    assert_tree(&url, &repo(RepoType::Model, "alice/flaky"), &refs).await;
}

/// The commit lands but its request fails (a 500 after the Hub stored it): the deploy reads the branch, sees
/// its files there, and stops without committing them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_landed_although_its_request_failed_is_not_made_twice() {
    let emu = emulator().await;
    emu.inject(
        hub_emulator::FaultRule::parse(
            "POST /api/models/alice/landed/commit land-then-500 first=1",
        )
        .expect("fault"),
    );
    let url = emu.url().to_string();
    let (_dir, src) = source(&[("a.txt", b"a\n"), ("b.txt", b"b\n")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/landed")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());
    assert!(
        run.stdout
            .contains("the commit landed although its request failed"),
        "{}",
        run.stdout
    );
    let commits = emu
        .journal()
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/commit/main") && e.mutating)
        .count();
    assert_eq!(commits, 1, "one commit, not two");
    assert_eq!(
        run.outputs["commit_sha"],
        head(&url, &repo(RepoType::Model, "alice/landed")).await
    );
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/landed"),
        &[("a.txt", b"a\n"), ("b.txt", b"b\n")],
    )
    .await;
}
