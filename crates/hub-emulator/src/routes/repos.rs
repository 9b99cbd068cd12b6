//! Repo lifecycle: create, delete, move, settings, info, commit history.

use super::{body_json, caller, json, mutated, query_pairs, visible, writable};
use crate::auth::{self, Caller};
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::state::{
    Commit, FileEntry, HubState, KeyValue, Repo, RepoKey, RepoType, SpaceState, Tree,
};
use crate::{clock, git_hash, ids, query, space_apps, space_stages};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const DEFAULT_GITATTRIBUTES: &str = "*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
";

const SDKS: [&str; 3] = ["gradio", "docker", "static"];

/// The answer to creating a Space with `sdk: "streamlit"`.
const STREAMLIT_GONE: &str = "Streamlit is no longer a built-in Space SDK: create a Docker Space (sdk \"docker\") \
running Streamlit on port 8501, e.g. from the template https://huggingface.co/spaces/streamlit/streamlit-template-space";

/// The Hub's repo-name rules (huggingface_hub 2.x): ASCII letters, digits, `-_.`; 1–96 chars; no
/// leading/trailing `-`/`.`; no `--`/`..`; not ending in `.git`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if name.is_empty() || name.len() > 96 || !ok_chars {
        return Err(format!(
            "Invalid repo name `{name}`: use 1-96 letters, digits, `-`, `_` or `.`"
        ));
    }
    if name.starts_with(['-', '.']) || name.ends_with(['-', '.']) {
        return Err(format!(
            "Invalid repo name `{name}`: it cannot start or end with `-` or `.`"
        ));
    }
    if name.contains("--") || name.contains("..") || name.ends_with(".git") {
        return Err(format!(
            "Invalid repo name `{name}`: `--` and `..` are forbidden and it cannot end with `.git`"
        ));
    }
    Ok(())
}

pub fn repo_url(base: &str, rtype: RepoType, id: &str) -> String {
    format!("{base}/{}{id}", rtype.url_prefix())
}

#[derive(Deserialize)]
struct KvIn {
    key: String,
    value: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
    private: Option<bool>,
    visibility: Option<String>,
    sdk: Option<String>,
    hardware: Option<String>,
    sleep_time_seconds: Option<i64>,
    secrets: Option<Vec<KvIn>>,
    variables: Option<Vec<KvIn>>,
}

/// Splits `name` (maybe `ns/name`) and `organization` into a namespace and a name.
fn target(caller: &Caller, name: &str, org: Option<&str>) -> (String, String) {
    match name.split_once('/') {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (
            org.filter(|o| !o.is_empty())
                .unwrap_or(&caller.user)
                .to_string(),
            name.to_string(),
        ),
    }
}

fn payment_required() -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "Gradio and Docker Spaces run on compute and require a paid plan to create. Free accounts can only create static Spaces: upgrade to PRO (https://huggingface.co/pricing) or use sdk \"static\".",
    )
}

