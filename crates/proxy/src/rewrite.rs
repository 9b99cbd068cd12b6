//! Origin rewriting: the private Space's origin becomes the proxy's public origin in `Location` and in
//! JSON, HTML and SSE bodies, so Gradio's absolute URLs (`root` in `/config`, file URLs) keep pointing at
//! the proxy.
//!
//! The body rewriter is a streaming search-and-replace. After each input chunk it emits everything except
//! the shortest tail that could still be the start of an origin (at most one origin's length), so memory
//! is bounded and an SSE event, which ends with a blank line, is never held back.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::{Origin, Target};

/// The byte patterns to replace, and their replacements.
#[derive(Debug)]
pub(crate) struct Patterns {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    first_bytes: [bool; 256],
    max_len: usize,
}

impl Patterns {
    /// `https://host` and its JSON-escaped form `https:\/\/host`, plus the `wss://` forms.
    pub fn new(from: &Target, to: &Origin) -> Arc<Patterns> {
        let from_scheme = if from.https { "https" } else { "http" };
        let from_ws = if from.https { "wss" } else { "ws" };
        let to_scheme = to.scheme();
        let to_ws = if to.https { "wss" } else { "ws" };
        let mut pairs = Vec::new();
        for (fs, ts) in [(from_scheme, to_scheme), (from_ws, to_ws)] {
            for sep in ["://", ":\\/\\/"] {
                pairs.push((
                    format!("{fs}{sep}{}", from.authority).into_bytes(),
                    format!("{ts}{sep}{}", to.authority).into_bytes(),
                ));
            }
        }
        let mut first_bytes = [false; 256];
        let mut max_len = 0;
        for (p, _) in &pairs {
            first_bytes[p[0] as usize] = true;
            max_len = max_len.max(p.len());
        }
        Arc::new(Patterns {
            pairs,
            first_bytes,
            max_len,
        })
    }

    /// Replaces every origin in a complete value (used for `Location`).
    pub fn replace_all(self: &Arc<Self>, input: &[u8]) -> Vec<u8> {
        let mut r = Rewriter::new(Arc::clone(self));
        let mut out = r.push(input).to_vec();
        out.extend_from_slice(&r.finish());
        out
    }
}

/// Streaming replacer for one body.
pub(crate) struct Rewriter {
    patterns: Arc<Patterns>,
    carry: Vec<u8>,
}

impl Rewriter {
    pub fn new(patterns: Arc<Patterns>) -> Rewriter {
        Rewriter {
            patterns,
            carry: Vec::new(),
        }
    }

    /// Feeds a chunk; returns the bytes that are final.
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        let data: Vec<u8> = if self.carry.is_empty() {
            chunk.to_vec()
        } else {
            let mut d = std::mem::take(&mut self.carry);
            d.extend_from_slice(chunk);
            d
        };
        let p = &self.patterns;
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut i = 0;
        while i < data.len() {
            // Copy the run of bytes that cannot start a pattern in one go.
            match data[i..].iter().position(|b| p.first_bytes[*b as usize]) {
                None => {
                    out.extend_from_slice(&data[i..]);
                    break;
                }
                Some(skip) => {
                    out.extend_from_slice(&data[i..i + skip]);
                    i += skip;
                }
            }
            let rest = &data[i..];
            if let Some((from, to)) = p.pairs.iter().find(|(from, _)| rest.starts_with(from)) {
                out.extend_from_slice(to);
                i += from.len();
                continue;
            }
            if rest.len() < p.max_len && p.pairs.iter().any(|(from, _)| from.starts_with(rest)) {
                // Could be the start of an origin split across chunks: keep it for the next one.
                self.carry = rest.to_vec();
                break;
            }
            out.push(data[i]);
            i += 1;
        }
        Bytes::from(out)
    }

    /// End of input: whatever is left in the carry is not an origin.
    pub fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.carry))
    }
}

/// True for responses whose bodies may carry absolute URLs and that we can read: JSON, HTML, SSE, not
/// compressed.
pub(crate) fn is_rewritable(headers: &HeaderMap) -> bool {
    let encoded = headers
        .get(CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return false;
    }
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().as_bytes();
    let is = |m: &str| mime.eq_ignore_ascii_case(m.as_bytes());
    is("application/json")
        || mime.len() >= 5 && mime[mime.len() - 5..].eq_ignore_ascii_case(b"+json")
        || is("text/html")
        || is("text/event-stream")
}

