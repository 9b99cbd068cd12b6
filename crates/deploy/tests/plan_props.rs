//! Property: applying a plan's diff to the remote tree yields exactly the local folder (plus `.gitattributes`),
//! and files already equal are never sent again.

use std::collections::BTreeMap;

use hf_deploy::{diff, Change, Content, LocalFile, KEEP};
use hub::TreeEntry;
use proptest::prelude::*;

fn local_file(path: &str, content: u8) -> LocalFile {
    LocalFile {
        path: path.to_string(),
        content: Content::File(path.into()),
        size: 1,
        sha256: format!("sha256-{content}"),
        git_sha1: format!("sha1-{content}"),
        stamp: None,
    }
}

fn remote_entry(path: &str, content: u8, lfs: bool) -> TreeEntry {
    TreeEntry {
        path: path.to_string(),
        size: 1,
        // An LFS file's git oid is its pointer's, never the content's sha1.
        oid: if lfs {
            format!("pointer-{content}")
        } else {
            format!("sha1-{content}")
        },
        lfs_sha256: lfs.then(|| format!("sha256-{content}")),
    }
}

fn paths() -> impl Strategy<Value = BTreeMap<String, u8>> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "a",
            "b",
            "c/d",
            "c/e",
            "f/g/h",
            ".gitattributes",
            "README.md",
            "x.bin",
        ])
        .prop_map(str::to_string),
        0u8..3,
        0..8,
    )
}

proptest! {
    #[test]
    fn applying_the_diff_gives_the_local_tree(
        local in paths(),
        remote in paths(),
        lfs in prop::collection::vec(any::<bool>(), 8),
    ) {
        let local_files: Vec<std::sync::Arc<LocalFile>> =
            local.iter().map(|(p, c)| std::sync::Arc::new(local_file(p, *c))).collect();
        let remote_entries: Vec<TreeEntry> =
            remote.iter().enumerate().map(|(i, (p, c))| remote_entry(p, *c, lfs[i % lfs.len()])).collect();
        let d = diff(&local_files, &remote_entries, true);

        let mut result: BTreeMap<String, u8> = remote.clone();
        for path in &d.deletes {
            prop_assert!(path != KEEP, ".gitattributes must never be deleted");
            prop_assert!(result.remove(path).is_some(), "deleting a file that is not there: {path}");
        }
        for (file, change) in &d.changed {
            let content = local[&file.path];
            let existed = result.insert(file.path.clone(), content).is_some();
            prop_assert_eq!(existed, *change == Change::Update);
            prop_assert!(remote.get(&file.path) != Some(&content), "re-sending unchanged {}", file.path);
        }
        let mut want = local.clone();
        if let Some(c) = remote.get(KEEP) {
            want.entry(KEEP.to_string()).or_insert(*c);
        }
        prop_assert_eq!(result, want);
        prop_assert_eq!(d.unchanged + d.changed.len(), local.len());
    }
}
