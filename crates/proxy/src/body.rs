//! Streaming bodies: the boxed body type, and `Guarded`, which wraps a body flowing through the proxy with
//! an idle timeout, a maximum lifetime, an optional byte cap (requests) and an optional origin rewriter
//! (responses). Frames are passed on as they arrive: nothing is buffered beyond the rewriter's carry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::rewrite::Rewriter;

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
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::Idle => "stream idle timeout",
            StreamError::Lifetime => "maximum stream lifetime reached",
            StreamError::TooLarge => "body larger than the configured cap",
        })
    }
}

impl std::error::Error for StreamError {}

/// Byte cap on a request body; `tripped` tells the forwarder that a failed upstream call was our cut (413).
pub(crate) struct Cap {
    pub limit: u64,
    pub seen: u64,
    pub tripped: Arc<AtomicBool>,
}

pub(crate) struct Guarded {
    inner: Incoming,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    deadline: Option<Pin<Box<Sleep>>>,
    cap: Option<Cap>,
    rewriter: Option<Rewriter>,
    /// Fired when the body has been read to its end (starts the time-to-first-byte clock).
    on_end: Option<tokio::sync::oneshot::Sender<()>>,
    done: bool,
}

impl Guarded {
    pub fn new(inner: Incoming, idle: Duration, lifetime: Option<Duration>) -> Guarded {
        Guarded {
            inner,
            idle,
            idle_timer: Box::pin(tokio::time::sleep(idle)),
            deadline: lifetime.map(|d| Box::pin(tokio::time::sleep(d))),
            cap: None,
            rewriter: None,
            on_end: None,
            done: false,
        }
    }

    pub fn with_cap(mut self, cap: Cap) -> Guarded {
        self.cap = Some(cap);
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

    pub fn boxed(self) -> Body {
        BodyExt::boxed_unsync(self)
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
                    this.idle_timer.as_mut().reset(Instant::now() + this.idle);
                    let frame = match frame.into_data() {
                        Ok(data) => {
                            if let Some(cap) = this.cap.as_mut() {
                                cap.seen += data.len() as u64;
                                if cap.seen > cap.limit {
                                    cap.tripped.store(true, Ordering::SeqCst);
                                    this.done = true;
                                    return Poll::Ready(Some(Err(Box::new(StreamError::TooLarge))));
                                }
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
                    this.done = true;
                    return Poll::Ready(Some(Err(Box::new(e))));
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
                    if this.idle_timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        return Poll::Ready(Some(Err(Box::new(StreamError::Idle))));
                    }
                    if let Some(d) = this.deadline.as_mut() {
                        if d.as_mut().poll(cx).is_ready() {
                            this.done = true;
                            return Poll::Ready(Some(Err(Box::new(StreamError::Lifetime))));
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
