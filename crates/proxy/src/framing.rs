//! Request-smuggling guard. hyper already resolves ambiguous framing safely (it drops `Content-Length`
//! when `Transfer-Encoding` is present and merges identical duplicate `Content-Length`s), but it does so
//! before the handler can see it. The issue asks for such requests to be refused outright, so this
//! wrapper watches the bytes hyper reads and records which request head on the connection (by position)
//! carried `Content-Length` with `Transfer-Encoding`, or `Content-Length` twice. The handler answers that
//! request 400 and closes the connection.
//!
//! Only heads are judged: after each head the sniffer follows the message's own framing (`Content-Length`
//! bytes, or chunk sizes, data and trailers) and skips the body, so a body that looks like a head is data.
//! When the framing is something hyper refuses anyway, the sniffer stops (hyper closes the connection).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::header::HeaderMap;
use hyper::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes kept of each line: enough for `content-length: <20 digits>` and a chunk-size line.
const PREFIX: usize = 64;
/// No bad head seen (yet) on the connection.
pub(crate) const NO_BAD_HEAD: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line (empty lines are skipped, as hyper does).
    Idle,
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    Trailers,
    /// Framing hyper will refuse (and then close): nothing more to judge.
    Stopped,
}

/// Framing state for one connection.
pub(crate) struct Sniffer {
    state: State,
    line: [u8; PREFIX],
    line_len: usize,
    /// The whole line's length (only the first `PREFIX` bytes are kept).
    line_total: usize,
    /// Heads seen so far on the connection.
    heads: u64,
    content_lengths: u32,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    /// Position of the first ambiguous head, or `NO_BAD_HEAD`.
    bad: Arc<AtomicU64>,
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A chunk-size line: hex digits (leading zeros allowed, as hyper does; overflow refused), then optional
/// whitespace and `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let rest = trim(&line[digits..]);
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&line[..digits]).ok()?, 16).ok()
}

impl Sniffer {
    pub fn new(bad: Arc<AtomicU64>) -> Sniffer {
        Sniffer {
            state: State::Idle,
            line: [0; PREFIX],
            line_len: 0,
            line_total: 0,
            heads: 0,
            content_lengths: 0,
            content_length: None,
            transfer_encoding: false,
            chunked: false,
            bad,
        }
    }

    fn append(&mut self, part: &[u8]) {
        let take = (PREFIX - self.line_len).min(part.len());
        self.line[self.line_len..self.line_len + take].copy_from_slice(&part[..take]);
        self.line_len += take;
        self.line_total += part.len();
    }

    fn line_is_empty(&self) -> bool {
        self.line_total == 0 || (self.line_total == 1 && self.line[0] == b'\r')
    }

