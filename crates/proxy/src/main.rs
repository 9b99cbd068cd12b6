//! `hf-space-proxy`: reads `PROXY_*` from the environment, listens, serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let config = match hf_space_proxy::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hf-space-proxy: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread, like nginx's single worker: every request crosses two sockets and two hyper connections,
    // and on the multi-thread runtime those two tasks often ran on different workers, so each request paid
    // cross-thread wake-ups (eventfd writes, futexes) and work-stealing bookkeeping. One thread serves far
    // more than the private Space behind the proxy can; see bench/proxy/RESULTS.md.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hf-space-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: hf_space_proxy::Config) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(config.listen_addr()).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "hf-space-proxy: cannot listen on {}: {e}",
                config.listen_addr()
            );
            return ExitCode::FAILURE;
        }
    };
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hf-space-proxy: cannot install the SIGTERM handler: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !config.has_token() {
        eprintln!("hf-space-proxy: warning: PROXY_HF_TOKEN is not set; requests go upstream without a token");
    }
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    eprintln!("hf-space-proxy: forwarding to {}", config.target_origin());
    // One line on stdout, like the emulator, so scripts can learn the port when PROXY_LISTEN ends in :0.
    println!("listening on http://{local}");
    let shutdown = async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let _ = hf_space_proxy_race(term.recv(), ctrl_c).await;
    };
    match hf_space_proxy::serve(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hf-space-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for whichever signal comes first.
async fn hf_space_proxy_race<A: std::future::Future, B: std::future::Future>(a: A, b: B) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
