//! Deploys racing each other, and deploys through injected faults, end in an exact tree.

mod common;

use common::*;
use hub::RepoType;

fn folder(tag: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("{tag}/file-{i}.txt"),
                format!("{tag} {i}\n").into_bytes(),
            )
        })
        .collect();
    files.push((
        "shared.txt".to_string(),
        format!("from {tag}\n").into_bytes(),
    ));
    files
}

fn as_refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deploys_end_in_exactly_one_tree() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let a = folder("a", 30);
    let b = folder("b", 25);
    let (_da, src_a) = source(&as_refs(&a));
    let (_db, src_b) = source(&as_refs(&b));
    // Slow commits widen the window, so both deploys plan against the same head and one of them gets 412.
    emu.inject(
        hub_emulator::FaultRule::parse("POST /api/models/alice/race/commit delay=1500")
            .expect("fault spec"),
    );
    let mut replanned = 0;
    for round in 0..3 {
        let deploy = |src: &std::path::Path| {
            Deploy::new(&url, Some(ALICE))
                .input("huggingface_repo", "alice/race")
                .input("repo_type", "model")
                .input("source_dir", &src.display().to_string())
                .run()
        };
        let (ra, rb) = tokio::join!(deploy(&src_a), deploy(&src_b));
        assert_eq!(ra.code, 0, "round {round}: {}", ra.stderr);
        assert_eq!(rb.code, 0, "round {round}: {}", rb.stderr);
        replanned += [&ra, &rb]
            .iter()
            .filter(|r| r.stdout.contains("re-planning"))
            .count();
        let remote = remote_tree(&url, &repo(RepoType::Model, "alice/race")).await;
        let paths: Vec<&str> = remote.keys().map(String::as_str).collect();
        let is = |files: &[(String, Vec<u8>)]| {
            let mut want: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
            want.sort();
            want == paths
        };
        let winner = if is(&a) {
            &a
        } else if is(&b) {
            &b
        } else {
            panic!("round {round}: a mix of both trees: {paths:?}")
        };
        assert_tree(&url, &repo(RepoType::Model, "alice/race"), &as_refs(winner)).await;
    }
    assert!(
        replanned > 0,
        "no deploy ever met a concurrent commit (412), so the race was not exercised"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_converge_through_429_5xx_and_resets() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    for spec in [
        "GET /api/whoami-v2 429 retry-after=0 first=1",
        "POST /api/models/alice/flaky/preupload 503 first=2",
        "GET /api/models/alice/flaky/tree drop first=1",
        "POST /alice/flaky.git/info/lfs/objects/batch 500 first=1",
        "PUT /_lfs/ 503 first=2",
        "PUT /_lfs/ drop every=3 times=2",
        "POST /api/models/alice/flaky/commit 429 retry-after=0 first=1",
        "GET /api/models/alice/flaky 502 first=1",
    ] {
        emu.inject(hub_emulator::FaultRule::parse(spec).expect("fault spec"));
    }
    let big = (0..3u64)
        .map(|i| random_bytes(3 * 1024 * 1024, 10 + i))
        .collect::<Vec<_>>();
    let files: Vec<(&str, &[u8])> = vec![
        ("small.txt", b"small\n"),
        ("w/one.bin", &big[0]),
        ("w/two.bin", &big[1]),
        ("w/three.bin", &big[2]),
    ];
    let (_dir, src) = source(&files);
    // A run may still fail when a fault lands on the commit itself (never retried blindly); a rerun resumes.
    let mut last = None;
    for _ in 0..4 {
        let run = Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/flaky")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .run()
            .await;
        let ok = run.code == 0;
        last = Some(run);
        if ok {
            break;
        }
    }
    let last = last.expect("ran");
    assert_eq!(last.code, 0, "{}\n{}", last.stdout, last.stderr);
    emu.clear_faults();
    assert_tree(&url, &repo(RepoType::Model, "alice/flaky"), &files).await;
    let failed: Vec<_> = emu
        .journal()
        .into_iter()
        .filter(|e| e.status >= 429 || e.status == 0)
        .collect();
    assert!(failed.len() >= 5, "the faults did not fire: {failed:?}");
}
