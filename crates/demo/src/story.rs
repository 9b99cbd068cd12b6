//! The demo's story: an in-process Hub emulator, a small private Space deployed with its proxy by the real
//! `hf-deploy deploy` (the library's command line, run by this binary as a child process pointed at the
//! emulator), the proxy started in process with the settings the deploy stored, one call through it, and a
//! second deploy that finds nothing to do. Nothing talks to huggingface.co.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde_json::Value;

use hf_deploy::{PROXY_TARGET_URL, PROXY_TOKEN_SECRET};

use crate::AS_HF_DEPLOY;

const USER: &str = "demo";
const TOKEN: &str = "hf_demo_write";
/// The proxy's own token: read-only, as the README recommends (so the deploy has nothing to warn about).
const PROXY_TOKEN: &str = "hf_demo_read";
const SPACE: &str = "demo/private-echo";

const APP_PY: &str = "import gradio as gr\n\n\
def echo(text: str) -> str:\n    return text\n\n\
gr.Interface(echo, \"text\", \"text\", title=\"Private echo\").launch()\n";
const REQUIREMENTS: &str = "gradio\n";
const README: &str =
    "# Private echo\n\nA private Space, reachable in public only through its proxy.\n";

/// The story goes to stderr; with `--json`, stdout gets one JSON object with the results.
struct Story {
    json: bool,
}

impl Story {
    fn say(&self, line: &str) {
        eprintln!("{line}");
    }
    fn step(&self, n: u32, title: &str) {
        eprintln!("\n{n}. {title}");
    }
    fn indented(&self, text: &str) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // The child already masks tokens; redact again in case a line echoes one.
            eprintln!(
                "   | {}",
                line.replace(TOKEN, "hf_***").replace(PROXY_TOKEN, "hf_***")
            );
        }
    }
}

