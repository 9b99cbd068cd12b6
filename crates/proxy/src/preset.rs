//! Path checks: normalisation (always on) and the optional Gradio allowlist (`PROXY_PATH_PRESET=gradio`).
//!
//! Normalisation percent-decodes the path up to three times and refuses it when any stage contains a
//! `.` or `..` segment, a backslash or a NUL byte. The path sent upstream is the caller's original one.

use std::borrow::Cow;

/// Path allowlist presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    Gradio,
}

/// Paths Gradio serves, matched exactly.
const GRADIO_EXACT: [&str; 9] = [
    "/",
    "/config",
    "/config/",
    "/info",
    "/info/",
    "/favicon.ico",
    "/theme.css",
    "/manifest.json",
    "/gradio_api",
];
/// Prefixes Gradio serves (Gradio 4 and 5 APIs, assets).
const GRADIO_PREFIX: [&str; 10] = [
    "/gradio_api/",
    "/queue/",
    "/call/",
    "/heartbeat/",
    "/upload",
    "/file=",
    "/assets/",
    "/static/",
    "/svelte/",
    "/custom_component/",
];

impl Preset {
    /// `path` is the normalised (decoded) path, `query` the decoded query.
    pub fn allows(self, path: &str, query: &str) -> bool {
        match self {
            Preset::Gradio => {
                let lower_path = path.to_ascii_lowercase();
                let lower_query = query.to_ascii_lowercase();
                // Gradio's proxy routes fetch other URLs; never let a caller reach them.
                if lower_path.contains("/proxy=")
                    || lower_path.contains("file=http")
                    || lower_query.contains("file=http")
                {
                    return false;
                }
                GRADIO_EXACT.contains(&path) || GRADIO_PREFIX.iter().any(|p| path.starts_with(p))
            }
        }
    }
}

/// Decodes `%XX` escapes once; invalid escapes are kept as they are.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn stage_is_bad(s: &[u8]) -> bool {
    s.contains(&b'\\')
        || s.contains(&0)
        || s.split(|b| *b == b'/')
            .any(|seg| seg == b"." || seg == b"..")
}

/// Returns the decoded path, or `Err` when it must be refused.
pub(crate) fn normalise(path: &str) -> Result<Cow<'_, str>, ()> {
    if !path.starts_with('/') {
        return Err(());
    }
    // Nothing to decode: the path is its own decoded form (no copy on the common path).
    if !path.contains('%') {
        return if stage_is_bad(path.as_bytes()) {
            Err(())
        } else {
            Ok(Cow::Borrowed(path))
        };
    }
    let mut stage = path.as_bytes().to_vec();
    for _ in 0..3 {
        if stage_is_bad(&stage) {
            return Err(());
        }
        let next = percent_decode(&stage);
        if next == stage {
            break;
        }
        stage = next;
    }
    if stage_is_bad(&stage) {
        return Err(());
    }
    Ok(Cow::Owned(String::from_utf8_lossy(&stage).into_owned()))
}

/// Decodes a query string for the preset's deny checks.
pub(crate) fn decode_query(q: &str) -> String {
    let once = percent_decode(q.as_bytes());
    String::from_utf8_lossy(&percent_decode(&once)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_traversal() {
        for bad in [
            "/a/../b",
            "/..",
            "/a/%2e%2e/b",
            "/a/%2E%2e/b",
            "/a/.%2e/b",
            "/a/%252e%252e/b",
            "/a\\b",
            "/a%5cb",
            "/a%255cb",
            "/./config",
            "/a/%00",
            "relative",
        ] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
        for ok in [
            "/",
            "/a..b",
            "/file=/tmp/x.png",
            "//evil.example/x",
            "/a%20b",
            "/%",
        ] {
            assert!(normalise(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn gradio() {
        let g = Preset::Gradio;
        for ok in [
            "/",
            "/config",
            "/info",
            "/gradio_api/queue/join",
            "/queue/data",
            "/call/predict",
            "/upload",
            "/upload_progress",
            "/file=/tmp/gradio/x.png",
            "/heartbeat/abc",
            "/assets/index.js",
        ] {
            assert!(g.allows(ok, ""), "{ok}");
        }
        for bad in [
            "/admin",
            "/proxy=https://x",
            "/gradio_api/proxy=https://x",
            "/file=http://169.254.169.254/",
            "/gradio_api/file=https://x",
            "//config",
            "/configx",
        ] {
            assert!(!g.allows(bad, ""), "{bad}");
        }
        assert!(!g.allows("/gradio_api/x", &decode_query("a=file%3Dhttp%3A//x")));
    }
}
