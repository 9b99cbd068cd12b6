//! Streaming bodies: the boxed body type, and `Guarded`, which wraps a body flowing through the proxy with
//! an idle timeout, a maximum lifetime, an optional byte cap (requests) and an optional origin rewriter
//! (responses). Frames are passed on as they arrive: nothing is buffered beyond the rewriter's carry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::limits::CallerSlot;
use crate::rewrite::Rewriter;
use crate::upstream::Lease;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type used on both sides of the proxy.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Why a guarded stream was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamError {
    Idle,
    Lifetime,
    TooLarge,
    TooSlow,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::Idle => "stream idle timeout",
            StreamError::Lifetime => "maximum stream lifetime reached",
            StreamError::TooLarge => "body larger than the configured cap",
            StreamError::TooSlow => "request body slower than the minimum rate",
        })
    }
}

impl std::error::Error for StreamError {}

/// Why the proxy cut a request body, so a failed upstream call can be answered for what it was (413, 408,
/// 400) instead of as an unreachable upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    None = 0,
    TooLarge = 1,
    TooSlow = 2,
    /// The client's own framing was bad (invalid chunked encoding) or it went away mid-body.
    ClientError = 3,
}

/// Shared between a request body and the forwarder.
#[derive(Clone, Default)]
pub(crate) struct CutFlag(Arc<AtomicU8>);

impl CutFlag {
    fn set(&self, why: Cut) {
        let _ = self
            .0
            .compare_exchange(0, why as u8, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub fn get(&self) -> Cut {
        match self.0.load(Ordering::SeqCst) {
            1 => Cut::TooLarge,
            2 => Cut::TooSlow,
            3 => Cut::ClientError,
            _ => Cut::None,
        }
    }
}

/// A request body must average `per_sec` bytes per second once its `grace` is over (Apache's
/// `mod_reqtimeout` MinRate): the deadline moves by one second for every `per_sec` bytes received.
struct MinRate {
    per_sec: u64,
    start: Instant,
    grace: Duration,
    seen: u64,
    timer: Pin<Box<Sleep>>,
}

impl MinRate {
    fn deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(self.seen as f64 / self.per_sec as f64);
        self.start + self.grace + earned
    }
}

pub(crate) struct Guarded {
    inner: Incoming,
    idle: Duration,
    /// Timers are armed the first time the body has to wait: a body whose frames are already there (most
    /// small responses) never allocates or registers one.
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// When the stream's maximum lifetime ends (counted from creation).
    lifetime_end: Option<Instant>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Request bodies: the byte cap.
    cap: Option<u64>,
    seen: u64,
    min_rate: Option<MinRate>,
    /// Request bodies: where the reason for a cut is recorded.
    cut: Option<CutFlag>,
    rewriter: Option<Rewriter>,
    /// Fired when the body has been read to its end (starts the time-to-first-byte clock).
    on_end: Option<tokio::sync::oneshot::Sender<()>>,
    /// Kept until the body is dropped, after `inner` (fields drop in order): the upstream connection goes
    /// back to the pool only once its response was read, and the caller's concurrency slot lasts as long
    /// as the response.
    _hold: Option<(Lease, Option<CallerSlot>)>,
    done: bool,
}

impl Guarded {
    pub fn new(inner: Incoming, idle: Duration, lifetime: Option<Duration>) -> Guarded {
        Guarded {
            inner,
            idle,
            idle_timer: None,
            lifetime_end: lifetime.map(|d| Instant::now() + d),
            deadline: None,
            cap: None,
            seen: 0,
            min_rate: None,
            cut: None,
            rewriter: None,
            on_end: None,
            _hold: None,
            done: false,
        }
    }

    /// Marks this as a request body: cuts are recorded in `cut`, and it may not exceed `limit` bytes.
    pub fn with_cap(mut self, limit: u64, cut: CutFlag) -> Guarded {
        self.cap = Some(limit);
        self.cut = Some(cut);
        self
    }

    /// `per_sec` of 0 turns the minimum rate off.
    pub fn with_min_rate(mut self, per_sec: u64, grace: Duration) -> Guarded {
        if per_sec > 0 {
            let start = Instant::now();
            self.min_rate = Some(MinRate {
                per_sec,
                start,
                grace,
                seen: 0,
                timer: Box::pin(tokio::time::sleep_until(start + grace)),
            });
        }
        self
    }

    pub fn with_end_signal(mut self, tx: tokio::sync::oneshot::Sender<()>) -> Guarded {
        self.on_end = Some(tx);
        self
    }

    pub fn with_rewriter(mut self, rewriter: Rewriter) -> Guarded {
        self.rewriter = Some(rewriter);
        self
    }

    pub fn holding(mut self, lease: Lease, slot: Option<CallerSlot>) -> Guarded {
        self._hold = Some((lease, slot));
        self
    }

    pub fn boxed(self) -> Body {
        BodyExt::boxed_unsync(self)
    }

    fn fail(&mut self, why: Cut, err: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        if let Some(c) = &self.cut {
            c.set(why);
        }
        Poll::Ready(Some(Err(err)))
    }
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(t) = this.idle_timer.as_mut() {
                        t.as_mut().reset(Instant::now() + this.idle);
                    }
                    let frame = match frame.into_data() {
                        Ok(data) => {
                            this.seen += data.len() as u64;
                            if this.cap.is_some_and(|limit| this.seen > limit) {
                                return this.fail(Cut::TooLarge, Box::new(StreamError::TooLarge));
                            }
                            if let Some(r) = this.min_rate.as_mut() {
                                r.seen = this.seen;
                                let at = r.deadline();
                                r.timer.as_mut().reset(at);
                            }
                            match this.rewriter.as_mut() {
                                Some(r) => {
                                    let out = r.push(&data);
                                    if out.is_empty() {
                                        // Everything went into the carry; wait for more input.
                                        continue;
                                    }
                                    Frame::data(out)
                                }
                                None => Frame::data(data),
                            }
                        }
                        Err(other) => other,
                    };
                    if this.inner.is_end_stream() {
                        if let Some(tx) = this.on_end.take() {
                            let _ = tx.send(());
                        }
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(e))) => {
                    // On a request body this is the client's fault (bad chunked framing, hang-up).
                    return this.fail(Cut::ClientError, Box::new(e));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if let Some(tx) = this.on_end.take() {
                        let _ = tx.send(());
                    }
                    if let Some(r) = this.rewriter.as_mut() {
                        let rest = r.finish();
                        if !rest.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(rest))));
                        }
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    let idle = this.idle;
                    let idle_timer = this
                        .idle_timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if idle_timer.as_mut().poll(cx).is_ready() {
                        return this.fail(Cut::TooSlow, Box::new(StreamError::Idle));
                    }
                    if let Some(r) = this.min_rate.as_mut() {
                        if r.timer.as_mut().poll(cx).is_ready() {
                            return this.fail(Cut::TooSlow, Box::new(StreamError::TooSlow));
                        }
                    }
                    if let Some(end) = this.lifetime_end {
                        let d = this
                            .deadline
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(end)));
                        if d.as_mut().poll(cx).is_ready() {
                            return this.fail(Cut::TooSlow, Box::new(StreamError::Lifetime));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.rewriter.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.rewriter.is_some() {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}
