//! Preupload, LFS (basic and multipart), NDJSON commit and tree, against the emulator.

mod common;

use common::*;
use hub::{CommitOperation, CommitRequest, CreateRepo, HubError};

#[tokio::test]
async fn folder_roundtrip_basic_multipart_regular() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/roundtrip");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = MULTIPART_THRESHOLD as usize + 3 * PART as usize + 17; // 8 parts, the last one short
    let files = vec![
        ("README.md", write(dir.path(), "README.md", b"# hello\n")),
        (
            "src/app.py",
            write(dir.path(), "src/app.py", &content(5000, 1, false)),
        ),
        (
            "weights/small.bin",
            write(dir.path(), "weights/small.bin", &content(4096, 2, true)),
        ),
        (
            "weights/big.bin",
            write(dir.path(), "weights/big.bin", &content(big, 3, true)),
        ),
        ("empty.txt", write(dir.path(), "empty.txt", b"")),
    ];
    let up = upload(&c, &repo, &files, None).await.unwrap();
    assert_eq!(up.lfs_uploaded, 2);
    assert_eq!(up.multipart, 1);
    let commit = up.commit.expect("a commit");
    assert_eq!(commit.commit_oid.len(), 40);
    assert!(
        commit.commit_url.starts_with(emu.url()),
        "{}",
        commit.commit_url
    );
    assert_tree(&c, &repo, &files).await;
    let info = c
        .repo_info(&repo, None)
        .await
        .unwrap()
        .expect("repo exists");
    assert_eq!(info.sha, commit.commit_oid);

    // One PUT for the small object, one per part for the big one.
    let parts = emu
        .journal()
        .iter()
        .filter(|e| e.method == "PUT" && e.status == 200)
        .count();
    assert_eq!(
        parts,
        1 + big.div_ceil(PART as usize),
        "one basic PUT plus every part"
    );
    assert_eq!(emu.token_leaks(), 0);

    // A second run changes nothing: preupload answers with the same oids.
    let again = upload(&c, &repo, &files, Some(commit.commit_oid.clone()))
        .await
        .unwrap();
    assert!(again.commit.is_none());
    assert_eq!(again.unchanged, files.len());
    assert_eq!(again.lfs_uploaded, 0);
}

#[tokio::test]
async fn stale_parent_is_412_and_delete_works() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/stale");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let first = c.repo_info(&repo, None).await.unwrap().unwrap().sha;
    let add = |path: &str, text: &str, parent: &str| CommitRequest {
        summary: format!("add {path}"),
        parent_commit: Some(parent.to_string()),
        operations: vec![CommitOperation::AddBytes {
            path: path.into(),
            content: text.as_bytes().to_vec(),
        }],
        ..Default::default()
    };
    let second = c
        .commit(&repo, "main", &add("a.txt", "a", &first))
        .await
        .unwrap();
    let err = c
        .commit(&repo, "main", &add("b.txt", "b", &first))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HubError::PreconditionFailed { .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(412));
    assert!(!err.is_retryable());
    let commits = emu
        .journal()
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains("/commit/"))
        .count();
    assert_eq!(commits, 2, "the 412 commit was not retried");

    let del = CommitRequest {
        summary: "delete a".into(),
        parent_commit: Some(second.commit_oid),
        operations: vec![CommitOperation::Delete {
            path: "a.txt".into(),
        }],
        ..Default::default()
    };
    c.commit(&repo, "main", &del).await.unwrap();
    let tree = c.list_tree(&repo, "main").await.unwrap();
    assert!(tree.iter().all(|e| e.path != "a.txt"), "{tree:?}");

    let missing = CommitRequest {
        summary: "delete again".into(),
        operations: vec![CommitOperation::Delete {
            path: "a.txt".into(),
        }],
        ..Default::default()
    };
    let err = c.commit(&repo, "main", &missing).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn unknown_revision_is_an_error_not_a_missing_repo() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/revs");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let err = c
        .repo_info(&repo, Some("no/such-branch"))
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("RevisionNotFound"), "{err:?}");
    assert!(c
        .repo_info(&model("alice/nothing-here"), None)
        .await
        .unwrap()
        .is_none());
    let err = c.list_tree(&repo, "nope").await.unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn paged_tree_lists_every_file() {
    let emu = hub_emulator::Emulator::builder()
        .user("alice", ALICE, hub_emulator::Role::Write)
        .tree_page_size(3)
        .start()
        .await
        .unwrap();
    let c = client(&emu, ALICE);
    let repo = model("alice/many");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let ops = (0..10)
        .map(|i| CommitOperation::AddBytes {
            path: format!("d{}/f{i}.txt", i % 3),
            content: vec![b'x'; i],
        })
        .collect();
    let commit = CommitRequest {
        summary: "many".into(),
        operations: ops,
        ..Default::default()
    };
    let info = c.commit(&repo, "main", &commit).await.unwrap();
    // At the commit id: `main` may read as the previous head for a moment (the emulator's default stale reads).
    let tree = c.list_tree(&repo, &info.commit_oid).await.unwrap();
    for i in 0..10 {
        let path = format!("d{}/f{i}.txt", i % 3);
        let e = tree
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(e.size, i as u64);
        assert_eq!(e.oid, hub::hash::hash_bytes(&vec![b'x'; i]).git_sha1);
    }
    let pages = emu
        .journal()
        .iter()
        .filter(|e| e.path.contains("/tree/"))
        .count();
    assert!(pages >= 4, "expected several tree pages, got {pages}");
}

