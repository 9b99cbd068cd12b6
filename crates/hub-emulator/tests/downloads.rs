//! File downloads as on the Hub (and as `hf_hub_download` / `HfFileSystem` rely on them): `resolve` and `raw`,
//! `HEAD`, single byte ranges (206 + `Content-Range`, 416 past the end), `X-Linked-Size` / `X-Linked-Etag` for
//! LFS files only.

mod common;

use common::{assert_status, client, file_line, lfs_line, sha256, start, Api, ALICE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A model with `notes.txt` (regular) and `w.bin` (LFS); returns (regular, lfs, commit id).
async fn model(api: &Api<'_>) -> (Vec<u8>, Vec<u8>, String) {
    api.create("alice/m", "model", false, None).await;
    let regular = b"0123456789abcdefghij".to_vec();
    let lfs: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let b: Value = api
        .post_json(
            "/alice/m.git/info/lfs/objects/batch",
            json!({"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                   "objects": [{"oid": sha256(&lfs), "size": lfs.len()}], "ref": {"name": "main"}}),
        )
        .await
        .json()
        .await
        .expect("batch");
    let href = b["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .expect("href");
    let put = client()
        .put(href)
        .body(lfs.clone())
        .send()
        .await
        .expect("put");
    assert_status(&put, StatusCode::OK);
    let r = api
        .commit(
            "models",
            "alice/m",
            None,
            &[file_line("notes.txt", &regular), lfs_line("w.bin", &lfs)],
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let commit: Value = r.json().await.expect("json");
    let id = commit["commitOid"].as_str().expect("oid").to_string();
    (regular, lfs, id)
}

async fn get(api: &Api<'_>, method: Method, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut r = api.req(method, path);
    if let Some(v) = range {
        r = r.header("range", v);
    }
    r.send().await.expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[tokio::test]
async fn head_and_get_carry_the_metadata_hf_hub_download_reads() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    let (regular, lfs, commit) = model(&api).await;

    let h = get(&api, Method::HEAD, "/alice/m/resolve/main/w.bin", None).await;
    assert_status(&h, StatusCode::OK);
    assert_eq!(header(&h, "x-repo-commit"), Some(commit.clone()));
    assert_eq!(
        header(&h, "x-linked-etag"),
        Some(format!("\"{}\"", sha256(&lfs)))
    );
    assert_eq!(header(&h, "x-linked-size"), Some(lfs.len().to_string()));
    assert_eq!(header(&h, "content-length"), Some(lfs.len().to_string()));
    assert_eq!(header(&h, "accept-ranges").as_deref(), Some("bytes"));
    assert!(h.headers().get("content-encoding").is_none());

    // A regular file: its git blob id as ETag, and no X-Linked-* headers.
    let h = get(&api, Method::HEAD, "/alice/m/resolve/main/notes.txt", None).await;
    assert_status(&h, StatusCode::OK);
    assert_eq!(header(&h, "x-linked-etag"), None);
    assert_eq!(header(&h, "x-linked-size"), None);
    let tree: Value = api
        .get("/api/models/alice/m/tree/main")
        .await
        .json()
        .await
        .expect("tree");
    let oid = tree
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["path"] == "notes.txt")
        .and_then(|e| e["oid"].as_str())
        .expect("oid")
        .to_string();
    assert_eq!(header(&h, "etag"), Some(format!("\"{oid}\"")));
    assert_eq!(
        header(&h, "content-length"),
        Some(regular.len().to_string())
    );

    // At a commit id, too.
    let g = get(
        &api,
        Method::GET,
        &format!("/alice/m/resolve/{commit}/notes.txt"),
        None,
    )
    .await;
    assert_status(&g, StatusCode::OK);
    assert_eq!(&g.bytes().await.expect("body")[..], &regular[..]);
}

#[tokio::test]
async fn byte_ranges_answer_206_with_content_range() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    let (regular, lfs, _) = model(&api).await;
    let total = lfs.len();

    for (range, a, z) in [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, total - 1),
        ("bytes=-500", total - 500, total - 1),
        ("bytes=299990-400000", 299_990, total - 1),
    ] {
        let r = get(
            &api,
            Method::GET,
            "/alice/m/resolve/main/w.bin",
            Some(range),
        )
        .await;
        assert_status(&r, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            header(&r, "content-range"),
            Some(format!("bytes {a}-{z}/{total}")),
            "{range}"
        );
        assert_eq!(header(&r, "content-length"), Some((z - a + 1).to_string()));
        // The linked size stays the whole file's.
        assert_eq!(header(&r, "x-linked-size"), Some(total.to_string()));
        assert_eq!(&r.bytes().await.expect("body")[..], &lfs[a..=z], "{range}");
    }

    let r = get(
        &api,
        Method::GET,
        "/alice/m/resolve/main/notes.txt",
        Some("bytes=5-9"),
    )
    .await;
    assert_status(&r, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-range"), Some("bytes 5-9/20".into()));
    assert_eq!(&r.bytes().await.expect("body")[..], &regular[5..=9]);

    // HEAD with a range: the partial answer's headers, no body.
    let r = get(
        &api,
        Method::HEAD,
        "/alice/m/resolve/main/w.bin",
        Some("bytes=0-9"),
    )
    .await;
    assert_status(&r, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-length"), Some("10".into()));

    // Past the end: 416 with the size, as the client's resume path expects.
    let r = get(
        &api,
        Method::GET,
        "/alice/m/resolve/main/w.bin",
        Some(&format!("bytes={total}-")),
    )
    .await;
    assert_status(&r, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&r, "content-range"),
        Some(format!("bytes */{total}"))
    );

    // Several ranges at once: the whole file (a server may ignore Range).
    let r = get(
        &api,
        Method::GET,
        "/alice/m/resolve/main/notes.txt",
        Some("bytes=0-1,4-5"),
    )
    .await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(&r.bytes().await.expect("body")[..], &regular[..]);
}

#[tokio::test]
async fn raw_serves_the_git_blob_an_lfs_pointer_for_lfs_files() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    let (regular, lfs, commit) = model(&api).await;

    let r = get(&api, Method::GET, "/alice/m/raw/main/w.bin", None).await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(header(&r, "x-repo-commit"), Some(commit));
    assert_eq!(header(&r, "x-linked-size"), None);
    let text = r.text().await.expect("pointer");
    assert_eq!(
        text,
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
            sha256(&lfs),
            lfs.len()
        )
    );

    let r = get(&api, Method::GET, "/alice/m/raw/main/notes.txt", None).await;
    assert_status(&r, StatusCode::OK);
    assert_eq!(&r.bytes().await.expect("body")[..], &regular[..]);

    let r = get(&api, Method::HEAD, "/alice/m/raw/main/w.bin", None).await;
    assert_eq!(header(&r, "content-length"), Some(text.len().to_string()));

    let r = get(&api, Method::GET, "/alice/m/raw/main/missing.txt", None).await;
    assert_status(&r, StatusCode::NOT_FOUND);
    assert_eq!(header(&r, "x-error-code").as_deref(), Some("EntryNotFound"));
}

#[tokio::test]
async fn datasets_and_spaces_resolve_under_their_prefix() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    api.create("alice/d", "dataset", false, None).await;
    api.commit("datasets", "alice/d", None, &[file_line("a.csv", b"x,y\n")])
        .await;
    let r = get(
        &api,
        Method::GET,
        "/datasets/alice/d/resolve/main/a.csv",
        Some("bytes=0-0"),
    )
    .await;
    assert_status(&r, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await.expect("body")[..], b"x");
    let r = get(&api, Method::GET, "/datasets/alice/d/raw/main/a.csv", None).await;
    assert_status(&r, StatusCode::OK);
}