    fn header_line(&mut self) {
        let line = &self.line[..self.line_len];
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            self.content_lengths += 1;
            // A value longer than the kept prefix cannot be a valid length; hyper refuses it.
            self.content_length = if self.line_total <= PREFIX {
                parse_decimal(trim(value))
            } else {
                None
            };
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
            // hyper accepts a request body only when `chunked` is the last coding.
            let v = trim(value);
            self.chunked = self.line_total <= PREFIX
                && v.len() >= 7
                && v[v.len() - 7..].eq_ignore_ascii_case(b"chunked");
        }
    }

    fn end_of_head(&mut self) -> State {
        let index = self.heads - 1;
        if self.content_lengths > 1 || (self.content_lengths > 0 && self.transfer_encoding) {
            let _ =
                self.bad
                    .compare_exchange(NO_BAD_HEAD, index, Ordering::SeqCst, Ordering::SeqCst);
            return State::Stopped;
        }
        if self.transfer_encoding {
            return if self.chunked {
                State::ChunkSize
            } else {
                State::Stopped
            };
        }
        match (self.content_lengths, self.content_length) {
            (0, _) | (_, Some(0)) => State::Idle,
            (_, Some(n)) => State::Body(n),
            (_, None) => State::Stopped,
        }
    }

    fn end_line(&mut self) {
        let empty = self.line_is_empty();
        self.state = match self.state {
            State::Idle if empty => State::Idle,
            State::Idle => {
                self.heads += 1;
                self.content_lengths = 0;
                self.content_length = None;
                self.transfer_encoding = false;
                self.chunked = false;
                State::Head
            }
            State::Head if empty => self.end_of_head(),
            State::Head => {
                self.header_line();
                State::Head
            }
            State::ChunkSize => {
                // The size's digits must end inside the kept prefix (a long extension after them is fine).
                let kept = &self.line[..self.line_len];
                let cut_digits = self.line_total > PREFIX && kept.iter().all(u8::is_ascii_hexdigit);
                match parse_chunk_size(kept) {
                    _ if cut_digits => State::Stopped,
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Stopped,
                }
            }
            State::ChunkEnd if empty => State::ChunkSize,
            State::Trailers if empty => State::Idle,
            State::Trailers => State::Trailers,
            State::ChunkEnd | State::Body(_) | State::ChunkData(_) | State::Stopped => {
                State::Stopped
            }
        };
        self.line_len = 0;
        self.line_total = 0;
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Stopped => return,
                State::Body(n) | State::ChunkData(n) => {
                    let k = n.min(data.len() as u64);
                    data = &data[k as usize..];
                    let left = n - k;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => State::Idle,
                        (State::Body(_), _) => State::Body(left),
                        (_, 0) => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                }
                _ => match data.iter().position(|b| *b == b'\n') {
                    Some(nl) => {
                        self.append(&data[..nl]);
                        self.end_line();
                        data = &data[nl + 1..];
                    }
                    None => {
                        self.append(data);
                        return;
                    }
                },
            }
        }
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
    use hyper::header::{HeaderName, HeaderValue};

    /// The position of the first ambiguous head, if any.
    fn bad_head(chunks: &[&[u8]]) -> Option<u64> {
        let bad = Arc::new(AtomicU64::new(NO_BAD_HEAD));
        let mut s = Sniffer::new(bad.clone());
        for c in chunks {
            s.feed(c);
        }
        Some(bad.load(Ordering::SeqCst)).filter(|i| *i != NO_BAD_HEAD)
    }

    fn flagged(chunks: &[&[u8]]) -> bool {
        bad_head(chunks).is_some()
    }

    #[test]
    fn parsed_framing_checks() {
        let map = |pairs: &[(&HeaderName, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert_eq!(check_parsed(&map(&[])), Ok(()));
        assert_eq!(
            check_parsed(&map(&[(&TRANSFER_ENCODING, "chunked")])),
            Ok(())
        );
        assert_eq!(check_parsed(&map(&[(&CONTENT_LENGTH, "2")])), Ok(()));
        let cl_te = map(&[(&CONTENT_LENGTH, "2"), (&TRANSFER_ENCODING, "chunked")]);
        assert_eq!(check_parsed(&cl_te), Err(CL_TE));
        let twice = map(&[(&CONTENT_LENGTH, "2"), (&CONTENT_LENGTH, "2")]);
        assert_eq!(check_parsed(&twice), Err(DUP_CL));
        assert_eq!(
            check_parsed(&map(&[(&CONTENT_LENGTH, "2, 2")])),
            Err(DUP_CL)
        );
    }

    #[test]
    fn the_head_after_a_body_is_judged() {
        // The body ends exactly where a read ends, or inside one read with the next head behind it.
        let two = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(bad_head(&[two]), Some(1));
        let body_end = two.iter().position(|b| *b == b'G').unwrap();
        assert_eq!(bad_head(&[&two[..body_end], &two[body_end..]]), Some(1));
    }

    #[test]
    fn lines_longer_than_the_kept_prefix_split_across_reads() {
        // Only the first `PREFIX` bytes of a line are kept, however the line is cut into reads.
        let pad = "a".repeat(2 * PREFIX);
        let twice = format!(
            "POST / HTTP/1.1\r\nX-Long: {pad}\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi"
        );
        let once = format!("POST / HTTP/1.1\r\nX-Long: {pad}\r\nContent-Length: 2\r\n\r\nhi");
        for cut in 0..twice.len() {
            let b = twice.as_bytes();
            assert!(flagged(&[&b[..cut], &b[cut..]]), "cut {cut}");
        }
        for cut in 0..once.len() {
            let b = once.as_bytes();
            assert!(!flagged(&[&b[..cut], &b[cut..]]), "cut {cut}");
        }
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
        // Second request on a keep-alive connection: the second head is the bad one, not the first.
        assert_eq!(
            bad_head(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"]),
            Some(1)
        );
        let long = format!(
            "GET /{} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "a".repeat(5000)
        );
        assert!(flagged(&[long.as_bytes()]));
    }

    #[test]
    fn bodies_are_skipped_not_judged() {
        let inner: &[u8] = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        let head = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", inner.len());
        let mut all = head.clone().into_bytes();
        all.extend_from_slice(inner);
        all.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!flagged(&[&all]));
        for cut in 0..all.len() {
            assert!(!flagged(&[&all[..cut], &all[cut..]]), "cut {cut}");
        }
        // Chunked, with an extension and a trailer, then a bad head that is really a head.
        let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n".to_vec();
        chunked.extend_from_slice(format!("{:X};ext=1\r\n", inner.len()).as_bytes());
        chunked.extend_from_slice(inner);
        chunked.extend_from_slice(b"\r\n0\r\nX-Trailer: 1\r\n\r\n");
        assert!(!flagged(&[&chunked]));
        chunked.extend_from_slice(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        );
        assert_eq!(bad_head(&[&chunked]), Some(1));
        // Leading empty lines before a request line are skipped, as hyper does.
        assert_eq!(
            bad_head(&[
                b"\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"
            ]),
            Some(0)
        );
    }

    #[test]
    fn content_length_bodies_are_skipped_exactly() {
        let bad_next: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        let mut ok = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi".to_vec();
        ok.extend_from_slice(bad_next);
        assert_eq!(bad_head(&[&ok]), Some(1));
        // `+2` is no length hyper accepts (it closes the connection): the sniffer stops instead of guessing.
        let mut plus = b"POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\nhi".to_vec();
        plus.extend_from_slice(bad_next);
        assert_eq!(bad_head(&[&plus]), None);
        // The same split at every position: a body's length carries over reads.
        for cut in 0..ok.len() {
            assert_eq!(bad_head(&[&ok[..cut], &ok[cut..]]), Some(1), "cut {cut}");
        }
        // A coding other than chunked last is refused by hyper: the sniffer stops.
        let mut gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n".to_vec();
        gzip.extend_from_slice(bad_next);
        assert_eq!(bad_head(&[&gzip]), None);
        // A one-byte line inside a head is a header line, not the head's end (bare LF line endings).
        assert_eq!(
            bad_head(&[b"GET / HTTP/1.1\nA\nContent-Length: 1\nContent-Length: 1\n\n"]),
            Some(0)
        );
    }

    #[test]
    fn chunked_bodies_are_followed_exactly() {
        let bad_next: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        let head: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let with = |body: &[u8]| {
            let mut v = head.to_vec();
            v.extend_from_slice(body);
            v.extend_from_slice(bad_next);
            bad_head(&[&v])
        };
        // Two trailer lines: the next head is still the second request, not a third.
        assert_eq!(with(b"2\r\nhi\r\n0\r\nA: 1\r\nB: 2\r\n\r\n"), Some(1));
        // A long extension after the size is fine; a size whose digits run past the kept prefix is not
        // guessed at.
        let ext = format!("2;{}\r\nhi\r\n0\r\n\r\n", "e".repeat(100));
        assert_eq!(with(ext.as_bytes()), Some(1));
        let padded = format!("{}2\r\nhi\r\n0\r\n\r\n", "0".repeat(100));
        assert_eq!(with(padded.as_bytes()), None);
        // Exactly the kept prefix of digits (bare LF) is still read whole.
        let full = format!("{}2\nhi\r\n0\r\n\r\n", "0".repeat(PREFIX - 1));
        assert_eq!(with(full.as_bytes()), Some(1));
        // Data longer than its chunk size is bad framing hyper refuses: the sniffer stops.
        assert_eq!(with(b"2\r\nhiX\r\n0\r\n\r\n"), None);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a"), Some(26));
        assert_eq!(parse_chunk_size(b"1a ; x=y\r"), Some(26));
        assert_eq!(parse_chunk_size(b"zz"), None);
        assert_eq!(parse_chunk_size(b"1 2"), None);
        assert_eq!(parse_chunk_size(b"11111111111111111"), None);
        assert_eq!(parse_chunk_size(b"0000000000000000001a"), Some(26));
        assert_eq!(parse_chunk_size(b";x"), None);
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
