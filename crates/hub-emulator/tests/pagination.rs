//! Pagination: tree and repo listings follow absolute `Link` next URLs that keep every parameter.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn next_url(r: &reqwest::Response) -> Option<String> {
    let link = r.headers().get("link")?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link.find('>')?;
    assert!(link.contains("rel=\"next\""), "{link}");
    Some(link[start..end].to_string())
}

async fn follow(api: &Api<'_>, first: &str) -> (Vec<Value>, usize) {
    let mut url = first.to_string();
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let r = api.get(&url).await;
        assert_status(&r, StatusCode::OK);
        pages += 1;
        let next = next_url(&r);
        let page: Vec<Value> = r.json().await.expect("json");
        items.extend(page);
        match next {
            Some(n) => {
                assert!(
                    n.starts_with("http://127.0.0.1:"),
                    "Link must be absolute: {n}"
                );
                url = n;
            }
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn tree_pages_cover_every_entry() {
    let emu = builder().tree_page_size(3).start().await.expect("start");
    let api = Api::new(&emu, ALICE);
    api.create("alice/m", "model", false, None).await;
    let lines: Vec<Value> = (0..7)
        .map(|i| file_line(&format!("d{}/f{i}.txt", i % 2), b"x"))
        .collect();
    api.commit("models", "alice/m", None, &lines).await;
    let (items, pages) = follow(
        &api,
        "/api/models/alice/m/tree/main?recursive=True&expand=False",
    )
    .await;
    let mut paths: Vec<&str> = items
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 10, "{paths:?}"); // .gitattributes + 7 files + 2 folders
    assert!(pages >= 4);
    paths.dedup();
    assert_eq!(paths.len(), 10, "an entry appeared twice");
    assert!(items.iter().all(|e| e["oid"].is_string()));
    // A folder given with %2F, non-recursive, and a missing folder.
    let (items, _) = follow(&api, "/api/models/alice/m/tree/main/d0").await;
    assert_eq!(items.len(), 4);
    let r = api.get("/api/models/alice/m/tree/main/nope").await;
    assert_eq!(error_code(&r).await.as_deref(), Some("EntryNotFound"));
    let r = api.get("/api/models/alice/m/tree/nobranch").await;
    assert_eq!(error_code(&r).await.as_deref(), Some("RevisionNotFound"));
}

#[tokio::test]
async fn repo_listing_pages_with_limit_search_and_author() {
    let emu = start().await;
    let api = Api::new(&emu, ALICE);
    for i in 0..5 {
        api.create(&format!("alice/e2e-{i}"), "space", false, Some("static"))
            .await;
    }
    api.create("alice/other", "space", false, Some("static"))
        .await;
    api.create("acme/e2e-org", "space", false, Some("static"))
        .await;
    let (items, pages) = follow(&api, "/api/spaces?author=alice&search=E2E-&limit=2").await;
    let mut ids: Vec<&str> = items
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "alice/e2e-0",
            "alice/e2e-1",
            "alice/e2e-2",
            "alice/e2e-3",
            "alice/e2e-4"
        ]
    );
    assert_eq!(pages, 3);
    assert!(items
        .iter()
        .all(|e| e["createdAt"].as_str().expect("date").ends_with('Z')));
    // Backdated repos show their new createdAt.
    let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    assert!(emu.set_created_at("space", "alice/e2e-0", at));
    let v: Value = api
        .get("/api/spaces/alice/e2e-0")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["createdAt"], "2023-11-14T22:13:20.000Z");
}