/// Runs the demo; with `json`, one JSON object with the results goes to stdout.
pub async fn run(json: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let story = Story { json };
    story.say(
        "hf-deploy-demo: everything below runs on this machine; nothing talks to huggingface.co.",
    );

    story.step(1, "A local Hub");
    let emu = hub_emulator::Emulator::builder()
        .user(USER, TOKEN, hub_emulator::Role::Write)
        .user(USER, PROXY_TOKEN, hub_emulator::Role::Read)
        .start()
        .await
        .context("starting the embedded Hub emulator")?;
    story.say(&format!(
        "   hub-emulator at {} with user {USER:?} (PRO plan; a write token to deploy, a read token for the proxy)",
        emu.url()
    ));

    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let app = work.path().join("app");
    write_app(&app)?;
    story.step(2, "A small app to deploy as a private Space");
    story.say(&format!(
        "   {}: app.py, requirements.txt, README.md",
        app.display()
    ));

    story.step(
        3,
        &format!(
            "hf-deploy deploy --huggingface-repo {SPACE} --private true --create-proxy true \
             (HF_TOKEN and HF_DEPLOY_PROXY_HF_TOKEN in the environment)"
        ),
    );
    // The Hub builds and runs the proxy Space's code; here the local Hub starts hf-space-proxy itself on the
    // Space's first request, with the settings the deploy wrote, so the deploy's own probe reaches it.
    let running: Arc<Mutex<Option<RunningProxy>>> = Arc::default();
    emu.set_space_app_runner(proxy_runner(Arc::clone(&running)));
    let first = deploy(emu.url(), &app, work.path()).await?;
    story.indented(&first.log);
    let first_json = first.result?;
    let commit = str_field(&first_json, "commit_sha");
    let space_url = str_field(&first_json, "space_url");
    let proxy_repo = str_field(&first_json, "proxy_repo_id");
    let proxy_space_url = str_field(&first_json, "proxy_url");
    story.say(&format!(
        "   → commit {}, private Space app at {space_url}",
        short(&commit)
    ));
    story.say(&format!(
        "   → proxy Space {proxy_repo} (public), app at {proxy_space_url}"
    ));

    story.step(4, "Calling the private Space directly, without a token");
    let (direct_status, _) = get(&format!("{space_url}/echo"), None).await?;
    story.say(&format!(
        "   GET {space_url}/echo → {direct_status} (refused: the Space is private)"
    ));

    story.step(
        5,
        "The proxy Space runs hf-space-proxy with the settings the deploy wrote",
    );
    let variables: BTreeMap<String, String> = emu.space_variables(&proxy_repo);
    let secret = emu
        .space_secret(&proxy_repo, PROXY_TOKEN_SECRET)
        .ok_or_else(|| anyhow!("the proxy Space has no {} secret", PROXY_TOKEN_SECRET))?;
    for (key, value) in &variables {
        story.say(&format!("   variable {key} = {value}"));
    }
    story.say(&format!(
        "   secret   {} = (hidden, {} characters)",
        PROXY_TOKEN_SECRET,
        secret.len()
    ));
    let proxy = running
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .ok_or_else(|| {
            anyhow!("the proxy Space's app never started (its probe did not reach it)")
        })?;
    story.say(&format!(
        "   hf-space-proxy serves the proxy Space's app URL {proxy_space_url} (locally {})",
        proxy.url
    ));

    story.step(
        6,
        "Calling the private Space through the proxy, as an anonymous caller",
    );
    let (proxy_status, body) = get(
        &format!("{}/echo?hello=world", proxy_space_url),
        Some("Bearer a-callers-own-token"),
    )
    .await?;
    let text = String::from_utf8_lossy(&body)
        .replace(TOKEN, "hf_***")
        .replace(PROXY_TOKEN, "hf_***");
    story.say(&format!(
        "   GET {}/echo?hello=world → {proxy_status}",
        proxy_space_url
    ));
    story.say(&format!("   {}", snippet(&text, 240)));
    for line in proxy.take_log() {
        story.say(&format!("   proxy log | {line}"));
    }
    let leaked = [TOKEN, PROXY_TOKEN]
        .iter()
        .any(|t| String::from_utf8_lossy(&body).contains(t));
    let caller_forwarded = text.contains("a-callers-own-token");
    story.say(&format!(
        "   the token {} in the response; the caller's own Authorization {} forwarded",
        if leaked { "APPEARS" } else { "does not appear" },
        if caller_forwarded { "WAS" } else { "was not" }
    ));

    story.step(7, "Deploying the same folder again");
    let before = emu.mutation_count();
    let second = deploy(emu.url(), &app, work.path()).await?;
    story.indented(&second.log);
    let second_json = second.result?;
    let writes = emu.mutation_count() - before;
    let second_changed = second_json
        .get("changed")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    story.say(&format!(
        "   → {} ({writes} writes to the Hub; the proxy Space was not touched)",
        if second_changed {
            "changed"
        } else {
            "already up to date: no commit, no rebuild"
        }
    ));
    for line in proxy.stop().await {
        story.say(&format!("   proxy log | {line}"));
    }

    let elapsed = started.elapsed();
    story.say(&format!("\nDone in {:.1} s.", elapsed.as_secs_f64()));
    if story.json {
        let out = serde_json::json!({
            "repo_id": SPACE,
            "commit_sha": commit,
            "space_url": space_url,
            "proxy_repo_id": proxy_repo,
            "proxy_url": proxy_space_url,
            "direct_status": direct_status,
            "proxy_status": proxy_status,
            "token_in_response": leaked,
            "second_deploy_changed": second_changed,
            "second_deploy_writes": writes,
            "seconds": elapsed.as_secs_f64(),
        });
        println!("{out}");
    }
    if proxy_status != 200 || leaked || caller_forwarded || second_changed || writes != 0 {
        bail!("the demo did not go as expected (see above)");
    }
    Ok(())
}

