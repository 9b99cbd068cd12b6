//! Link shaping: a fixed latency per request and a bytes-per-second cap on each request and
//! response body, so round trips and upload concurrency show in benchmarks as on a real link.
//!
//! The cap is per body (like one TCP stream limited by its window), not shared by all
//! connections: parallel uploads go faster in total, as they do against the Hub.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;

/// Bodies are paced in slices of at most this many bytes, so a large single chunk does not
/// arrive in one burst after a long pause.
const SLICE: usize = 64 * 1024;

/// Waits the configured per-request latency (nothing when 0).
pub async fn latency(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// `stream` paced at `rate` bytes per second: the Nth byte is released no earlier than N / rate
/// seconds after the first read.
pub fn throttle<S, E>(stream: S, rate: u64) -> impl Stream<Item = Result<Bytes, E>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Send + 'static,
{
    struct Pace<S> {
        inner: S,
        pending: Bytes,
        sent: u64,
        start: Option<Instant>,
    }
    let rate = rate.max(1) as f64;
    let state = Pace {
        inner: stream,
        pending: Bytes::new(),
        sent: 0,
        start: None,
    };
    futures::stream::unfold(state, move |mut p| async move {
        if p.pending.is_empty() {
            match p.inner.next().await? {
                Ok(b) => p.pending = b,
                Err(e) => return Some((Err(e), p)),
            }
        }
        let start = *p.start.get_or_insert_with(Instant::now);
        let slice = p.pending.split_to(p.pending.len().min(SLICE));
        p.sent += slice.len() as u64;
        tokio::time::sleep_until(start + Duration::from_secs_f64(p.sent as f64 / rate)).await;
        Some((Ok(slice), p))
    })
    // The entry point may poll a request body again after its end (draining leftovers).
    .fuse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_bytes_at_the_rate() {
        let chunks: Vec<Result<Bytes, ()>> = vec![Ok(Bytes::from(vec![0u8; 3000]))];
        let t = std::time::Instant::now();
        let out: Vec<Result<Bytes, ()>> = throttle(futures::stream::iter(chunks), 10_000)
            .collect()
            .await;
        let n: usize = out.iter().map(|b| b.as_ref().map_or(0, |b| b.len())).sum();
        assert_eq!(n, 3000);
        // 3000 bytes at 10 kB/s take 300 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(290),
            "{:?}",
            t.elapsed()
        );
    }
}
