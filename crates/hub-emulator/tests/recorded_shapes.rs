//! The emulator answers the calls huggingface.co was recorded answering (`crates/hub/tests/fixtures/space_api.json`,
//! from the official client's production cassettes) with the same field names and JSON types: every recorded
//! field is there with the same type, and a field the recording lacks is allowed only from `EXTRA`.

mod common;

use common::{builder, file_line, Api, ALICE};
use serde_json::{json, Value};

/// Fields the emulator adds that the recordings lack, each with why it may be there.
const EXTRA: &[(&str, &str, &str)] = &[
    // The Hub reports the served commit and the build error in the runtime (third-party clients read them; the
    // recordings caught no Space with an error or a finished build).
    ("runtime", "sha", "the commit the runtime serves"),
    ("runtime", "errorMessage", "set only on error stages"),
    // Spaces with compute carry these in the recordings; the static recording (an old Space) has fewer fields.
    (
        "runtime_static",
        "devMode",
        "present for every Space in the other recordings",
    ),
    (
        "runtime_static",
        "domains",
        "present for every Space in the other recordings",
    ),
];

fn recorded(name: &str) -> Value {
    let all: Vec<Value> =
        serde_json::from_str(include_str!("../../hub/tests/fixtures/space_api.json"))
            .expect("fixture is JSON");
    let entry = all
        .into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no recorded answer {name}"));
    entry
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between the recorded shape and the emulator's answer, as `path: problem` lines. A recorded `null`
/// matches any type (the Hub fills it later, e.g. `hardware.current` once running). Recorded objects whose keys
/// are data (variables) are compared entry by entry against the recorded entries' shape.
fn shape_diff(path: &str, want: &Value, have: &Value, kind: &str, out: &mut Vec<String>) {
    match (want, have) {
        (Value::Null, _) => {}
        (Value::Object(w), Value::Object(h)) => {
            for (k, wv) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match h.get(k) {
                    Some(hv) => shape_diff(&p, wv, hv, kind, out),
                    None => out.push(format!("{p}: missing")),
                }
            }
            for k in h.keys().filter(|k| !w.contains_key(*k)) {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let allowed = |c: &str| c == kind || (kind == "runtime_static" && c == "runtime");
                if !EXTRA.iter().any(|(c, f, _)| allowed(c) && *f == p) {
                    out.push(format!("{p}: not in the recording"));
                }
            }
        }
        (Value::Array(w), Value::Array(h)) => {
            if let Some(wv) = w.first() {
                for (i, hv) in h.iter().enumerate() {
                    shape_diff(&format!("{path}[{i}]"), wv, hv, kind, out);
                }
            }
        }
        (w, h) if type_name(w) == type_name(h) => {}
        (w, h) => out.push(format!(
            "{path}: {} in the recording, {} here",
            type_name(w),
            type_name(h)
        )),
    }
}

fn assert_shape(name: &str, kind: &str, status: u16, have: &Value) {
    let rec = recorded(name);
    assert_eq!(
        rec["status"].as_u64(),
        Some(u64::from(status)),
        "{name}: status"
    );
    let mut out = Vec::new();
    shape_diff("", &rec["body"], have, kind, &mut out);
    assert!(out.is_empty(), "{name}: {out:#?}\nemulator: {have}");
}

/// Same, for a map whose keys are data (variables): each entry against the recorded entries' union of fields.
fn assert_map_shape(name: &str, status: u16, have: &Value) {
    let rec = recorded(name);
    assert_eq!(rec["status"].as_u64(), Some(u64::from(status)), "{name}");
    let mut fields = serde_json::Map::new();
    for entry in rec["body"].as_object().expect("a map").values() {
        for (k, v) in entry.as_object().expect("entries are objects") {
            fields.insert(k.clone(), v.clone());
        }
    }
    for (key, entry) in have.as_object().expect("a map") {
        let obj = entry.as_object().expect("entries are objects");
        for (k, v) in obj {
            let want = fields
                .get(k)
                .unwrap_or_else(|| panic!("{name}: {key}.{k} not in the recording"));
            assert_eq!(type_name(want), type_name(v), "{name}: {key}.{k}");
        }
        for required in ["value", "updatedAt"] {
            assert!(obj.contains_key(required), "{name}: {key} lacks {required}");
        }
    }
}