pub async fn create(ctx: Ctx, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: CreateBody = body_json(body).await?;
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let rtype = RepoType::from_singular(body.rtype.as_deref())
        .ok_or_else(|| ApiError::bad_request("Invalid repo type: use model, dataset or space"))?;
    let (ns, name) = target(&caller, &body.name, body.organization.as_deref());
    validate_name(&name).map_err(ApiError::bad_request)?;
    let ns = st.namespace(&ns).ok_or_else(|| {
        ApiError::forbidden(format!(
            "You don't have the rights to create a {} under the namespace \"{ns}\"",
            rtype.singular()
        ))
    })?;
    if !st.is_member(&caller.user, &ns) {
        return Err(ApiError::forbidden(format!(
            "You don't have the rights to create a {} under the namespace \"{ns}\"",
            rtype.singular()
        )));
    }
    auth::check_write(&st, &caller, &ns)?;
    let id = format!("{ns}/{name}");
    let url = repo_url(&ctx.base_url, rtype, &id);
    if let Some(existing) = st.repos.get(&RepoKey::new(rtype, &id)) {
        let url = repo_url(&ctx.base_url, rtype, &existing.id());
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("You already created this {} repo", rtype.singular()),
        )
        .field("url", Value::String(url)));
    }
    let private = match body.visibility.as_deref() {
        Some("private") => true,
        Some("public") | Some("protected") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid visibility `{other}`: use public, private or protected"
            )))
        }
        None => body.private.unwrap_or(false),
    };
    let mut tree = Tree::new();
    tree.insert(
        ".gitattributes".into(),
        FileEntry::inline(Bytes::from_static(DEFAULT_GITATTRIBUTES.as_bytes())),
    );
    let mut space = None;
    if rtype == RepoType::Space {
        let sdk = body.sdk.clone().ok_or_else(|| {
            ApiError::bad_request("Missing `sdk` for a Space: use gradio, docker or static")
        })?;
        // The Hub deprecated its built-in Streamlit SDK (2025-04-30): new Streamlit apps are Docker Spaces. An
        // existing Space whose README says `sdk: streamlit` still builds (see space_stages).
        if sdk == "streamlit" {
            return Err(ApiError::bad_request(STREAMLIT_GONE));
        }
        if !SDKS.contains(&sdk.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid sdk `{sdk}`: use gradio, docker or static"
            )));
        }
        // With Hub-shaped accounts, a free account may still run Gradio on ZeroGPU hardware.
        let zero_gpu = st.config.realism.hub_accounts
            && sdk == "gradio"
            && body.hardware.as_deref() == Some("zero-a10g");
        if sdk != "static" && !st.plan_of(&ns).is_paid() && !zero_gpu {
            return Err(payment_required());
        }
        seed_space_files(&mut tree, &name, &sdk);
        let now = clock::now();
        let kv = |v: Option<Vec<KvIn>>| -> BTreeMap<String, KeyValue> {
            v.unwrap_or_default()
                .into_iter()
                .map(|k| {
                    (
                        k.key,
                        KeyValue {
                            value: k.value,
                            description: k.description,
                            updated_at: now,
                        },
                    )
                })
                .collect()
        };
        let app = space_apps::start(&ctx).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not start the Space app: {e}"),
            )
        })?;
        let host = format!("http://127.0.0.1:{}", app.port);
        space = Some(SpaceState {
            created_sdk: sdk,
            secrets: kv(body.secrets),
            variables: kv(body.variables),
            stage: space_stages::initial_stage(space_stages::BuildTiming::of(&st.config)),
            error: None,
            polls_left: 0,
            outcome: space_stages::running(),
            hardware: body.hardware.unwrap_or_else(|| "cpu-basic".into()),
            sleep_time: body.sleep_time_seconds,
            host,
            app: Some(app),
            upstream: None,
            builds: 0,
            lag_until: None,
            build_done_at: None,
        });
    }
    let now = clock::now();
    let mut repo = Repo {
        rtype,
        namespace: ns,
        name,
        mongo_id: ids::random_hex(24),
        private,
        gated: Value::Bool(false),
        created_at: now,
        last_modified: now,
        branches: BTreeMap::new(),
        prs: 0,
        commits: Default::default(),
        space,
        stale_main: None,
    };
    repo.push_commit("initial commit".into(), String::new(), tree);
    space_stages::start_build(&mut repo, space_stages::BuildTiming::of(&st.config));
    let mongo = repo.mongo_id.clone();
    st.repos.insert(repo.key(), repo);
    Ok(mutated(json(
        StatusCode::OK,
        json!({"url": url, "name": id, "id": mongo}),
    )))
}

fn seed_space_files(tree: &mut Tree, name: &str, sdk: &str) {
    let readme = format!(
        "---\ntitle: {name}\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {sdk}\npinned: false\n---\n\nCheck out the configuration reference at https://huggingface.co/docs/hub/spaces-config-reference\n"
    );
    tree.insert("README.md".into(), FileEntry::inline(Bytes::from(readme)));
    if sdk == "static" {
        let html = format!("<!doctype html>\n<html>\n<head><title>{name}</title><link rel=\"stylesheet\" href=\"style.css\"></head>\n<body><h1>Welcome to your static Space!</h1></body>\n</html>\n");
        tree.insert("index.html".into(), FileEntry::inline(Bytes::from(html)));
        tree.insert(
            "style.css".into(),
            FileEntry::inline(Bytes::from_static(b"body { font-family: sans-serif; }\n")),
        );
    }
}

#[derive(Deserialize)]
struct DeleteBody {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
}

