//! The accept loop: connection cap, HTTP/1.1 serving with upgrades, and graceful shutdown (stop
//! accepting, let in-flight requests finish for up to `DRAIN`, then close what is left).

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::{Config, MAX_HEADER_BYTES};
use crate::errors::ProxyError;
use crate::framing::{Sniffed, Sniffer, NO_BAD_HEAD};
use crate::handler::{self, Conn, State};
use crate::race::{race, Either};
use crate::timer::ConnTimer;

const DRAIN: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves once shutdown has been signalled (or the sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.is_ok();
}

/// Serves the proxy on `listener` until `shutdown` completes, then drains.
///
/// Returns an error only when the configuration cannot be turned into a running proxy (TLS setup).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve_boxed(config, listener, Box::pin(shutdown)).await
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Non-generic and boxed on purpose: the whole server (hyper's generic code included) is then compiled
/// once, in this crate, instead of in each crate that calls `serve` (it was ~10 s of the binary's build).
fn serve_boxed(
    config: Config,
    listener: TcpListener,
    shutdown: BoxFuture<'_, ()>,
) -> BoxFuture<'_, io::Result<()>> {
    Box::pin(serve_inner(config, listener, shutdown))
}

async fn serve_inner(
    config: Config,
    listener: TcpListener,
    mut shutdown: BoxFuture<'_, ()>,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let log = config.log.clone();
    let max_connections = config.max_connections;
    if config.public_origin.is_none() {
        log.line(
            "no PROXY_PUBLIC_ORIGIN or SPACE_HOST: the upstream's absolute URLs pass unchanged",
        );
    }
    let state = Arc::new(State::new(config, stop_rx.clone()).map_err(io::Error::other)?);
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut tasks = JoinSet::new();
    let flusher = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::log::FLUSH_EVERY);
            loop {
                tick.tick().await;
                log.flush();
            }
        })
    };

    loop {
        let accepted = match race(listener.accept(), shutdown.as_mut()).await {
            Either::Left(a) => a,
            Either::Right(()) => break,
        };
        while tasks.try_join_next().is_some() {}
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log.line(&format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tasks.spawn(async move {
                let body = ProxyError::Overloaded.body();
                let head = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let bad_head = Arc::new(AtomicU64::new(NO_BAD_HEAD));
        let io = Sniffed {
            io: stream,
            sniffer: Sniffer::new(Arc::clone(&bad_head)),
        };
        let timer = ConnTimer::new();
        let conn = Arc::new(Conn {
            state: Arc::clone(&state),
            timer: timer.clone(),
            peer_ip: peer.ip(),
            permit: Arc::new(permit),
            requests: AtomicU64::new(0),
            bad_head,
        });
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let service = service_fn(move |req| handler::handle(Arc::clone(&conn), req));
            let served = http1::Builder::new()
                .timer(timer)
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_header_size(MAX_HEADER_BYTES)
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut served = pin!(served);
            if let Either::Right(()) = race(served.as_mut(), stopped(&mut stop)).await {
                served.as_mut().graceful_shutdown();
                let _ = served.await;
            }
        });
    }

    drop(listener);
    log.line("shutting down: draining connections");
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tasks.abort_all();
        log.line("drain timeout: closed the remaining connections");
    }
    flusher.abort();
    log.flush();
    Ok(())
}
