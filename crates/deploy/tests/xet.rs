//! Large files through Xet, as the Hub stores them: the LFS batch picks `xet`, the bytes go to the
//! emulator's CAS (xet-core's own server) in content-defined chunks, and a changed file sends only
//! the chunks the store lacks. The LFS path stays for a Hub or a user without Xet.

mod common;

use common::*;
use hub::RepoType;

/// Request body bytes the CAS received for xorbs (the file content, chunked and compressed).
fn xorb_bytes(emu: &hub_emulator::Emulator, from: usize) -> u64 {
    emu.journal()
        .iter()
        .skip(from)
        .filter(|e| {
            e.status / 100 == 2
                && (e.path.contains("/v1/xorbs/")
                    || e.path.starts_with("/simulation/xorb-uploads/"))
        })
        .map(|e| e.bytes_in)
        .sum()
}

fn lfs_puts(emu: &hub_emulator::Emulator, from: usize) -> usize {
    journal_since(emu, from)
        .iter()
        .filter(|(m, p, _)| m == "PUT" && p.starts_with("/_lfs/"))
        .count()
}

async fn download(url: &str, repo_path: &str) -> Vec<u8> {
    let resp = reqwest::Client::new()
        .get(format!("{url}/{repo_path}"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("download");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.bytes().await.expect("body").to_vec()
}

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_large_file_sends_only_its_new_chunks_through_xet() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let mut weights = random_bytes(32 * MIB, 7);
    let (_dir, src) = source(&[("weights.bin", &weights), ("README.md", b"# w\n")]);
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/weights")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("Xet: "), "{}", first.stdout);
    assert_eq!(lfs_puts(&emu, 0), 0, "Xet replaces the LFS PUTs");
    // Neither the Hub token nor a Xet token (`xet_…`) reaches the output.
    let output = first.visible();
    assert!(
        !output.contains(ALICE) && !output.contains("xet_"),
        "{output}"
    );
    let cold = xorb_bytes(&emu, 0);
    assert!(
        cold >= 32 * MIB as u64 * 9 / 10,
        "random data does not compress: {cold}"
    );
    assert_eq!(
        download(&url, "alice/weights/resolve/main/weights.bin").await,
        weights
    );

    // 1 MiB changed in the middle: the chunks around it are new, the rest is already stored.
    for b in &mut weights[16 * MIB..17 * MIB] {
        *b = b.wrapping_add(1);
    }
    std::fs::write(src.join("weights.bin"), &weights).expect("write");
    let mark = emu.journal().len();
    let second = deploy().run().await;
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let sent = xorb_bytes(&emu, mark);
    assert!(
        sent <= 4 * MIB as u64,
        "a 1 MiB change sent {sent} bytes of xorbs"
    );
    assert_eq!(
        download(&url, "alice/weights/resolve/main/weights.bin").await,
        weights
    );
    assert_tree(
        &url,
        &repo(RepoType::Model, "alice/weights"),
        &[("weights.bin", &weights), ("README.md", b"# w\n")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_xet_large_files_take_the_lfs_path() {
    // The user turns Xet off (huggingface_hub's switch), then the Hub has none: LFS PUTs both times.
    for (xet_on_hub, disable) in [(true, "1"), (false, "0")] {
        let emu = emulator_with(|b| b.xet(xet_on_hub)).await;
        let url = emu.url().to_string();
        let big = random_bytes(3 * MIB, 11);
        let (_dir, src) = source(&[("big.bin", &big)]);
        let run = Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/plain")
            .input("repo_type", "model")
            .input("source_dir", &src.display().to_string())
            .env("HF_HUB_DISABLE_XET", disable)
            .run()
            .await;
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(lfs_puts(&emu, 0), 1, "{:?}", emu.journal());
        assert_eq!(xorb_bytes(&emu, 0), 0);
        assert_eq!(
            download(&url, "alice/plain/resolve/main/big.bin").await,
            big
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xet_uploads_survive_store_faults_and_a_rerun_finishes_the_job() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let big = random_bytes(8 * MIB, 13);
    let (_dir, src) = source(&[("data/big.bin", &big), ("a.txt", b"a\n")]);
    // The store answers 500 to the first xorb upload (a pre-signed PUT) and drops the first shard upload.
    emu.inject(
        hub_emulator::FaultRule::parse("PUT /simulation/xorb-uploads/ 500 times=1").expect("rule"),
    );
    emu.inject(
        hub_emulator::FaultRule::parse("POST /xet-cas/*/v2/shards drop times=1").expect("rule"),
    );
    let deploy = || {
        Deploy::new(&url, Some(ALICE))
            .input("huggingface_repo", "alice/faulty")
            .input("repo_type", "dataset")
            .input("source_dir", &src.display().to_string())
    };
    let first = deploy().run().await;
    if first.code != 0 {
        // A fault hf-xet did not retry past: nothing was committed, and a rerun finishes the job.
        let again = deploy().run().await;
        assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    }
    assert_tree(
        &url,
        &repo(RepoType::Dataset, "alice/faulty"),
        &[("data/big.bin", &big), ("a.txt", b"a\n")],
    )
    .await;
    assert_eq!(
        download(&url, "datasets/alice/faulty/resolve/main/data/big.bin").await,
        big
    );
    let faults_hit = emu
        .journal()
        .iter()
        .filter(|e| {
            (e.path.ends_with("/v2/shards") || e.path.starts_with("/simulation/xorb-uploads/"))
                && (e.status == 500 || e.status == 0)
        })
        .count();
    assert!(
        faults_hit >= 2,
        "both faults reached the store: {:?}",
        emu.journal()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xet_store_refuses_requests_without_a_xet_token() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let http = reqwest::Client::new();
    let (_dir, src) = source(&[("a.txt", b"a\n")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/tok")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .run()
        .await;
    assert_eq!(run.code, 0);
    let token: serde_json::Value = http
        .get(format!("{url}/api/models/alice/tok/xet-read-token/main"))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let cas = token["casUrl"].as_str().expect("casUrl");
    assert!(cas.starts_with(&format!("{url}/xet-cas/")), "{cas}");
    // The Hub token is not a CAS token.
    let resp = http
        .post(format!("{cas}/v1/shards"))
        .bearer_auth(ALICE)
        .body(vec![0u8; 16])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    // A read token may not write.
    let read = token["accessToken"].as_str().expect("token");
    let resp = http
        .post(format!("{cas}/v1/shards"))
        .bearer_auth(read)
        .body(vec![0u8; 16])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
    // A write token needs write access to the repo.
    let resp = http
        .get(format!("{url}/api/models/alice/tok/xet-write-token/main"))
        .bearer_auth(BOB_READ)
        .send()
        .await
        .expect("send");
    assert!(
        matches!(resp.status().as_u16(), 403 | 404),
        "{}",
        resp.status()
    );
}

/// Without a terminal, a Xet upload prints its progress at a steady interval, as LFS uploads do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_xet_upload_reports_progress_in_ci_logs() {
    // 16 MiB over an 8 MB/s link: about two seconds of upload.
    let emu = emulator_with(|b| b.bandwidth(8_000_000)).await;
    let url = emu.url().to_string();
    let big = random_bytes(16 * MIB, 17);
    let (_dir, src) = source(&[("weights.bin", &big)]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/slow")
        .input("repo_type", "model")
        .input("source_dir", &src.display().to_string())
        .env("HF_DEPLOY_PROGRESS_INTERVAL_MS", "200")
        .run()
        .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let ticks = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("Xet: ") && l.contains(" of 16.0 MiB processed ("))
        .count();
    assert!(ticks >= 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("Xet: 16.0 MiB processed, "),
        "{}",
        run.stdout
    );
}
