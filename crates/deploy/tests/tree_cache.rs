//! The tree cache: a redeploy from the same machine plans without listing the tree when the branch is still at
//! the commit the last deploy made or listed; any other head is listed, so someone else's push is never missed.

mod common;

use common::*;
use hub::RepoType;

/// Tree listings (any page) since journal entry `from`.
fn tree_listings(emu: &hub_emulator::Emulator, from: usize) -> usize {
    journal_since(emu, from)
        .iter()
        .filter(|(method, path, _)| method == "GET" && path.contains("/tree/"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeploy_from_the_same_machine_lists_no_tree() {
    // Stale reads off: this test needs the head read to find the commit the previous deploy made (a stale read
    // is a cache miss, which the next test covers). Pages of 2 make every listing several round trips.
    let emu = emulator_with(|b| b.stale_reads_ms(0).tree_page_size(2)).await;
    let url = emu.url().to_string();
    let cache = tempfile::tempdir().unwrap();
    let weights = random_bytes(64 * 1024, 3);
    let v1: Vec<(&str, &[u8])> = vec![
        ("a.txt", b"one\n"),
        ("b.txt", b"two\n"),
        ("dir/c.txt", b"three\n"),
        ("model.bin", &weights),
    ];
    let (dir, src) = source(&v1);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/cached-tree")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("HF_DEPLOY_CACHE_DIR", &cache.path().display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.visible());

    // Update, delete, add, and a new LFS object, planned from the tree the first commit made; the cache must
    // then hold the tree this commit made.
    let weights2 = random_bytes(64 * 1024, 4);
    std::fs::remove_dir_all(&src).unwrap();
    let v2: Vec<(&str, &[u8])> = vec![
        ("a.txt", b"one, changed\n"),
        ("dir/c.txt", b"three\n"),
        ("dir/d.txt", b"four\n"),
        ("model.bin", &weights2),
    ];
    write_tree(&src, &v2);
    let mark = emu.journal().len();
    let second = deploy().run().await;
    assert_eq!(second.code, 0, "{}", second.visible());
    assert_eq!(commits(&emu, mark), 1);
    assert_eq!(
        tree_listings(&emu, mark),
        0,
        "the first deploy kept the tree its commit made"
    );
    let rf = repo(RepoType::Model, "alice/cached-tree");
    assert_tree(&url, &rf, &v2).await;

    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.visible());
    assert!(
        again.visible().contains("already up to date"),
        "{}",
        again.visible()
    );
    assert!(
        again.visible().contains("from the tree cache"),
        "{}",
        again.visible()
    );
    assert_eq!(
        tree_listings(&emu, mark),
        0,
        "{:?}",
        journal_since(&emu, mark)
    );
    assert_eq!(commits(&emu, mark), 0);

    // The same redeploy without the cache (another machine) agrees: nothing to do.
    let mark = emu.journal().len();
    let elsewhere = deploy().input("hash_cache", "false").run().await;
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.visible());
    assert!(elsewhere.visible().contains("already up to date"));
    assert!(tree_listings(&emu, mark) > 0);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_push_is_listed_not_taken_from_the_cache() {
    // Stale reads off: within their window the head read would still be our own commit, which neither the cache
    // nor a listing can tell from the current head (the Hub's lag, not ours to fix).
    let emu = emulator_with(|b| b.stale_reads_ms(0)).await;
    let url = emu.url().to_string();
    let cache = tempfile::tempdir().unwrap();
    let files: Vec<(&str, &[u8])> = vec![("app.txt", b"ours\n"), ("lib/util.txt", b"util\n")];
    let (_dir, src) = source(&files);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/shared")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("HF_DEPLOY_CACHE_DIR", &cache.path().display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}", first.visible());
    let rf = repo(RepoType::Model, "alice/shared");

    // Someone else changes a file and adds one, outside this machine's deploys.
    client(&url)
        .commit(
            &rf,
            "main",
            &hub::CommitRequest {
                summary: "their change".into(),
                operations: vec![
                    hub::CommitOperation::AddBytes {
                        path: "app.txt".into(),
                        content: b"theirs\n".to_vec(),
                    },
                    hub::CommitOperation::AddBytes {
                        path: "extra.txt".into(),
                        content: b"extra\n".to_vec(),
                    },
                ],
                ..hub::CommitRequest::default()
            },
        )
        .await
        .expect("their commit");

    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.visible());
    assert!(tree_listings(&emu, mark) > 0, "a new head is listed");
    assert_eq!(commits(&emu, mark), 1, "{}", again.visible());
    assert_tree(&url, &rf, &files).await;
}
