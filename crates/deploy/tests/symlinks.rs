//! The symlink rule: a link is deployed only when its target is inside `source_dir` and the target's own path
//! passes `.git`, `.cache/huggingface` and every include/exclude rule. Otherwise the deploy stops with exit 2,
//! naming the link and its target, before anything on the Hub changes.

#![cfg(unix)]

mod common;

use common::{emulator, source, write_tree, Deploy, ALICE};

async fn deploy_folder(url: &str, path: &std::path::Path, exclude: Option<&str>) -> common::Run {
    let mut d = Deploy::new(url, Some(ALICE))
        .input("huggingface_repo", "alice/links")
        .input("repo_type", "model")
        .input("source_dir", path.to_str().expect("utf-8"))
        .input("wait", "false");
    if let Some(globs) = exclude {
        d = d.input("exclude", globs);
    }
    d.run().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_cannot_publish_what_the_rules_leave_out() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let secret = "extraheader = AUTHORIZATION: basic Z2hz";
    let cases: [(&str, &str, Option<&str>); 3] = [
        ("notes.txt", ".git/config", None),
        ("public.txt", "secrets/key.pem", Some("secrets/**")),
        ("token.txt", ".cache/huggingface/token", None),
    ];
    for (link, target, exclude) in cases {
        let (_dir, path) = source(&[("app.py", b"print(1)\n")]);
        write_tree(&path, &[(target, secret.as_bytes())]);
        std::os::unix::fs::symlink(target, path.join(link)).expect("symlink");
        let run = deploy_folder(&url, &path, exclude).await;
        assert_eq!(run.code, 2, "{link} -> {target}: {}", run.visible());
        let shown = run.visible();
        assert!(
            shown.contains(link) && shown.contains(target),
            "the error names the link and its target: {shown}"
        );
        assert!(
            !shown.contains("Z2hz"),
            "the target's content is never shown"
        );
        assert_eq!(
            emu.mutation_count(),
            0,
            "{link}: nothing on the Hub changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_a_deployed_file_is_deployed() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(&[("app.py", b"print(1)\n"), ("data/a.txt", b"a\n")]);
    std::os::unix::fs::symlink("data/a.txt", path.join("alias.txt")).expect("symlink");
    let run = deploy_folder(&url, &path, None).await;
    assert_eq!(run.code, 0, "{}", run.visible());
    common::assert_tree(
        &url,
        &common::repo(hub::RepoType::Model, "alice/links"),
        &[
            ("app.py", b"print(1)\n"),
            ("data/a.txt", b"a\n"),
            ("alias.txt", b"a\n"),
        ],
    )
    .await;
}
