//! Tree listing (recursive, paginated) and `paths-info`.

use super::listing::next_link;
use super::{body_bytes, caller, json, query_pairs, visible};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::state::{Commit, FileEntry, RepoType, Tree};
use crate::{clock, git_hash, query};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

fn file_json(path: &str, e: &FileEntry, commit: Option<&Commit>) -> Value {
    let mut v = json!({"type": "file", "oid": e.oid, "size": e.size, "path": path});
    if let Some(sha) = e.lfs_sha256() {
        let pointer = git_hash::lfs_pointer(sha, e.size).len();
        v["lfs"] = json!({"oid": sha, "size": e.size, "pointerSize": pointer});
    }
    if let Some(c) = commit {
        v["lastCommit"] = json!({"id": c.id, "title": c.summary, "date": clock::iso(c.date)});
    }
    v
}

/// A stable id for a folder: sha1 over its files' paths and oids.
fn dir_oid(tree: &Tree, dir: &str) -> String {
    let prefix = format!("{dir}/");
    let mut h: Vec<u8> = Vec::new();
    for (p, e) in tree
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
    {
        h.extend_from_slice(p.as_bytes());
        h.push(0);
        h.extend_from_slice(e.oid.as_bytes());
    }
    git_hash::sha1_hex(&[b"tree ", &h])
}

fn dir_json(tree: &Tree, dir: &str) -> Value {
    json!({"type": "directory", "oid": dir_oid(tree, dir), "size": 0, "path": dir})
}

/// One listing entry, borrowed from the tree: JSON is built only for the entries of the page served, so
/// paging through a 100,000-file repo never builds 100,000 JSON values per page (perf, issue 7: that made a
/// no-op deploy of such a repo take 45 s in the emulator).
enum Item<'a> {
    Dir(&'a str),
    File(&'a str),
}

impl Item<'_> {
    fn path(&self) -> &str {
        match self {
            Item::Dir(p) | Item::File(p) => p,
        }
    }
}

/// The JSON of one listed path (`None` if a file vanished, which a commit's immutable tree never does).
fn entry_json(tree: &Tree, path: &str, is_dir: bool, commit: Option<&Commit>) -> Option<Value> {
    if is_dir {
        Some(dir_json(tree, path))
    } else {
        tree.get(path).map(|e| file_json(path, e, commit))
    }
}

/// Entries under `folder` (`""` = root), sorted by path.
fn items<'a>(tree: &'a Tree, folder: &str, recursive: bool) -> Option<Vec<Item<'a>>> {
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    let mut dirs: BTreeSet<&'a str> = BTreeSet::new();
    let mut files = Vec::new();
    for path in tree
        .range(prefix.clone()..)
        .map(|(p, _)| p)
        .take_while(|p| p.starts_with(&prefix))
    {
        let rel = &path[prefix.len()..];
        if recursive {
            // Every folder between `folder` and the file.
            for (i, b) in rel.bytes().enumerate() {
                if b == b'/' {
                    dirs.insert(&path[..prefix.len() + i]);
                }
            }
            files.push(Item::File(path.as_str()));
        } else if let Some(i) = rel.find('/') {
            dirs.insert(&path[..prefix.len() + i]);
        } else {
            files.push(Item::File(path.as_str()));
        }
    }
    if !folder.is_empty() && files.is_empty() && dirs.is_empty() {
        return None;
    }
    let mut out: Vec<Item<'a>> = dirs.into_iter().map(Item::Dir).collect();
    out.extend(files);
    // Two sorted runs: the stable sort merges them in linear time.
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Some(out)
}

/// Entries under `folder` as JSON (the whole listing; tests).
#[cfg(test)]
fn entries(
    tree: &Tree,
    folder: &str,
    recursive: bool,
    commit: Option<&Commit>,
) -> Option<Vec<Value>> {
    Some(
        items(tree, folder, recursive)?
            .iter()
            .filter_map(|i| entry_json(tree, i.path(), matches!(i, Item::Dir(_)), commit))
            .collect(),
    )
}

/// A listing as (path, is a folder), sorted: what the pages of one listing share.
type Listing = Arc<Vec<(String, bool)>>;

/// Which listing [`LAST_LISTING`] holds: commit id (unique: ids include a nonce; trees never change), folder,
/// recursive.
type ListingKey = (String, String, bool);

/// The last listing served, so the next pages of the same listing cost O(page) instead of rebuilding and sorting
/// the whole tree per page (perf, issue 7: 101 pages of a 100,000-file repo cost the emulator 4.4 s of CPU, more
/// than the client's whole no-op deploy). One entry, so memory stays bounded.
static LAST_LISTING: Mutex<Option<(ListingKey, Listing)>> = Mutex::new(None);

