//! The proxy Space template builds from the files the Space receives, and nothing else.
//!
//! `space_files()` is the shipping rule (the same one `crates/deploy/build.rs` embeds): `Cargo.toml`,
//! `Cargo.lock` and `src/**` of this crate, plus `space/*` at the Space root. The test copies exactly
//! those into a fresh directory outside the repository and runs `cargo build --locked --offline` there.
//! That proves the crate needs no file outside the template (no workspace, no path dependency, no
//! tests/examples referenced from Cargo.toml) and that Cargo.lock matches Cargo.toml. It does not run
//! Docker (no daemon or registry here); `scripts/check-template.sh` does the timed clean release build and
//! hadolint.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if p.is_dir() {
            collect(&p, &r, out);
        } else {
            out.push((r, p));
        }
    }
}

/// (path in the Space, source file).
fn space_files() -> Vec<(String, PathBuf)> {
    let dir = crate_dir();
    let mut files = vec![
        ("Cargo.toml".to_owned(), dir.join("Cargo.toml")),
        ("Cargo.lock".to_owned(), dir.join("Cargo.lock")),
    ];
    collect(&dir.join("src"), "src", &mut files);
    collect(&dir.join("space"), "", &mut files);
    files.sort();
    files
}

#[test]
fn template_has_the_files_a_docker_space_needs() {
    let files = space_files();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for required in [
        "Dockerfile",
        "README.md",
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "src/lib.rs",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    let readme = fs::read_to_string(crate_dir().join("space/README.md")).unwrap();
    let front = readme
        .strip_prefix("---\n")
        .and_then(|r| r.split_once("\n---\n"))
        .map(|(f, _)| f)
        .unwrap();
    for line in ["sdk: docker", "app_port: 7860", "pinned: false"] {
        assert!(
            front.lines().any(|l| l == line),
            "front matter lacks {line}"
        );
    }
    for key in ["title:", "emoji:", "colorFrom:", "colorTo:"] {
        assert!(
            front.lines().any(|l| l.starts_with(key)),
            "front matter lacks {key}"
        );
    }
    assert!(readme.contains("proxy created by [hf-deploy]"));

    let docker = fs::read_to_string(crate_dir().join("space/Dockerfile")).unwrap();
    assert!(docker.contains("cargo build --release --locked"));
    assert!(docker.contains("USER 1000"));
    assert!(docker.contains("EXPOSE 7860"));
    // Everything the Dockerfile copies from the build context is in the template.
    for line in docker
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            let src = src.trim_end_matches('/');
            assert!(
                names
                    .iter()
                    .any(|n| *n == src || n.starts_with(&format!("{src}/"))),
                "COPY {src}: not shipped"
            );
        }
    }
    // The image's toolchain is not older than the crate's declared minimum.
    let toml = fs::read_to_string(crate_dir().join("Cargo.toml")).unwrap();
    let msrv = toml
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let image = docker
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .unwrap();
    let image_minor: u32 = image.split(['.', '-']).nth(1).unwrap().parse().unwrap();
    let msrv_minor: u32 = msrv.split('.').nth(1).unwrap().parse().unwrap();
    assert!(
        image_minor >= msrv_minor,
        "rust image {image} older than rust-version {msrv}"
    );
}

#[test]
fn template_builds_standalone_from_the_shipped_files() {
    let work = std::env::temp_dir().join(format!("hf-space-proxy-template-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    for (name, src) in space_files() {
        let dst = work.join(&name);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(&src, &dst).unwrap();
    }
    // A persistent target dir outside the repo keeps reruns fast; dependencies are pinned by Cargo.lock,
    // and the crate itself is always rebuilt from the copied sources (its path differs each run).
    let target = std::env::temp_dir().join("hf-space-proxy-template-target");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--offline", "--bin", "hf-space-proxy"])
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&work);
    assert!(
        out.status.success(),
        "the Space template does not build on its own:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(target.join("debug/hf-space-proxy").is_file());
}
