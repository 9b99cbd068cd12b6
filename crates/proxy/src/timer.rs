//! One reusable timer per client connection, for the deadlines that come once per request: hyper's
//! header read timeout and the wait for the upstream's response head.
//!
//! A fresh `tokio::time::Sleep` per request is registered in tokio's timer wheel on its first poll and
//! removed again when dropped, and hyper's own timer also boxes it: a visible share of the per-request
//! cost. A timer that is kept and moved to a later deadline only updates the entry's expiry (the wheel
//! re-files it lazily when the old tick comes round), so a connection registers one timer, not two per
//! request. Requests on an HTTP/1.1 connection are sequential, so one timer serves both uses.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// A connection's timer. Cheap to clone (one `Arc`). One deadline at a time: two `Until`s awaited at
/// once would move the timer back and forth.
#[derive(Clone)]
pub(crate) struct ConnTimer(Arc<Mutex<Pin<Box<Sleep>>>>);

impl ConnTimer {
    pub fn new() -> ConnTimer {
        // Far in the future and not polled yet: not in the wheel until a deadline is first awaited.
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        ConnTimer(Arc::new(Mutex::new(Box::pin(tokio::time::sleep_until(
            far,
        )))))
    }

    /// Completes at `deadline`.
    pub fn until(&self, deadline: Instant) -> Until {
        Until {
            deadline,
            timer: Arc::clone(&self.0),
        }
    }
}

/// A deadline on a connection's timer.
pub(crate) struct Until {
    deadline: Instant,
    timer: Arc<Mutex<Pin<Box<Sleep>>>>,
}

impl Future for Until {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut sleep = match self.timer.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        // The timer may have been moved by another deadline on the same connection since the last poll.
        if sleep.deadline() != self.deadline {
            sleep.as_mut().reset(self.deadline);
        }
        sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.until(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.until(deadline.into()))
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

impl hyper::rt::Sleep for Until {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines_on_one_timer_fire_at_their_own_time() {
        let timer = ConnTimer::new();
        let start = Instant::now();
        timer.until(start + Duration::from_secs(5)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        // A later deadline (the next request's) after an earlier one fired.
        timer.until(start + Duration::from_secs(30)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        // A deadline polled, then abandoned, then an earlier one: the timer moves back, not only forward.
        let abandoned = tokio::time::timeout(
            Duration::from_secs(1),
            timer.until(start + Duration::from_secs(100)),
        );
        assert!(abandoned.await.is_err());
        timer.until(start + Duration::from_secs(40)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(40));
        // A deadline already past completes at once.
        timer.until(start).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn hyper_sleeps_use_the_connection_timer() {
        use hyper::rt::Timer;
        let timer = ConnTimer::new();
        let start = Instant::now();
        timer.sleep(Duration::from_secs(3)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
        let at = timer.now() + Duration::from_secs(2);
        timer.sleep_until(at).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
    }
}