/// Paths whose responses we never rewrite, so the caller's `Accept-Encoding` can pass through for them.
pub(crate) fn is_static_asset(path: &str) -> bool {
    const EXT: [&str; 16] = [
        ".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico",
        ".woff", ".woff2", ".wasm", ".mp4", ".ttf",
    ];
    let p = path.as_bytes();
    EXT.iter()
        .any(|e| p.len() >= e.len() && p[p.len() - e.len()..].eq_ignore_ascii_case(e.as_bytes()))
}

/// Rewrites an absolute `Location` that names the upstream; other hosts pass unchanged (never followed).
pub(crate) fn location(value: &HeaderValue, patterns: &Arc<Patterns>) -> Option<HeaderValue> {
    let out = patterns.replace_all(value.as_bytes());
    if out == value.as_bytes() {
        return None;
    }
    HeaderValue::from_bytes(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats() -> Arc<Patterns> {
        let t = Target {
            https: true,
            host: "alice-app.hf.space".into(),
            port: 443,
            authority: "alice-app.hf.space".into(),
            origin: "https://alice-app.hf.space".into(),
        };
        Patterns::new(
            &t,
            &Origin {
                https: true,
                authority: "alice-app-proxy.hf.space".into(),
            },
        )
    }

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<Bytes>) {
        let mut r = Rewriter::new(pats());
        let mut parts = Vec::new();
        for c in chunks {
            parts.push(r.push(c));
        }
        parts.push(r.finish());
        (parts.concat(), parts)
    }

    #[test]
    fn replaces_plain_escaped_and_ws() {
        let input = br#"{"root":"https://alice-app.hf.space","e":"https:\/\/alice-app.hf.space/x","w":"wss://alice-app.hf.space/q"}"#;
        let (out, _) = run(&[input]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"root":"https://alice-app-proxy.hf.space","e":"https:\/\/alice-app-proxy.hf.space/x","w":"wss://alice-app-proxy.hf.space/q"}"#
        );
    }

    #[test]
    fn split_across_every_boundary() {
        let input = b"data: {\"url\": \"https://alice-app.hf.space/file=a.png\"}\n\nhttps://other.example h";
        let expected = b"data: {\"url\": \"https://alice-app-proxy.hf.space/file=a.png\"}\n\nhttps://other.example h";
        for cut in 0..input.len() {
            let (out, _) = run(&[&input[..cut], &input[cut..]]);
            assert_eq!(out, expected.to_vec(), "cut at {cut}");
        }
        // One byte at a time.
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&chunks).0, expected.to_vec());
    }

    #[test]
    fn sse_event_is_not_held_back() {
        let mut r = Rewriter::new(pats());
        let out = r.push(b"data: {\"root\": \"https://alice-app.hf.space\"}\n\n");
        assert!(out.ends_with(b"\n\n"), "the whole event is emitted at once");
        assert!(r.carry.is_empty());
        // A short tail that starts like a pattern ('h', 'w') but cannot become one is not held back either.
        let out = r.push(b"data: hi\n\n");
        assert_eq!(&out[..], b"data: hi\n\n");
        let out = r.push(b"data: wow!");
        assert_eq!(&out[..], b"data: wow!");
        assert!(r.carry.is_empty());
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_rewritable(&h));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(!is_rewritable(&h));
        h.remove(CONTENT_ENCODING);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert!(!is_rewritable(&h));
        assert!(is_static_asset("/assets/index-abc.JS"));
        assert!(!is_static_asset("/config"));
    }

    #[test]
    fn location_other_host_untouched() {
        let p = pats();
        assert!(location(&HeaderValue::from_static("https://evil.example/x"), &p).is_none());
        assert_eq!(
            location(
                &HeaderValue::from_static("https://alice-app.hf.space/login"),
                &p
            )
            .unwrap(),
            "https://alice-app-proxy.hf.space/login"
        );
    }
}
