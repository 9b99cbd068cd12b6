//! WebSocket (and any HTTP/1.1 upgrade) tunnelling: after the upstream answers 101, both upgraded
//! connections are joined with a bidirectional byte copy. No WebSocket library: frames pass untouched.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::log::LogSink;
use crate::race::{race, Either};

/// Limits for one tunnel.
pub(crate) struct TunnelLimits {
    pub idle: Duration,
    pub lifetime: Duration,
}

/// Counts reads so the watchdog can tell an idle tunnel from a busy one.
struct Activity<T> {
    io: T,
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            let ms = self.start.elapsed().as_millis() as u64;
            self.last_ms.store(ms, Ordering::Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Waits for both upgrades, then copies bytes both ways until either side closes, the tunnel is idle for
/// `idle`, it reaches `lifetime`, or the server shuts down. `hold` is kept alive for the tunnel's life
/// (the connection-cap permit).
pub(crate) fn spawn_tunnel<H: Send + 'static>(
    client: OnUpgrade,
    upstream: OnUpgrade,
    limits: TunnelLimits,
    mut shutdown: watch::Receiver<bool>,
    log: LogSink,
    hold: H,
) {
    tokio::spawn(async move {
        let _hold = hold;
        let (client, upstream) = match (client.await, upstream.await) {
            (Ok(c), Ok(u)) => (c, u),
            _ => {
                log.line("websocket upgrade failed on one side; tunnel not opened");
                return;
            }
        };
        let start = Instant::now();
        let last_ms = Arc::new(AtomicU64::new(0));
        let mut a = Activity {
            io: TokioIo::new(client),
            start,
            last_ms: Arc::clone(&last_ms),
        };
        let mut b = Activity {
            io: TokioIo::new(upstream),
            start,
            last_ms: Arc::clone(&last_ms),
        };
        let watchdog = async {
            loop {
                let last = start + Duration::from_millis(last_ms.load(Ordering::Relaxed));
                let idle_at = last + limits.idle;
                let end_at = start + limits.lifetime;
                let now = Instant::now();
                if now >= idle_at || now >= end_at {
                    return;
                }
                tokio::time::sleep_until(idle_at.min(end_at)).await;
            }
        };
        let stop = async {
            let _ = race(watchdog, crate::server::stopped(&mut shutdown)).await;
        };
        match race(tokio::io::copy_bidirectional(&mut a, &mut b), stop).await {
            Either::Left(_) => {}
            Either::Right(()) => {
                log.line("websocket tunnel closed by idle timeout, lifetime or shutdown")
            }
        }
    });
}