fn listing(commit: &Commit, folder: &str, recursive: bool) -> Option<Listing> {
    let key = (commit.id.clone(), folder.to_string(), recursive);
    if let Ok(last) = LAST_LISTING.lock() {
        if let Some((k, v)) = last.as_ref() {
            if *k == key {
                return Some(Arc::clone(v));
            }
        }
    }
    let built: Listing = Arc::new(
        items(&commit.tree, folder, recursive)?
            .iter()
            .map(|i| (i.path().to_string(), matches!(i, Item::Dir(_))))
            .collect(),
    );
    if let Ok(mut last) = LAST_LISTING.lock() {
        *last = Some((key, Arc::clone(&built)));
    }
    Some(built)
}

pub fn tree(
    ctx: &Ctx,
    req: Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    rev: &str,
    folder: &str,
) -> ApiResult<Response> {
    let q = query_pairs(&req);
    let recursive = query::truthy(query::get(&q, "recursive"));
    let expand = query::truthy(query::get(&q, "expand"));
    let st = ctx.lock();
    let caller = caller(&st, req.headers())?;
    let repo = visible(&st, caller.as_ref(), rtype, ns, name)?;
    // Listings come through the CDN too: right after a commit `main` may still list the old tree.
    let commit = repo
        .resolve_cached(rev, std::time::Instant::now())
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    let folder = folder.trim_matches('/');
    let all = listing(commit, folder, recursive).ok_or_else(|| {
        ApiError::entry_not_found(format!("{folder} does not exist on \"{rev}\""))
            .header("x-repo-commit", commit.id.clone())
    })?;
    let max = if expand {
        50.min(st.config.tree_page_size)
    } else {
        st.config.tree_page_size
    }
    .max(1);
    let page = query::get(&q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .map_or(max, |l| l.clamp(1, max));
    let offset = query::get(&q, "cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (offset + page).min(all.len());
    let last_commit = expand.then_some(commit.as_ref());
    let items: Vec<Value> = all
        .get(offset..end)
        .unwrap_or(&[])
        .iter()
        .filter_map(|(path, is_dir)| entry_json(&commit.tree, path, *is_dir, last_commit))
        .collect();
    let mut resp = json(StatusCode::OK, Value::Array(items));
    if end < all.len() {
        let link = next_link(&ctx.base_url, req.uri().path(), &q, end);
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    Ok(resp)
}

#[derive(serde::Deserialize)]
struct PathsJson {
    paths: Vec<String>,
}

pub async fn paths_info(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
    rev: &str,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let raw = body_bytes(body).await?;
    // Python sends a form (`paths=a&paths=b`), huggingface.js JSON.
    let paths: Vec<String> = match serde_json::from_slice::<PathsJson>(&raw) {
        Ok(j) => j.paths,
        Err(_) => url::form_urlencoded::parse(&raw)
            .filter(|(k, _)| k == "paths")
            .map(|(_, v)| v.into_owned())
            .collect(),
    };
    let st = ctx.lock();
    let caller = caller(&st, &parts.headers)?;
    let repo = visible(&st, caller.as_ref(), rtype, &ns, &name)?;
    let commit = repo
        .resolve_rev(rev)
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    let mut out = Vec::new();
    for p in paths {
        let p = p.trim_matches('/');
        if let Some(e) = commit.tree.get(p) {
            out.push(file_json(p, e, None));
        } else {
            let prefix = format!("{p}/");
            if commit
                .tree
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&prefix))
            {
                out.push(dir_json(&commit.tree, p));
            }
        }
    }
    Ok(json(StatusCode::OK, Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn lists_dirs_and_files() {
        let mut t = Tree::new();
        for p in ["a.txt", "d/b.txt", "d/e/c.txt"] {
            t.insert(p.into(), FileEntry::inline(Bytes::from_static(b"x")));
        }
        let paths = |v: Vec<Value>| {
            v.iter()
                .map(|e| e["path"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(entries(&t, "", false, None).unwrap()), ["a.txt", "d"]);
        assert_eq!(
            paths(entries(&t, "", true, None).unwrap()),
            ["a.txt", "d", "d/b.txt", "d/e", "d/e/c.txt"]
        );
        assert_eq!(
            paths(entries(&t, "d", false, None).unwrap()),
            ["d/b.txt", "d/e"]
        );
        assert!(entries(&t, "zz", true, None).is_none());
    }
}