#[tokio::test]
async fn preupload_splits_large_requests_and_keeps_order() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/wide");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let n = hub::MAX_FILES_PER_REQUEST + 44;
    let files: Vec<hub::PreuploadFile> = (0..n)
        .map(|i| hub::PreuploadFile {
            path: format!("f{i:04}.{}", if i % 3 == 0 { "bin" } else { "txt" }),
            size: 10,
            sample: if i % 3 == 0 {
                vec![0; 10]
            } else {
                b"0123456789".to_vec()
            },
        })
        .collect();
    let answers = c
        .preupload(&repo, "main", &files, false, None)
        .await
        .unwrap();
    assert_eq!(answers.len(), n);
    for (i, (asked, got)) in files.iter().zip(&answers).enumerate() {
        assert_eq!(asked.path, got.path);
        let lfs = i % 3 == 0;
        assert_eq!(got.upload_mode == hub::UploadMode::Lfs, lfs, "{}", got.path);
        assert!(got.remote_oid.is_none());
    }
    assert_eq!(
        emu.journal()
            .iter()
            .filter(|e| e.path.contains("/preupload/"))
            .count(),
        2
    );
}

#[tokio::test]
async fn create_pr_opens_a_pull_request_and_leaves_main_alone() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/pr");
    c.create_repo(&repo, &CreateRepo::default()).await.unwrap();
    let head = c.repo_info(&repo, None).await.unwrap().unwrap().sha;
    let files = [hub::PreuploadFile {
        path: "p.txt".into(),
        size: 2,
        sample: b"pr".to_vec(),
    }];
    let modes = c
        .preupload(&repo, "main", &files, true, None)
        .await
        .unwrap();
    assert_eq!(modes[0].upload_mode, hub::UploadMode::Regular);
    let commit = CommitRequest {
        summary: "proposal".into(),
        create_pr: true,
        operations: vec![CommitOperation::AddBytes {
            path: "p.txt".into(),
            content: b"pr".to_vec(),
        }],
        ..Default::default()
    };
    let info = c.commit(&repo, "main", &commit).await.unwrap();
    let pr = info.pr_url.expect("a pull request URL");
    assert!(
        pr.starts_with(&format!("{}/alice/pr/discussions/", emu.url())),
        "{pr}"
    );
    assert_eq!(
        c.repo_info(&repo, None).await.unwrap().unwrap().sha,
        head,
        "main did not move"
    );
    let number = pr.rsplit('/').next().unwrap();
    let tree = c
        .list_tree(&repo, &format!("refs/pr/{number}"))
        .await
        .unwrap();
    assert!(tree.iter().any(|e| e.path == "p.txt"), "{tree:?}");
}
