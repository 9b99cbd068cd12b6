//! Scale behaviour (issue 7), through the binary against the emulator: change sets larger than one commit go
//! in ordered commits (deletions first, each part built on the previous one, bodies bounded); a deploy killed
//! in the middle of its uploads resumes without sending again what the Hub already stores; a tree listing
//! longer than one page is read completely (nothing re-sent, stale files on the last page deleted).
//! The memory of a 100,000-file no-op deploy is measured by `bench/deploy/run.sh` (too slow for a test).

mod common;

use std::collections::{BTreeMap, HashSet};

use common::*;
use hub::RepoType;

/// Journal entries since `from` whose method is `method` and whose path contains `part`, as (status, bytes_in).
fn requests(
    emu: &hub_emulator::Emulator,
    from: usize,
    method: &str,
    part: &str,
) -> Vec<(u16, u64)> {
    emu.journal()
        .into_iter()
        .skip(from)
        .filter(|e| e.method == method && e.path.contains(part))
        .map(|e| (e.status, e.bytes_in))
        .collect()
}

fn owned_refs(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect()
}

/// The branch history, newest first, as (id, title).
async fn history(url: &str, repo_id: &str) -> Vec<(String, String)> {
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/models/{repo_id}/commits/main"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("commits request")
        .json()
        .await
        .expect("commits json");
    list.as_array()
        .expect("a list of commits")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["title"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_change_sets_go_in_ordered_commits_deletions_first() {
    // LFS transfers (a Hub without Xet): one PUT per object makes "uploaded once" countable.
    let emu = emulator_with(|b| b.xet(false)).await;
    let url = emu.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().to_path_buf();
    let mut files: BTreeMap<String, Vec<u8>> = (0..30)
        .map(|i| {
            (
                format!("old/f{i:02}.txt"),
                format!("old {i}\n").into_bytes(),
            )
        })
        .collect();
    write_tree(&src, &owned_refs(&files));
    let deploy = |max_files: &str| {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/split")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .input("commit_message", "scale test")
            .env("HF_DEPLOY_MAX_COMMIT_FILES", max_files)
            .env("GITHUB_ACTIONS", "false")
            .arg("--json")
    };
    let first = deploy("1000").run().await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let base = head(&url, &repo(RepoType::Model, "alice/split")).await;

    // 10 deletions, 5 updates, 38 text additions and 2 LFS additions: 55 operations, at most 12 per commit.
    let deleted: Vec<String> = (20..30).map(|i| format!("old/f{i:02}.txt")).collect();
    for path in &deleted {
        std::fs::remove_file(src.join(path)).expect("remove");
        files.remove(path);
    }
    for i in 0..5 {
        files.insert(
            format!("old/f{i:02}.txt"),
            format!("new {i}\n").into_bytes(),
        );
    }
    for i in 0..38 {
        files.insert(format!("new/g{i:02}.txt"), format!("g {i}\n").into_bytes());
    }
    files.insert("weights/a.bin".into(), random_bytes(300_000, 7));
    files.insert("weights/b.bin".into(), random_bytes(200_000, 8));
    write_tree(&src, &owned_refs(&files));
    let mark = emu.journal().len();
    let run = deploy("12").run().await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(
        (&json["added"], &json["updated"], &json["deleted"]),
        (&40.into(), &5.into(), &10.into()),
        "{json}"
    );
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/split"),
        &owned_refs(&files),
    )
    .await;

    // ceil(55 / 12) = 5 commits, all accepted, the LFS objects uploaded once before them.
    let commits = requests(&emu, mark, "POST", "/commit/");
    assert_eq!(commits.len(), 5, "{:?}", journal_since(&emu, mark));
    assert!(commits.iter().all(|(status, _)| *status == 200));
    assert_eq!(requests(&emu, mark, "PUT", "/_lfs/").len(), 2);

    // History: the five parts in order, each on top of the previous one, on top of the first deploy.
    let log = history(&url, "alice/split").await;
    let titles: Vec<&str> = log.iter().take(5).map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        titles,
        (1..=5)
            .rev()
            .map(|k| format!("scale test (part {k}/5)"))
            .collect::<Vec<_>>(),
        "{log:?}"
    );
    assert_eq!(log[5].0, base, "the parts build on the previous head");

    // Deletions come first: after part 1 none of the deleted files is left.
    let part1 = &log[4].0;
    let after_part1 = client(&url)
        .list_tree(&repo(RepoType::Model, "alice/split"), part1)
        .await
        .expect("tree at part 1");
    let left: HashSet<&str> = after_part1.iter().map(|e| e.path.as_str()).collect();
    let still: Vec<&String> = deleted
        .iter()
        .filter(|p| left.contains(p.as_str()))
        .collect();
    assert!(still.is_empty(), "part 1 kept deleted files: {still:?}");
    assert!(
        after_part1.len() < files.len(),
        "part 1 is only a part: {} entries",
        after_part1.len()
    );
    assert_eq!(emu.token_leaks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_bodies_stay_bounded_by_the_inline_byte_limit() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let owned: BTreeMap<String, Vec<u8>> = (0..24)
        .map(|i| (format!("t/{i:02}.txt"), vec![b'a' + (i % 26) as u8; 1000]))
        .collect();
    let (_dir, src) = source(&owned_refs(&owned));
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/bounded")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_MAX_COMMIT_BYTES", "5000")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/bounded"),
        &owned_refs(&owned),
    )
    .await;
    let commits = requests(&emu, 0, "POST", "/commit/");
    // 24 000 inline bytes in commits of at most 5 000: at least 5 commits, every body near that bound
    // (base64 adds a third, plus one JSON line per file).
    assert!(commits.len() >= 5, "{commits:?}");
    for (status, bytes) in &commits {
        assert_eq!(*status, 200);
        assert!(*bytes < 5000 * 4 / 3 + 5 * 200 + 500, "{commits:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_killed_during_uploads_resumes_without_sending_stored_objects_again() {
    // LFS transfers (a Hub without Xet): objects stored one by one, some before the kill (tests/xet.rs has
    // the Xet rerun).
    let emu = emulator_with(|b| b.xet(false)).await;
    let url = emu.url().to_string();
    // Four binary files (LFS, basic transfer), each of a distinct size so `bytes_in` tells them apart.
    let owned: BTreeMap<String, Vec<u8>> = (0..4u64)
        .map(|i| {
            (
                format!("w/{i}.bin"),
                random_bytes(256 * 1024 + i as usize + 1, 100 + i),
            )
        })
        .collect();
    let (_dir, src) = source(&owned_refs(&owned));
    // One transfer at a time; every second PUT hangs far longer than the test: the deploy is killed while the
    // second object is in flight, after the first one is stored.
    emu.inject(
        hub_emulator::FaultRule::parse("PUT /_lfs/ delay=600000 every=2").expect("fault spec"),
    );
    let killed = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/killed-mid-upload")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_UPLOAD_CONCURRENCY", "1");
    let mut child = killed
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn hf-deploy");
    // Synchronise on the journal: the first LFS object stored (a completed PUT), bounded at 60 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if requests(&emu, 0, "PUT", "/_lfs/")
            .iter()
            .any(|(s, _)| *s == 200)
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "hf-deploy ended ({status}) before any upload: {:?}",
                emu.journal()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no LFS upload completed: {:?}",
            emu.journal()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().await.expect("kill hf-deploy");
    assert_eq!(
        requests(&emu, 0, "POST", "/commit/").len(),
        0,
        "killed before any commit"
    );
    emu.clear_faults();

    // What the Hub stores now, from the LFS batch answer (objects without actions are stored).
    let objects: Vec<hub::LfsObject> = owned
        .values()
        .map(|c| {
            let h = hub::hash::hash_bytes(c);
            hub::LfsObject {
                oid: h.sha256,
                size: h.size,
            }
        })
        .collect();
    let answers = client(&url)
        .lfs_batch(
            &repo(RepoType::Model, "alice/killed-mid-upload"),
            "main",
            &objects,
        )
        .await
        .expect("batch");
    let missing: Vec<u64> = answers
        .iter()
        .filter(|a| a.needs_upload())
        .map(|a| a.size)
        .collect();
    assert_eq!(
        missing.len(),
        3,
        "exactly one object was stored before the kill"
    );

    let mark = emu.journal().len();
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/killed-mid-upload")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut sent: Vec<u64> = requests(&emu, mark, "PUT", "/_lfs/")
        .iter()
        .map(|(status, bytes)| {
            assert_eq!(*status, 200);
            *bytes
        })
        .collect();
    sent.sort_unstable();
    let mut want = missing.clone();
    want.sort_unstable();
    assert_eq!(
        sent, want,
        "the rerun sends exactly the objects the Hub lacked, each once"
    );
    assert_eq!(requests(&emu, mark, "POST", "/commit/").len(), 1);
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/killed-mid-upload"),
        &owned_refs(&owned),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_listing_over_many_pages_is_read_completely() {
    let emu = emulator_with(|b| b.tree_page_size(7)).await;
    let url = emu.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().to_path_buf();
    let mut files: BTreeMap<String, Vec<u8>> = (0..60)
        .map(|i| {
            (
                format!("d{}/e{}/f{i:02}.txt", i % 4, i % 3),
                format!("{i}\n").into_bytes(),
            )
        })
        .collect();
    write_tree(&src, &owned_refs(&files));
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/many-pages")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("GITHUB_ACTIONS", "false")
            .arg("--json")
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);

    // A rerun sees every remote file as unchanged: nothing beyond the first page is taken for new.
    let mark = emu.journal().len();
    let again = deploy().run().await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["unchanged"], 60, "{}", again.stdout);
    assert!(journal_since(&emu, mark).iter().all(|(_, _, m)| !m));
    // 60 files + 16 folders + .gitattributes = 77 entries in pages of 7.
    let pages = requests(&emu, mark, "GET", "/tree/").len();
    assert!(pages >= 11, "{pages} tree pages for 77 entries");

    // Files that sort last (on the last page) deleted locally, one on a middle page changed.
    let doomed: Vec<String> = files.keys().rev().take(5).cloned().collect();
    for path in &doomed {
        std::fs::remove_file(src.join(path)).expect("remove");
        files.remove(path);
    }
    let middle = files.keys().nth(30).cloned().expect("a middle file");
    files.insert(middle.clone(), b"changed\n".to_vec());
    write_tree(&src, &owned_refs(&files));
    let mark = emu.journal().len();
    let third = deploy().run().await;
    assert_eq!(third.code, 0, "{}", third.stderr);
    let json = third.json();
    assert_eq!(
        (&json["added"], &json["updated"], &json["deleted"]),
        (&0.into(), &1.into(), &5.into()),
        "{json}"
    );
    let bodies = requests(&emu, mark, "POST", "/commit/");
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].1 < 2000,
        "the commit carries one small file and 5 deletions: {bodies:?}"
    );
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/many-pages"),
        &owned_refs(&files),
    )
    .await;
}
