//! Request-smuggling guard. hyper already resolves ambiguous framing safely (it drops `Content-Length`
//! when `Transfer-Encoding` is present and merges identical duplicate `Content-Length`s), but it does so
//! before the handler can see it. The issue asks for such requests to be refused outright, so this
//! wrapper watches the bytes hyper reads and flags the connection when a request head carries
//! `Content-Length` with `Transfer-Encoding`, or `Content-Length` twice. The handler answers 400 and
//! closes the connection.
//!
//! It classifies lines only: a request line (`... HTTP/1.x`) opens a head, an empty line closes it. A
//! body that itself contains such a head can flag the connection too; that costs the caller one 400.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::header::HeaderMap;
use hyper::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PREFIX: usize = 24;
const SUFFIX: usize = 10;

/// Line classifier state for one connection.
pub(crate) struct Sniffer {
    prefix: [u8; PREFIX],
    prefix_len: usize,
    suffix: [u8; SUFFIX],
    suffix_len: usize,
    in_head: bool,
    content_lengths: u32,
    transfer_encoding: bool,
    bad: Arc<AtomicBool>,
}

impl Sniffer {
    pub fn new(bad: Arc<AtomicBool>) -> Sniffer {
        Sniffer {
            prefix: [0; PREFIX],
            prefix_len: 0,
            suffix: [0; SUFFIX],
            suffix_len: 0,
            in_head: false,
            content_lengths: 0,
            transfer_encoding: false,
            bad,
        }
    }

    fn append(&mut self, part: &[u8]) {
        let take = (PREFIX - self.prefix_len).min(part.len());
        self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&part[..take]);
        self.prefix_len += take;
        if part.len() >= SUFFIX {
            self.suffix.copy_from_slice(&part[part.len() - SUFFIX..]);
            self.suffix_len = SUFFIX;
        } else {
            let keep = (SUFFIX - part.len()).min(self.suffix_len);
            let mut s = [0u8; SUFFIX];
            s[..keep].copy_from_slice(&self.suffix[self.suffix_len - keep..self.suffix_len]);
            s[keep..keep + part.len()].copy_from_slice(part);
            self.suffix = s;
            self.suffix_len = keep + part.len();
        }
    }

    fn end_line(&mut self) {
        let mut suffix = &self.suffix[..self.suffix_len];
        if suffix.last() == Some(&b'\r') {
            suffix = &suffix[..suffix.len() - 1];
        }
        let prefix = &self.prefix[..self.prefix_len];
        let empty = prefix.is_empty() || prefix == b"\r";
        if empty {
            if self.in_head
                && (self.content_lengths > 1
                    || (self.content_lengths > 0 && self.transfer_encoding))
            {
                self.bad.store(true, Ordering::SeqCst);
            }
            self.in_head = false;
        } else if suffix.ends_with(b" HTTP/1.1") || suffix.ends_with(b" HTTP/1.0") {
            self.in_head = true;
            self.content_lengths = 0;
            self.transfer_encoding = false;
        } else if self.in_head {
            let lower: Vec<u8> = prefix.iter().map(u8::to_ascii_lowercase).collect();
            if lower.starts_with(b"content-length:") {
                self.content_lengths += 1;
            } else if lower.starts_with(b"transfer-encoding:") {
                self.transfer_encoding = true;
            }
        }
        self.prefix_len = 0;
        self.suffix_len = 0;
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        while let Some(nl) = data.iter().position(|b| *b == b'\n') {
            self.append(&data[..nl]);
            self.end_line();
            data = &data[nl + 1..];
        }
        self.append(data);
    }
}

/// The client connection, read through a `Sniffer`.
pub(crate) struct Sniffed<T> {
    pub io: T,
    pub sniffer: Sniffer,
}

impl<T: AsyncRead + Unpin> AsyncRead for Sniffed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            let this = &mut *self;
            this.sniffer.feed(&buf.filled()[before..]);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Sniffed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Framing checks on parsed headers (what survives hyper's parser): belt and braces.
pub(crate) fn check_parsed(h: &HeaderMap) -> Result<(), &'static str> {
    let cls: Vec<_> = h.get_all(CONTENT_LENGTH).iter().collect();
    if !cls.is_empty() && h.contains_key(TRANSFER_ENCODING) {
        return Err(CL_TE);
    }
    if cls.len() > 1 || cls.iter().any(|v| v.as_bytes().contains(&b',')) {
        return Err(DUP_CL);
    }
    Ok(())
}

pub(crate) const CL_TE: &str = "Content-Length together with Transfer-Encoding is refused";
pub(crate) const DUP_CL: &str = "more than one Content-Length is refused";
pub(crate) const AMBIGUOUS: &str = "ambiguous message framing (Content-Length with Transfer-Encoding, or Content-Length twice) is refused";

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(chunks: &[&[u8]]) -> bool {
        let bad = Arc::new(AtomicBool::new(false));
        let mut s = Sniffer::new(bad.clone());
        for c in chunks {
            s.feed(c);
        }
        bad.load(Ordering::SeqCst)
    }

    #[test]
    fn detects_ambiguous_heads() {
        let cl_te = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(flagged(&[cl_te]));
        for cut in 0..cl_te.len() {
            assert!(flagged(&[&cl_te[..cut], &cl_te[cut..]]), "cut {cut}");
        }
        assert!(flagged(&[
            b"POST / HTTP/1.1\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\nhi"
        ]));
        assert!(!flagged(&[
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
        ]));
        assert!(!flagged(&[
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        ]));
        // Second request on a keep-alive connection.
        assert!(flagged(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"]));
        let long = format!(
            "GET /{} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "a".repeat(5000)
        );
        assert!(flagged(&[long.as_bytes()]));
    }

    #[test]
    fn check_parsed_headers() {
        use hyper::header::HeaderValue;
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        assert!(check_parsed(&h).is_ok());
        h.append(CONTENT_LENGTH, HeaderValue::from_static("3"));
        assert!(check_parsed(&h).is_err());
    }
}