fn write_app(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, content) in [
        ("app.py", APP_PY),
        ("requirements.txt", REQUIREMENTS),
        ("README.md", README),
    ] {
        std::fs::write(dir.join(name), content).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

struct DeployRun {
    log: String,
    result: anyhow::Result<Value>,
}

/// Runs `hf-deploy deploy` against the emulator, the way the action runs it: inputs and token in the
/// environment (never argv), nothing inherited from the caller's environment except PATH. The child is this
/// binary in its `hf-deploy` mode (the library's own command line), so the demo needs no separately built
/// `hf-deploy` and cannot pick up a stale one.
async fn deploy(endpoint: &str, source: &Path, home: &Path) -> anyhow::Result<DeployRun> {
    // On Linux, /proc/self/exe runs this very binary even if a rebuild replaced the file meanwhile.
    let proc_exe = Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().context("locating the hf-deploy-demo binary")?
    };
    let out = tokio::process::Command::new(exe)
        .args([AS_HF_DEPLOY, "deploy", "--json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_TOKEN", TOKEN)
        .env("HF_DEPLOY_PROXY_HF_TOKEN", PROXY_TOKEN)
        .env("HF_DEPLOY_HUGGINGFACE_REPO", SPACE)
        .env("HF_DEPLOY_SPACE_SDK", "gradio")
        .env("HF_DEPLOY_PRIVATE", "true")
        .env("HF_DEPLOY_CREATE_PROXY", "true")
        .env("HF_DEPLOY_SOURCE_DIR", source)
        .env("HF_DEPLOY_WAIT_TIMEOUT", "30")
        .env("HF_DEPLOY_POLL_INTERVAL_MS", "20")
        .stdin(Stdio::null())
        .output()
        .await
        .context("running hf-deploy deploy")?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Option<Value> = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok());
    let result = match (out.status.success(), json) {
        (true, Some(v)) => Ok(v),
        (_, Some(v)) if v.get("error").is_some() => Err(anyhow!(
            "hf-deploy deploy failed (exit {}): {}",
            out.status.code().unwrap_or(-1),
            v["error"].as_str().unwrap_or("")
        )),
        _ => Err(anyhow!(
            "hf-deploy deploy failed (exit {})",
            out.status.code().unwrap_or(-1)
        )),
    };
    Ok(DeployRun { log, result })
}

struct RunningProxy {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The proxy's log lines, shown under the step that caused them instead of whenever stderr flushes.
    log: Arc<Mutex<Vec<String>>>,
}

impl RunningProxy {
    /// The log lines written since the last call.
    fn take_log(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    async fn stop(self) -> Vec<String> {
        let RunningProxy {
            stop, task, log, ..
        } = self;
        let _ = stop.send(());
        let _ = task.await;
        log.lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

async fn start_proxy(
    variables: &BTreeMap<String, String>,
    secret: &str,
) -> anyhow::Result<RunningProxy> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the proxy's port")?;
    let addr = listener
        .local_addr()
        .context("reading the proxy's address")?;
    let origin = format!("http://{addr}");
    let listen = addr.to_string();
    let mut env: Vec<(&str, &str)> = variables
        .iter()
        .filter(|(k, _)| k.starts_with("PROXY_"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push((PROXY_TOKEN_SECRET, secret));
    env.push(("PROXY_LISTEN", &listen));
    env.push(("PROXY_PUBLIC_ORIGIN", &origin));
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = {
        let log = Arc::clone(&log);
        Arc::new(move |line: &str| {
            if let Ok(mut lines) = log.lock() {
                lines.push(line.to_string());
            }
        })
    };
    let config = hf_space_proxy::Config::from_map(env)
        .map_err(|e| anyhow!("proxy configuration: {e}"))?
        .with_log_sink(sink);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = hf_space_proxy::serve(config, listener, async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(RunningProxy {
        url: origin,
        stop,
        task,
        log,
    })
}

/// Starts hf-space-proxy for a Space that holds proxy settings (the proxy Space), on its first request.
fn proxy_runner(slot: Arc<Mutex<Option<RunningProxy>>>) -> hub_emulator::AppRunner {
    Arc::new(move |run: hub_emulator::SpaceRun| {
        let slot = Arc::clone(&slot);
        Box::pin(async move {
            let secret = run.secrets.get(PROXY_TOKEN_SECRET)?;
            if !run.variables.contains_key(PROXY_TARGET_URL) {
                return None;
            }
            let proxy = start_proxy(&run.variables, secret).await.ok()?;
            let url = proxy.url.clone();
            if let Ok(mut s) = slot.lock() {
                *s = Some(proxy);
            }
            Some(url)
        })
    })
}

/// One GET; returns the status and body, whatever the status.
async fn get(url: &str, authorization: Option<&str>) -> anyhow::Result<(u16, Vec<u8>)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building an HTTP client")?;
    let mut request = client.get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    Ok((status, body.to_vec()))
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

fn snippet(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}
