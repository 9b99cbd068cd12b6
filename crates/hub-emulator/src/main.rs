//! `hub-emulator`: a local Hugging Face Hub. See `hub-emulator --help`.

use clap::Parser;
use hub_emulator::{Emulator, FaultRule, OrgSpec, UserSpec};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

const ABOUT: &str =
    "A local, stateful Hugging Face Hub that the official huggingface_hub client accepts.";

const LONG_ABOUT: &str = "\
A local, stateful Hugging Face Hub that the official huggingface_hub client accepts.
It backs hf-deploy's tests, the offline demo and the benchmarks.

Start it and point a client at the printed URL:

  hub-emulator --listen 127.0.0.1:0 --user alice:hf_alice_write:write --org acme:alice
  # prints: listening on http://127.0.0.1:PORT
  HF_ENDPOINT=http://127.0.0.1:PORT HF_TOKEN=hf_alice_write HF_HUB_DISABLE_XET=1 python my_script.py

Users, tokens, plans and orgs:
  --user NAME:TOKEN:ROLE[:PLAN]   ROLE is read or write; PLAN is pro (default) or free.
  --org ORG:MEMBER[,MEMBER...][:PLAN]   PLAN is team (default) or free.
  Several --user flags may name the same user (one token each). Without any --user the
  demo user `demo` with token `hf_demo_write` (write, pro) exists.
  Free accounts may only create static Spaces (402 otherwise, as on the Hub since July 2026).
  Private repos are invisible (404 RepoNotFound) to everyone outside their namespace; read
  tokens cannot change anything (403).

Spaces:
  Every Space gets its own loopback listener; Space info `host` is http://127.0.0.1:PORT. A
  private Space answers only with a read-capable token in `Authorization: Bearer` or
  `X-HF-Authorization: Bearer`; X-HF-Authorization is stripped and the peer appended to
  X-Forwarded-For. Built-in app routes: /echo, /sse?n=&interval_ms=, /ws, /download?bytes=N,
  /slow?ms=N, /redirect?to=URL, /config (Gradio-like, absolute URLs from X-Forwarded-Host).
  A commit puts a Space in BUILDING; after --build-polls runtime reads it becomes RUNNING, or
  CONFIG_ERROR (README without sdk), NO_APP_FILE (docker without Dockerfile, static without
  index.html, gradio without app.py) or BUILD_ERROR (a file named BUILD_ERROR in the repo).
  A Space is created with sdk gradio, docker or static; sdk streamlit answers 400 with the way
  to Docker (the Hub deprecated that SDK), while a README saying sdk: streamlit still builds.