async fn send(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

#[tokio::test]
async fn the_emulator_answers_in_the_recorded_shapes() {
    // The ideal Hub: the recordings show BUILDING right after the commit, so no build lag here.
    let emu = builder().start().await.expect("emulator");
    let api = Api::new(&emu, ALICE);
    let create = json!({"name": "app", "organization": "alice", "type": "space", "sdk": "gradio", "private": true});

    let (s, v) = send(api.post_json("/api/repos/create", create.clone()).await).await;
    assert_shape("create", "create", s, &v);
    let (s, v) = send(api.post_json("/api/repos/create", create).await).await;
    assert_shape("create_again", "create", s, &v);

    let sample = json!({"files": [{"path": "app.py", "sample": "cHJpbnQoJ2hpJykK", "size": 12}]});
    let (s, v) = send(
        api.post_json("/api/spaces/alice/app/preupload/main", sample.clone())
            .await,
    )
    .await;
    assert_shape("preupload_new_file", "preupload", s, &v);

    let (s, v) = send(
        api.get("/api/spaces/alice/app/revision/main?expand=xetEnabled")
            .await,
    )
    .await;
    assert_shape("revision_expand_xet", "info", s, &v);

    let (s, v) = send(
        api.commit(
            "spaces",
            "alice/app",
            None,
            &[file_line("app.py", b"print('hi')\n")],
        )
        .await,
    )
    .await;
    assert_shape("commit", "commit", s, &v);

    let (s, v) = send(api.get("/api/spaces/alice/app/runtime").await).await;
    assert_eq!(v["stage"], "BUILDING");
    assert_shape("runtime_building", "runtime", s, &v);

    let (s, v) = send(
        api.post_json("/api/spaces/alice/app/preupload/main", sample)
            .await,
    )
    .await;
    assert_shape("preupload_known_file", "preupload", s, &v);

    let (s, v) = send(
        api.post_json("/api/spaces/alice/app/pause", json!({}))
            .await,
    )
    .await;
    assert_eq!(v["stage"], "PAUSED");
    assert_shape("pause", "runtime", s, &v);
    let (s, v) = send(
        api.post_json("/api/spaces/alice/app/restart", json!({}))
            .await,
    )
    .await;
    assert_shape("restart", "runtime", s, &v);

    let (s, v) = send(
        api.post_json(
            "/api/spaces/alice/app/secrets",
            json!({"key": "KEY", "value": "v"}),
        )
        .await,
    )
    .await;
    assert_shape("secret_add", "secrets", s, &v);
    let (s, v) = send(
        api.delete_json("/api/spaces/alice/app/secrets", json!({"key": "MISSING"}))
            .await,
    )
    .await;
    assert_shape("secret_delete_missing", "secrets", s, &v);

    let (s, v) = send(api.get("/api/spaces/alice/app/variables").await).await;
    assert_shape("variables_none", "variables", s, &v);
    let (s, v) = send(
        api.post_json(
            "/api/spaces/alice/app/variables",
            json!({"key": "COLOR", "value": "blue"}),
        )
        .await,
    )
    .await;
    assert_map_shape("variable_add", s, &v);
    let (s, v) = send(
        api.post_json(
            "/api/spaces/alice/app/variables",
            json!({"key": "MODEL", "value": "alice/model", "description": "which model"}),
        )
        .await,
    )
    .await;
    assert_map_shape("variable_add", s, &v);
    assert_eq!(v["MODEL"]["description"], "which model");
    let (s, v) = send(
        api.delete_json("/api/spaces/alice/app/variables", json!({"key": "MISSING"}))
            .await,
    )
    .await;
    assert_map_shape("variable_delete_missing", s, &v);
    assert_eq!(
        v.as_object().map(|m| m.len()),
        Some(2),
        "the remaining variables: {v}"
    );

    let (s, v) = send(
        api.delete_json(
            "/api/repos/delete",
            json!({"name": "app", "organization": "alice", "type": "space"}),
        )
        .await,
    )
    .await;
    assert_shape("delete", "delete", s, &v);
}

#[tokio::test]
async fn a_running_static_space_has_the_recorded_runtime() {
    let emu = builder().start().await.expect("emulator");
    let api = Api::new(&emu, ALICE);
    api.create("alice/site", "space", false, Some("static"))
        .await;
    api.commit(
        "spaces",
        "alice/site",
        None,
        &[file_line("index.html", b"<h1>hi</h1>")],
    )
    .await;
    // One runtime read shows BUILDING (--build-polls 1), the next the settled stage.
    let _ = api.get("/api/spaces/alice/site/runtime").await;
    let (s, v) = send(api.get("/api/spaces/alice/site/runtime").await).await;
    assert_eq!(v["stage"], "RUNNING");
    assert_shape("runtime_static_running", "runtime_static", s, &v);
    // Static Spaces run on no hardware and never sleep.
    assert_eq!(v["hardware"], json!({"current": null, "requested": null}));
    assert!(v.get("gcTimeout").is_none(), "{v}");
}