pub async fn delete(ctx: Ctx, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: DeleteBody = body_json(body).await?;
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let rtype = RepoType::from_singular(body.rtype.as_deref())
        .ok_or_else(|| ApiError::bad_request("Invalid repo type"))?;
    let (ns, name) = target(&caller, &body.name, body.organization.as_deref());
    let key = writable(&mut st, &caller, rtype, &ns, &name)?.key();
    // Dropping the repo drops its Space app handle, which stops the app's listener.
    st.repos.remove(&key);
    Ok(mutated(
        (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            "OK",
        )
            .into_response(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoveBody {
    from_repo: String,
    to_repo: String,
    #[serde(rename = "type")]
    rtype: Option<String>,
}

pub async fn move_repo(ctx: Ctx, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: MoveBody = body_json(body).await?;
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let rtype = RepoType::from_singular(body.rtype.as_deref())
        .ok_or_else(|| ApiError::bad_request("Invalid repo type"))?;
    let (from_ns, from_name) = body
        .from_repo
        .split_once('/')
        .ok_or_else(|| ApiError::bad_request("fromRepo must be namespace/name"))?;
    let (to_ns, to_name) = body
        .to_repo
        .split_once('/')
        .ok_or_else(|| ApiError::bad_request("toRepo must be namespace/name"))?;
    validate_name(to_name).map_err(ApiError::bad_request)?;
    let to_ns = st
        .namespace(to_ns)
        .ok_or_else(|| ApiError::forbidden(format!("Namespace {to_ns} does not exist")))?;
    auth::check_write(&st, &caller, &to_ns)?;
    let old_key = writable(&mut st, &caller, rtype, from_ns, from_name)?.key();
    let new_key = RepoKey::new(rtype, &format!("{to_ns}/{to_name}"));
    if new_key != old_key && st.repos.contains_key(&new_key) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("You already created this {} repo", rtype.singular()),
        ));
    }
    let mut repo = st
        .repos
        .remove(&old_key)
        .ok_or_else(ApiError::repo_not_found)?;
    repo.namespace = to_ns;
    repo.name = to_name.to_string();
    repo.last_modified = clock::now();
    st.repos.insert(new_key, repo);
    Ok(mutated(json(StatusCode::OK, json!({}))))
}

#[derive(Deserialize)]
struct SettingsBody {
    private: Option<bool>,
    visibility: Option<String>,
    gated: Option<Value>,
}

pub async fn settings(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body: SettingsBody = body_json(body).await?;
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let repo = writable(&mut st, &caller, rtype, &ns, &name)?;
    match body.visibility.as_deref() {
        Some("private") => repo.private = true,
        Some("public" | "protected") => repo.private = false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid visibility `{other}`: use public, private or protected"
            )))
        }
        None => {
            if let Some(p) = body.private {
                repo.private = p;
            }
        }
    }
    if let Some(g) = body.gated {
        repo.gated = g;
    }
    repo.last_modified = clock::now();
    Ok(mutated(json(StatusCode::OK, json!({}))))
}

/// The repo object of repo info and listings.
pub fn repo_json(
    base: &str,
    st: &HubState,
    repo: &Repo,
    commit: Option<&Commit>,
    blobs: bool,
) -> Value {
    let id = repo.id();
    let mut v = json!({
        "_id": repo.mongo_id,
        "id": id,
        "author": repo.namespace,
        "private": repo.private,
        "gated": repo.gated,
        "disabled": false,
        "createdAt": clock::iso(repo.created_at),
        "lastModified": clock::iso(repo.last_modified),
        "likes": 0,
        "downloads": 0,
        "tags": [],
        "xetEnabled": st.config.xet,
    });
    if let Some(c) = commit {
        v["sha"] = json!(c.id);
        let siblings: Vec<Value> = c
            .tree
            .iter()
            .map(|(path, e)| {
                let mut s = json!({"rfilename": path});
                if blobs {
                    s["size"] = json!(e.size);
                    s["blobId"] = json!(e.oid);
                    if let Some(sha) = e.lfs_sha256() {
                        let pointer = git_hash::lfs_pointer(sha, e.size).len();
                        s["lfs"] = json!({"sha256": sha, "size": e.size, "pointerSize": pointer});
                    }
                }
                s
            })
            .collect();
        v["siblings"] = Value::Array(siblings);
        v["usedStorage"] = json!(c.tree.values().map(|e| e.size).sum::<u64>());
    }
    if let Some(space) = &repo.space {
        let sdk = commit
            .and_then(|c| space_stages::front_matter_sdk(&c.tree))
            .unwrap_or_else(|| space.created_sdk.clone());
        v["sdk"] = json!(sdk);
        v["subdomain"] = json!(space_stages::subdomain(&id));
        v["host"] = json!(space.host);
        v["runtime"] = space_stages::runtime_json(repo, space);
    }
    let _ = (base, st);
    v
}