Faults (--fault SPEC, repeatable; or POST /_emulator/faults {\"spec\": SPEC}):
  SPEC = [METHOD] PATH ACTION [OPTION]...
  METHOD  GET, PUT, ... or * (default any)
  PATH    starts with /; a prefix, or a glob when it contains * (* also matches /)
  ACTION  a 4xx/5xx status (429, 500, 502, 503...), drop (close the connection without an
          answer) or delay=MS (wait, then answer normally)
  OPTION  retry-after=S, first=N (first N matching requests), every=K (every Kth),
          p=F seed=N (seeded probability, reproducible), times=N (fire at most N times)
          land-then-STATUS or land-then-drop (handle the request; when it changed state,
          e.g. a commit landed, answer STATUS anyway or drop the connection)
  Examples: --fault 'PUT /_lfs/ 503 first=2'   --fault 'POST /api/*/commit/* drop every=3'
            --fault 'POST /api/*/commit/* land-then-500 p=0.3 seed=42'
            --fault '* /api/ 429 retry-after=1 p=0.3 seed=42'   --fault 'GET /api/whoami-v2 delay=500'

The Hub at its worst (realistic by default: --build-lag-ms 200, --settings-restart true,
--hub-accounts true, --stale-reads-ms 200, --commit-max-ops 25000, --commit-timeout-ms 60000;
the others off): --build-lag-ms, --build-ms, --settings-restart, --commit-max-ops,
--commit-timeout-ms, --commit-lands-then-fails, --stale-reads-ms, --latency-ms, --bandwidth,
--hub-accounts; and the land-then-* fault actions. The ideal Hub: --build-lag-ms 0
--settings-restart false --hub-accounts false --stale-reads-ms 0 --commit-max-ops 0
--commit-timeout-ms 0.

Downloads: GET|HEAD /{prefix}NS/NAME/resolve/REV/PATH serves the content (LFS files with
X-Linked-Size and X-Linked-Etag), /raw/REV/PATH the git blob (an LFS file's pointer); both
answer a single Range: bytes=A-B (A-, -N) with 206 and Content-Range, past the end 416.

Control API (unauthenticated, for tests): GET|DELETE /_emulator/journal (entries: method,
path without query, status, mutating, bytes_in), POST|GET|DELETE /_emulator/faults,
GET /_emulator/spaces/NS/NAME/secrets (and /variables), POST /_emulator/spaces/NS/NAME/upstream
{\"url\": ...} (forward the Space's app to a real server), POST
/_emulator/repos/TYPE/NS/NAME/created_at {\"createdAt\": RFC3339}, GET /_emulator/token-leaks,
GET /_emulator/repos/TYPE/NS/NAME/refs/BRANCH ({\"commit\": ID}: the real head, never stale).

SIGTERM or SIGINT stop it.";

#[derive(Parser, Debug)]
#[command(name = "hub-emulator", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A user and its token: NAME:TOKEN:ROLE[:PLAN] (role read|write, plan pro|free). Repeatable.
    // Parsed after clap, so that a bad value's token is never echoed in the error.
    #[arg(long = "user", value_name = "NAME:TOKEN:ROLE[:PLAN]")]
    users: Vec<String>,
    /// An org and its members: ORG:MEMBER[,MEMBER...][:PLAN] (plan team|free). Repeatable.
    #[arg(long = "org", value_name = "ORG:MEMBERS[:PLAN]")]
    orgs: Vec<OrgSpec>,
    /// Store LFS objects in DIR/lfs (default: a temp dir, under /dev/shm when available, removed
    /// at exit). Upload bodies are streamed to a file while hashed, never held whole in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Inject faults; see SPEC above. Repeatable.
    #[arg(long = "fault", value_name = "SPEC", value_parser = FaultRule::parse)]
    faults: Vec<FaultRule>,
    /// Runtime reads a Space stays BUILDING after a commit or restart.
    #[arg(long, default_value_t = 1, value_name = "N")]
    build_polls: u32,
    /// Entries per page of the tree API (the Hub uses 1000).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    tree_page_size: usize,
    /// Repos per page of /api/models|datasets|spaces.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    list_page_size: usize,
    /// LFS objects larger than this many bytes get multipart uploads when the client offers them.
    #[arg(long, default_value_t = 10 * 1024 * 1024, value_name = "BYTES")]
    multipart_threshold: u64,
    /// Part size of multipart uploads.
    #[arg(long, default_value_t = 5 * 1024 * 1024, value_name = "BYTES")]
    multipart_chunk_size: u64,
    /// Build lag: after a commit, create, restart or settings restart, the runtime keeps the
    /// previous settled stage (old RUNNING, or NO_APP_FILE of a new Space) this long before
    /// BUILDING shows. 0 = off.
    #[arg(long, default_value_t = hub_emulator::DEFAULT_BUILD_LAG_MS, value_name = "MS")]
    build_lag_ms: u64,
    /// A build lasts at least this long once BUILDING shows (besides --build-polls). 0 = off.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    build_ms: u64,
    /// Every secret or variable upsert/delete restarts the Space, as on the Hub (journaled with
    /// restart "settings"; POST .../restart is journaled with restart "api").
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true")]
    settings_restart: bool,
    /// Commits with more than N operations answer 504 Gateway Time-out and do not land (the
    /// official client documents 25k LFS files per commit). 0 = no limit.
    #[arg(long, default_value_t = hub_emulator::DEFAULT_COMMIT_MAX_OPS, value_name = "N")]
    commit_max_ops: usize,
    /// Commits whose handling (body upload included) takes longer than this land, then answer
    /// 504 (an estimate of the Hub's proxy timeout). 0 = off.
    #[arg(long, default_value_t = hub_emulator::DEFAULT_COMMIT_TIMEOUT_MS, value_name = "MS")]
    commit_timeout_ms: u64,
    /// For this long after a commit, repo info, revision/main and tree listings of main still
    /// show the previous head, like the Hub's CDN. 0 = off.
    #[arg(long, default_value_t = hub_emulator::DEFAULT_STALE_READS_MS, value_name = "MS")]
    stale_reads_ms: u64,
    /// Latency added to every Hub request (API and LFS transfers). 0 = off.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,
    /// Cap on each request and response body, per body: bytes/s, or 200mbit, 25MB, 10MiB...
    #[arg(long, value_name = "RATE", value_parser = hub_emulator::parse_bandwidth)]
    bandwidth: Option<u64>,
    /// Commits land, then fail: OPTS = [STATUS|drop] [p=F seed=N|first=N|every=K|times=N]
    /// (default status 500), e.g. 'p=0.3 seed=42' or 'drop p=0.3 seed=42'. Shorthand for
    /// --fault 'POST /api/*/commit/* land-then-STATUS OPTIONS'. Repeatable.
    #[arg(long = "commit-lands-then-fails", value_name = "OPTS", value_parser = FaultRule::commit_lands_then_fails)]
    commit_lands_then_fails: Vec<FaultRule>,
    /// Hub-shaped accounts: whoami has no user-level plan (only isPro), and free accounts may
    /// create Gradio Spaces with hardware zero-a10g (402 on cpu-basic).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true")]
    hub_accounts: bool,
    /// Xet storage, as on huggingface.co: the LFS batch answers `transfer: xet` to a client that
    /// offers it, `/api/{type}s/{id}/xet-{read,write}-token/{rev}` hand out CAS tokens, and the
    /// CAS (xet-core's local server) answers at the emulator's own address under /xet-cas/ID.
    /// `--xet false` leaves only the basic and multipart LFS transfers.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true")]
    xet: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut b = Emulator::builder()
        .listen(cli.listen)
        .build_polls(cli.build_polls)
        .tree_page_size(cli.tree_page_size)
        .list_page_size(cli.list_page_size)
        .multipart(cli.multipart_threshold, cli.multipart_chunk_size)
        .build_lag_ms(cli.build_lag_ms)
        .build_ms(cli.build_ms)
        .settings_restart(cli.settings_restart)
        .commit_timeout_ms(cli.commit_timeout_ms)
        .commit_max_ops(cli.commit_max_ops)
        .stale_reads_ms(cli.stale_reads_ms)
        .latency_ms(cli.latency_ms)
        .hub_accounts(cli.hub_accounts)
        .xet(cli.xet);
    if let Some(rate) = cli.bandwidth {
        b = b.bandwidth(rate);
    }
    for (i, raw) in cli.users.iter().enumerate() {
        match raw.parse::<UserSpec>() {
            Ok(u) => b = b.user_spec(u),
            Err(e) => {
                eprintln!("error: --user #{}: {e}", i + 1);
                std::process::exit(2);
            }
        }
    }
    for o in cli.orgs {
        b = b.org_spec(o);
    }
    if let Some(d) = cli.data_dir {
        b = b.data_dir(d);
    }
    for f in cli.faults.into_iter().chain(cli.commit_lands_then_fails) {
        b = b.fault(f);
    }
    // Install the handlers before announcing the URL, so a SIGTERM right after the line is clean.
    let signals = Signals::new()?;
    let emu = b.start().await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", emu.url())?;
        out.flush()?;
    }
    signals.wait().await;
    emu.shutdown().await;
    Ok(())
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
