//! The proxy Space's files as hf-deploy writes them: downloaded back from the emulator after a deploy, they
//! are exactly the embedded template, byte-equal to crates/proxy, and they build on their own with
//! `cargo build --locked --offline` in a directory outside the repository (what the Dockerfile runs).

mod common;

use std::path::{Path, PathBuf};

use common::{client, emulator, repo, source, Deploy, ALICE};
use hub::RepoType;

fn proxy_crate() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("proxy")
}

/// (path in the Space, file under crates/proxy) per docs in .notes/proxy-template.md: Cargo.toml, Cargo.lock,
/// src/**, and space/* at the Space root.
fn expected_files() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if path.is_dir() {
                walk(&path, &r, out);
            } else {
                out.push((r, path));
            }
        }
    }
    let dir = proxy_crate();
    let mut files = vec![
        ("Cargo.toml".to_string(), dir.join("Cargo.toml")),
        ("Cargo.lock".to_string(), dir.join("Cargo.lock")),
    ];
    walk(&dir.join("src"), "src", &mut files);
    walk(&dir.join("space"), "", &mut files);
    files.sort();
    files
}

async fn download(base: &str, repo_id: &str, path: &str) -> Vec<u8> {
    let url = format!("{base}/spaces/{repo_id}/resolve/main/{path}");
    let resp = reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 200, "{url}");
    resp.bytes().await.expect("body").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_written_template_is_the_proxy_crate_and_builds_alone() {
    let emu = emulator().await;
    let url = emu.url().to_string();
    let (_dir, path) = source(&[("app.py", b"print('hi')\n")]);
    let run = Deploy::new(&url, Some(ALICE))
        .input("huggingface_repo", "alice/tpl")
        .input("space_sdk", "gradio")
        .input("private", "true")
        .input("create_proxy", "true")
        .input("source_dir", path.to_str().expect("utf-8"))
        .run()
        .await;
    assert_eq!(run.code, 0, "{}", run.visible());

    let remote: Vec<String> = client(&url)
        .list_tree(&repo(RepoType::Space, "alice/tpl-proxy"), "main")
        .await
        .expect("tree")
        .into_iter()
        .map(|e| e.path)
        .filter(|p| p != ".gitattributes")
        .collect();
    let expected = expected_files();
    let names: Vec<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
    let mut remote_sorted: Vec<&str> = remote.iter().map(String::as_str).collect();
    remote_sorted.sort();
    assert_eq!(
        remote_sorted, names,
        "the proxy Space must hold exactly the template"
    );

    let out = tempfile::tempdir().expect("tempdir");
    for (space_path, source_file) in &expected {
        let bytes = download(&url, "alice/tpl-proxy", space_path).await;
        if space_path != "README.md" {
            assert_eq!(
                bytes,
                std::fs::read(source_file).expect("read"),
                "{space_path} differs from crates/proxy (the binary embeds the template at build time: was \
                 crates/proxy edited after hf-deploy was built?)"
            );
        }
        let dest = out.path().join(space_path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, bytes).expect("write");
    }
    let readme = std::fs::read_to_string(out.path().join("README.md")).expect("readme");
    assert!(
        readme.starts_with("---\n")
            && readme.contains("sdk: docker")
            && readme.contains("app_port: 7860")
    );

    // The proxy crate's own target dir holds its compiled dependencies, so this only compiles the crate.
    let status =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--locked", "--offline", "--quiet"])
            .current_dir(out.path())
            .env("CARGO_TARGET_DIR", proxy_crate().join("target"))
            .status()
            .await
            .expect("cargo runs");
    assert!(
        status.success(),
        "the proxy Space's files do not build on their own (offline: `cargo fetch --locked` in crates/proxy first)"
    );
}

/// (name, version) of every package in a Cargo.lock.
fn locked_packages(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read Cargo.lock");
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.push((n, v.trim_matches('"').to_string()));
        }
    }
    out
}

/// The demo and these tests run the proxy through a path dependency, resolved by the workspace's Cargo.lock;
/// the Space builds it from its own. Same versions on both sides means the tested proxy is the shipped one
/// (and the offline build above finds every crate already downloaded).
#[test]
fn the_proxy_lock_pins_the_versions_the_workspace_tests() {
    let workspace =
        locked_packages(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"));
    let proxy = locked_packages(&proxy_crate().join("Cargo.lock"));
    assert!(proxy.len() > 5, "crates/proxy/Cargo.lock looks empty");
    let drift: Vec<String> = proxy
        .iter()
        .filter(|p| p.0 != "hf-space-proxy" && !workspace.contains(p))
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    assert!(
        drift.is_empty(),
        "crates/proxy/Cargo.lock has versions the workspace lock lacks: {drift:?}; align them with \
         `cargo update -p NAME --precise VERSION` (in the workspace or in crates/proxy)"
    );
}
