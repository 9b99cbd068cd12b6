//! Every bad input fails with an actionable message and the right exit code, and the emulator's journal
//! shows zero mutating requests afterwards: nothing remote was changed.

mod common;

use common::*;

/// How the source folder of a case looks.
#[derive(Clone, Copy)]
enum Src {
    Ok,
    Missing,
    File,
    LfsPointer,
    EscapingSymlink,
    BadName,
    Empty,
}

struct Case {
    name: &'static str,
    inputs: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    token: Option<&'static str>,
    src: Src,
    code: i32,
    message: &'static str,
}

const fn case(
    name: &'static str,
    inputs: &'static [(&'static str, &'static str)],
    code: i32,
    message: &'static str,
) -> Case {
    Case {
        name,
        inputs,
        env: &[],
        args: &[],
        token: Some(ALICE),
        src: Src::Ok,
        code,
        message,
    }
}

fn long_title() -> &'static [(&'static str, &'static str)] {
    let title: &'static str = Box::leak("x".repeat(1001).into_boxed_str());
    Box::leak(vec![("huggingface_repo", "alice/x"), ("commit_message", title)].into_boxed_slice())
}

fn cases() -> Vec<Case> {
    vec![
        case("repo with a space", &[("huggingface_repo", "alice/has space")], 2, "huggingface_repo"),
        case("repo with two slashes", &[("huggingface_repo", "alice/a/b")], 2, "owner/name"),
        case("repo name too long", &[("huggingface_repo", "alice/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")], 2, "at most 96"),
        case("repo name starts with dash", &[("huggingface_repo", "alice/-lead")], 2, "must not start or end"),
        case("repo name ends with dot", &[("huggingface_repo", "alice/trail.")], 2, "must not start or end"),
        case("repo name with double dash", &[("huggingface_repo", "alice/a--b")], 2, "'--'"),
        case("repo name with double dot", &[("huggingface_repo", "alice/a..b")], 2, "'..'"),
        case("repo name ends with .git", &[("huggingface_repo", "alice/x.git")], 2, ".git"),
        case("empty namespace", &[("huggingface_repo", "/name")], 2, "namespace"),
        case("empty name", &[("huggingface_repo", "alice/")], 2, "repo name"),
        case("non-ascii name", &[("huggingface_repo", "alice/café")], 2, "only letters, digits"),
        Case { env: &[], ..case("default repo without GITHUB_REPOSITORY", &[], 2, "GITHUB_REPOSITORY") },
        Case { env: &[("GITHUB_REPOSITORY", "octo/.github")], ..case("GitHub repo name the Hub refuses", &[], 2, "GITHUB_REPOSITORY") },
        case("unknown repo type", &[("huggingface_repo", "alice/x"), ("repo_type", "kernel")], 2, "repo_type"),
        case("plural repo type", &[("huggingface_repo", "alice/x"), ("repo_type", "models")], 2, "space, model, dataset"),
        case("unknown sdk", &[("huggingface_repo", "alice/x"), ("space_sdk", "flask")], 2, "space_sdk"),
        case("versioned sdk", &[("huggingface_repo", "alice/x"), ("space_sdk", "gradio5")], 2, "gradio, streamlit, docker, static"),
        // The Hub deprecated its built-in Streamlit SDK: say how to deploy it as docker, before creating anything.
        case("streamlit for a new Space", &[("huggingface_repo", "alice/st"), ("space_sdk", "streamlit")], 2, "Set space_sdk: docker"),
        case("streamlit points to the template", &[("huggingface_repo", "alice/st"), ("space_sdk", "streamlit")], 2, "streamlit-template-space"),
        Case { src: Src::Missing, ..case("missing source_dir", &[("huggingface_repo", "alice/x")], 2, "source_dir") },
        Case { src: Src::File, ..case("source_dir is a file", &[("huggingface_repo", "alice/x")], 2, "not a directory") },
        case("private not a boolean", &[("huggingface_repo", "alice/x"), ("private", "maybe")], 2, "private"),
        case("delete_stale not a boolean", &[("huggingface_repo", "alice/x"), ("delete_stale", "2")], 2, "delete_stale"),
        case("dry_run not a boolean", &[("huggingface_repo", "alice/x"), ("dry_run", "yes please")], 2, "dry_run"),
        case("wait not a boolean", &[("huggingface_repo", "alice/x"), ("wait", "nah")], 2, "wait"),
        case("create_pr not a boolean", &[("huggingface_repo", "alice/x"), ("create_pr", "x")], 2, "create_pr"),
        case("create_proxy not a boolean", &[("huggingface_repo", "alice/x"), ("create_proxy", "sure")], 2, "create_proxy"),
        case("wait_timeout not a number", &[("huggingface_repo", "alice/x"), ("wait_timeout", "abc")], 2, "wait_timeout"),
        case("wait_timeout negative", &[("huggingface_repo", "alice/x"), ("wait_timeout", "-5")], 2, "wait_timeout"),
        case("wait_timeout zero", &[("huggingface_repo", "alice/x"), ("wait_timeout", "0")], 2, "between 1 and"),
        case("wait_timeout huge", &[("huggingface_repo", "alice/x"), ("wait_timeout", "99999999")], 2, "between 1 and"),
        case("proxy for a model", &[("huggingface_repo", "alice/x"), ("repo_type", "model"), ("create_proxy", "true")], 2, "only front a Space"),
        case("proxy for a dataset", &[("huggingface_repo", "alice/x"), ("repo_type", "dataset"), ("create_proxy", "true")], 2, "only front a Space"),
        case("proxy suffix with slash", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_space_suffix", "/p")], 2, "proxy_space_suffix"),
        case("proxy suffix with double dash", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_space_suffix", "--p")], 2, "proxy_space_suffix"),
        case("proxy suffix too long", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_space_suffix", "-ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp")], 2, "proxy_space_suffix"),
        case("proxy target ftp", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_target_url", "ftp://example.com")], 2, "http or https"),
        case("proxy target not a url", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_target_url", "not a url")], 2, "proxy_target_url"),
        case("proxy target with credentials", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_target_url", "https://user:pw@example.com")], 2, "credentials"),
        case("proxy origin with path", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_allow_origins", "https://a.example/path")], 2, "proxy_allow_origins"),
        case("proxy origins with empty item", &[("huggingface_repo", "alice/x"), ("create_proxy", "true"), ("proxy_allow_origins", "https://a.example,,https://b.example")], 2, "empty item"),
        case("revision with ..", &[("huggingface_repo", "alice/x"), ("revision", "bad..rev")], 2, "revision"),
        case("revision with space", &[("huggingface_repo", "alice/x"), ("revision", "has space")], 2, "revision"),
        case("revision starting with dash", &[("huggingface_repo", "alice/x"), ("revision", "-x")], 2, "revision"),
        case("invalid include glob", &[("huggingface_repo", "alice/x"), ("include", "[")], 2, "include"),
        case("invalid exclude glob", &[("huggingface_repo", "alice/x"), ("exclude", "a[b")], 2, "exclude"),
        case("commit title too long", long_title(), 2, "commit_message"),
        Case { env: &[("HF_ENDPOINT", "ftp://hub.example")], ..case("endpoint not http", &[("huggingface_repo", "alice/x")], 2, "HF_ENDPOINT") },
        Case { args: &["--hf-token=hf_in_argv_0123456789"], ..case("token flag refused", &[("huggingface_repo", "alice/x")], 2, "environment only") },
        Case { args: &["--frobnicate"], ..case("unknown flag", &[("huggingface_repo", "alice/x")], 2, "--frobnicate") },
        Case { src: Src::LfsPointer, ..case("git lfs pointer", &[("huggingface_repo", "alice/x")], 2, "lfs: true") },
        Case { src: Src::EscapingSymlink, ..case("symlink leaving source_dir", &[("huggingface_repo", "alice/x")], 2, "outside source_dir") },
        Case { src: Src::BadName, ..case("file name with a newline", &[("huggingface_repo", "alice/x")], 2, "control character") },
        Case { src: Src::Empty, ..case("source_dir with only .git", &[("huggingface_repo", "alice/x")], 2, "holds no files") },
        case("everything excluded", &[("huggingface_repo", "alice/x"), ("exclude", "*")], 2, "after include/exclude"),
        case("branch of a repo that does not exist", &[("huggingface_repo", "alice/x"), ("revision", "dev")], 2, "deploy to main first"),
        Case { token: None, ..case("token missing", &[("huggingface_repo", "alice/x")], 3, "HF_TOKEN is not set") },
        Case { token: Some("hf_not_a_real_token_0000"), ..case("token invalid", &[("huggingface_repo", "alice/x")], 3, "refused HF_TOKEN") },
        Case { token: Some(BOB_READ), ..case("read-only token", &[("huggingface_repo", "bob/x")], 3, "read-only") },
        case("another user's namespace", &[("huggingface_repo", "bob/x")], 3, "no write access"),
        Case { token: Some(CAROL_FREE), ..case("free plan gradio space", &[("huggingface_repo", "carol/x"), ("space_sdk", "gradio")], 3, "paid") },
        Case { token: Some(CAROL_FREE), ..case("free plan docker space", &[("huggingface_repo", "carol/x"), ("space_sdk", "docker")], 3, "static") },
    ]
}

fn make_source(src: Src, root: &std::path::Path) -> String {
    let dir = root.join("src");
    match src {
        Src::Missing => return root.join("nope").display().to_string(),
        Src::File => {
            std::fs::write(root.join("file.txt"), b"x").expect("write");
            return root.join("file.txt").display().to_string();
        }
        _ => {}
    }
    if let Src::Empty = src {
        std::fs::create_dir_all(dir.join(".git")).expect("mkdir");
        std::fs::write(dir.join(".git/HEAD"), b"ref").expect("write");
        return dir.display().to_string();
    }
    write_tree(&dir, &[("app.py", b"print('hi')\n")]);
    match src {
        Src::LfsPointer => write_tree(
            &dir,
            &[(
                "model.bin",
                b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n",
            )],
        ),
        Src::EscapingSymlink => {
            std::fs::write(root.join("outside.txt"), b"secret").expect("write");
            std::os::unix::fs::symlink(root.join("outside.txt"), dir.join("leak.txt"))
                .expect("symlink");
        }
        Src::BadName => write_tree(&dir, &[("bad\nname.txt", b"x")]),
        _ => {}
    }
    dir.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_with_a_message_and_change_nothing() {
    let emu = emulator().await;
    let all = cases();
    assert!(
        all.len() >= 40,
        "the suite needs at least 40 cases, has {}",
        all.len()
    );
    let mut failures = Vec::new();
    for case in all {
        let scratch = tempfile::tempdir().expect("tempdir");
        let source_dir = make_source(case.src, scratch.path());
        let mut deploy = Deploy::new(emu.url(), case.token).input("source_dir", &source_dir);
        for (k, v) in case.inputs {
            deploy = deploy.input(k, v);
        }
        for (k, v) in case.env {
            deploy = deploy.env(k, v);
        }
        for a in case.args {
            deploy = deploy.arg(a);
        }
        let run = deploy.run().await;
        let text = format!("{}\n{}", run.stdout, run.stderr);
        if run.code != case.code || !text.contains(case.message) {
            failures.push(format!(
                "{}: exit {} (want {}), message should contain {:?}:\n{}",
                case.name, run.code, case.code, case.message, text
            ));
        }
        if !text.contains("::error") {
            failures.push(format!(
                "{}: no ::error:: annotation in GitHub mode",
                case.name
            ));
        }
        assert!(
            !text.contains("hf_in_argv_0123456789"),
            "{}: argv token echoed",
            case.name
        );
        if emu.mutation_count() != 0 {
            failures.push(format!(
                "{}: the emulator saw mutating requests: {:?}",
                case.name,
                emu.journal()
            ));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_are_one_object_with_the_exit_code() {
    let emu = emulator().await;
    // In GitHub mode too: annotations and masks go to stderr, stdout holds only the JSON object.
    let run = Deploy::new(emu.url(), Some(ALICE))
        .input("huggingface_repo", "alice/x")
        .input("repo_type", "kernel")
        .arg("--json")
        .run()
        .await;
    assert_eq!(run.code, 2);
    let value = run.json();
    assert_eq!(value["exit_code"], 2);
    assert!(value["error"]
        .as_str()
        .is_some_and(|e| e.contains("repo_type")));
    assert_eq!(emu.mutation_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_written_even_on_failure() {
    let emu = emulator().await;
    let run = Deploy::new(emu.url(), Some(ALICE))
        .input("huggingface_repo", "alice/x")
        .input("repo_type", "kernel")
        .run()
        .await;
    assert_eq!(run.code, 2);
    for key in [
        "repo_id",
        "repo_url",
        "space_url",
        "proxy_enabled",
        "proxy_repo_id",
        "proxy_url",
    ] {
        assert!(
            run.outputs.contains_key(key),
            "{key} missing: {:?}",
            run.outputs
        );
    }
    assert_eq!(run.outputs["proxy_enabled"], "false");
}
