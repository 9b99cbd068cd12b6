//! The Xet transfer at the protocol level: the batch offers `xet` unless it is turned off, the Hub's pick is
//! read from its answer, and an upload through `upload_xet` can be committed as an `lfsFile`.

mod common;

use common::*;
use hub::{CommitOperation, CommitRequest, LfsObject, XetFile};
use hub_emulator::{Emulator, Role};

async fn xet_hub() -> Emulator {
    // The ideal Hub with Xet on (the shared emulator of these tests has it off for the LFS tests).
    Emulator::builder()
        .instant()
        .user("alice", ALICE, Role::Write)
        .start()
        .await
        .expect("emulator starts")
}

fn batch_transfers(emu: &Emulator) -> Vec<u64> {
    emu.journal()
        .iter()
        .filter(|e| e.path.ends_with("/info/lfs/objects/batch"))
        .map(|e| e.bytes_in)
        .collect()
}

#[tokio::test]
async fn the_batch_offers_xet_unless_it_is_turned_off() {
    let emu = xet_hub().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/x");
    c.create_repo(&repo, &Default::default()).await.unwrap();
    let object = LfsObject {
        oid: "a".repeat(64),
        size: 10,
    };
    let with = c
        .lfs_batch(&repo, "main", std::slice::from_ref(&object))
        .await
        .unwrap();
    assert!(with[0].via_xet && with[0].needs_upload(), "{with:?}");
    let without = c
        .with_xet(false)
        .lfs_batch(&repo, "main", std::slice::from_ref(&object))
        .await
        .unwrap();
    assert!(
        !without[0].via_xet && without[0].needs_upload(),
        "{without:?}"
    );
    // The second request body is shorter by exactly `,"xet"`.
    let sizes = batch_transfers(&emu);
    assert_eq!(sizes.len(), 2);
    assert_eq!(sizes[0] - sizes[1], r#","xet""#.len() as u64);
}

#[tokio::test]
async fn a_file_sent_through_xet_commits_as_an_lfs_file() {
    let emu = xet_hub().await;
    let c = client(&emu, ALICE);
    let repo = model("alice/y");
    c.create_repo(&repo, &Default::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = content(3 << 20, 5, true);
    let path = write(dir.path(), "w.bin", &data);
    let h = hub::hash::hash_bytes(&data);
    let stats = c
        .upload_xet(
            &repo,
            "main",
            false,
            &[XetFile {
                sha256: h.sha256.clone(),
                path,
            }],
            None,
        )
        .await
        .unwrap();
    assert_eq!(stats.file_bytes, data.len() as u64);
    assert!(stats.sent_bytes > 0);
    c.commit(
        &repo,
        "main",
        &CommitRequest {
            summary: "through xet".into(),
            operations: vec![CommitOperation::AddLfs {
                path: "w.bin".into(),
                sha256: h.sha256.clone(),
                size: h.size,
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let tree = c.list_tree(&repo, "main").await.unwrap();
    let entry = tree.iter().find(|e| e.path == "w.bin").expect("w.bin");
    assert_eq!(entry.lfs_sha256.as_deref(), Some(h.sha256.as_str()));
    // An oid never uploaded is refused, as for LFS.
    let missing = c
        .commit(
            &repo,
            "main",
            &CommitRequest {
                summary: "nothing behind it".into(),
                operations: vec![CommitOperation::AddLfs {
                    path: "ghost.bin".into(),
                    sha256: "b".repeat(64),
                    size: 5,
                }],
                ..Default::default()
            },
        )
        .await;
    assert!(missing.is_err(), "{missing:?}");
}
