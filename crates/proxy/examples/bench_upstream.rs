//! A fast local upstream for `bench/proxy/run.sh`: `GET /` answers a 13-byte body, `GET /stream?bytes=N`
//! streams N bytes in 64 KiB frames. Prints `listening on http://ADDR` once bound.
//! Run: `cargo run --release --example bench_upstream -- 127.0.0.1:0`

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

struct Zeros(u64, Bytes);

impl hyper::body::Body for Zeros {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        let n = self.0.min(self.1.len() as u64);
        self.0 -= n;
        Poll::Ready(Some(Ok(Frame::data(self.1.slice(..n as usize)))))
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0)
    }
}

type B = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<B>, Infallible> {
    if req.uri().path() == "/stream" {
        let n = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("bytes="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0u64);
        return Ok(Response::new(
            Zeros(n, Bytes::from(vec![0u8; 64 * 1024])).boxed_unsync(),
        ));
    }
    let mut r = Response::new(Full::new(Bytes::from_static(b"hello, world\n")).boxed_unsync());
    r.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    Ok(r)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