pub fn info(
    ctx: &Ctx,
    req: Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    rev: Option<&str>,
) -> ApiResult<Response> {
    let q = query_pairs(&req);
    let blobs = query::truthy(query::get(&q, "blobs"));
    let mut st = ctx.lock();
    let caller = caller(&st, req.headers())?;
    let key = visible(&st, caller.as_ref(), rtype, ns, name)?.key();
    let now = std::time::Instant::now();
    // The runtime in the answer reflects time-driven stage changes (build lag, timed builds).
    if let Some(space) = st.repos.get_mut(&key).and_then(|r| r.space.as_mut()) {
        space_stages::tick(space, now);
    }
    let repo = st.repos.get(&key).ok_or_else(ApiError::repo_not_found)?;
    let commit = match rev {
        Some(r) => Some(
            repo.resolve_cached(r, now)
                .ok_or_else(|| ApiError::revision_not_found(r))?,
        ),
        None => repo.resolve_cached("main", now),
    };
    let mut v = repo_json(&ctx.base_url, &st, repo, commit.map(|c| c.as_ref()), blobs);
    // `expand=PROP` (repeatable) answers only `_id`, `id` and those properties, as recorded on huggingface.co.
    let expand: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "expand" || k == "expand[]")
        .map(|(_, v)| v.as_str())
        .collect();
    if !expand.is_empty() {
        if let Value::Object(all) = &mut v {
            all.retain(|k, _| k == "_id" || k == "id" || expand.contains(&k.as_str()));
        }
    }
    Ok(json(StatusCode::OK, v))
}

pub fn commits(
    ctx: &Ctx,
    req: Request,
    rtype: RepoType,
    ns: &str,
    name: &str,
    rev: &str,
) -> ApiResult<Response> {
    let st = ctx.lock();
    let caller = caller(&st, req.headers())?;
    let repo = visible(&st, caller.as_ref(), rtype, ns, name)?;
    let mut cur = repo.resolve_rev(rev).cloned();
    if cur.is_none() {
        return Err(ApiError::revision_not_found(rev));
    }
    let mut out = Vec::new();
    while let Some(c) = cur {
        out.push(json!({
            "id": c.id,
            "title": c.summary,
            "message": if c.description.is_empty() { c.summary.clone() } else { format!("{}\n\n{}", c.summary, c.description) },
            "date": clock::iso(c.date),
            "authors": [{"user": repo.namespace}],
        }));
        cur = c.parent.as_ref().and_then(|p| repo.commits.get(p)).cloned();
    }
    Ok(json(StatusCode::OK, Value::Array(out)))
}

/// `POST /api/{type}s/{id}/branch/{branch}`: a new branch at `startingPoint` (default: main's head); 409 when
/// it exists.
pub async fn create_branch(
    ctx: Ctx,
    req: Request,
    rtype: RepoType,
    ns: String,
    name: String,
    branch: String,
) -> ApiResult<Response> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        starting_point: Option<String>,
    }
    let (parts, body) = req.into_parts();
    let bytes = crate::routes::body_bytes(body).await?;
    let body: Body = if bytes.is_empty() {
        Body::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    let mut st = ctx.lock();
    let caller = auth::require(caller(&st, &parts.headers)?)?;
    let repo = writable(&mut st, &caller, rtype, &ns, &name)?;
    if repo.branches.contains_key(&branch) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Reference refs/heads/{branch} already exists"),
        ));
    }
    let from = body.starting_point.as_deref().unwrap_or("main");
    let commit = repo
        .resolve_rev(from)
        .map(|c| c.id.clone())
        .ok_or_else(|| ApiError::revision_not_found(from))?;
    repo.branches.insert(branch, commit);
    repo.last_modified = clock::now();
    Ok(mutated(json(StatusCode::OK, json!({}))))
}
