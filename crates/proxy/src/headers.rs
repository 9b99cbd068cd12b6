//! Header policy: what the proxy strips from requests and responses, and what it injects.

use std::sync::Arc;

use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, CONNECTION, COOKIE, HOST, LOCATION,
    ORIGIN, SET_COOKIE, UPGRADE,
};

use crate::config::Origin;
use crate::rewrite::{self, Patterns};

const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Hop-by-hop headers (RFC 9110 7.6.1, plus the legacy ones proxies still see).
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}

/// Caller headers that carry credentials or that the proxy sets itself (`Expect` is answered by the
/// proxy's own server side).
fn is_stripped_from_requests(name: &str) -> bool {
    matches!(
        name,
        "expect"
            | "authorization"
            | "x-hf-authorization"
            | "proxy-authorization"
            | "x-ip-token"
            | crate::limits::API_KEY_HEADER
            | "forwarded"
            | "x-forwarded-host"
            | "x-forwarded-proto"
    )
}

/// Removes every header whose name matches: one pass over the (few) headers present rather than one
/// lookup per candidate name.
fn remove_where(h: &mut HeaderMap, doomed: impl Fn(&str) -> bool) {
    let names: Vec<HeaderName> = h.keys().filter(|k| doomed(k.as_str())).cloned().collect();
    for name in names {
        h.remove(name);
    }
}

/// The cookie that carries a Space session; the caller's own must not reach the private Space.
const SPACES_JWT_COOKIE: &str = "spaces-jwt";
/// The signed-URL query parameter the Hub uses for Space sessions.
const SIGN_PARAM: &str = "__sign";

/// Header names listed in `Connection` (they are hop-by-hop for this message).
fn connection_listed(h: &HeaderMap) -> Vec<HeaderName> {
    h.get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

/// Removes the headers named in `Connection`, then hop-by-hop headers and whatever `also` matches.
fn strip_hop_by_hop(h: &mut HeaderMap, also: impl Fn(&str) -> bool) {
    if h.contains_key(CONNECTION) {
        for name in connection_listed(h) {
            h.remove(name);
        }
    }
    remove_where(h, |n| is_hop_by_hop(n) || also(n));
}

/// True when the request asks for a protocol upgrade (`Connection: upgrade` and an `Upgrade` header).
pub(crate) fn wants_upgrade(h: &HeaderMap) -> bool {
    let conn_upgrade = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    conn_upgrade && h.contains_key(UPGRADE)
}

/// True when `Upgrade` offers exactly one protocol, `websocket`. Only WebSocket is tunnelled: an `h2c` or
/// other upgrade would turn the connection into raw bytes that pass the path preset and the rate limiter.
pub(crate) fn is_websocket(h: &HeaderMap) -> bool {
    let mut values = h.get_all(UPGRADE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket"),
        _ => false,
    }
}

/// What the proxy adds to each upstream request.
pub(crate) struct Injected<'a> {
    pub host: &'a HeaderValue,
    /// The upstream's origin (`https://alice-app.hf.space`), for `Origin` rewriting.
    pub upstream_origin: &'a HeaderValue,
    pub token: Option<(&'a HeaderName, &'a HeaderValue)>,
    pub public: Option<&'a Origin>,
    /// `public`'s authority as a header value, built once at start-up.
    pub forwarded_host: Option<&'a HeaderValue>,
    pub upgrade: bool,
    /// Pass the caller's `Accept-Encoding` (static assets, never rewritten); else ask for `identity`.
    pub keep_encoding: bool,
}

pub(crate) fn prepare_request(h: &mut HeaderMap, inj: &Injected<'_>) {
    let upgrade_value = if inj.upgrade {
        h.get(UPGRADE).cloned()
    } else {
        None
    };
    strip_hop_by_hop(h, is_stripped_from_requests);
    if h.contains_key(COOKIE) {
        strip_cookie(h);
    }
    h.insert(HOST, inj.host.clone());
    if let Some((name, value)) = inj.token {
        h.insert(name.clone(), value.clone());
    }
    if let Some(o) = inj.public {
        if let Some(v) = inj.forwarded_host {
            h.insert(X_FORWARDED_HOST, v.clone());
        }
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static(o.scheme()));
        // The upstream sees its own name in `Host`; a browser on the proxy's page sends the proxy's origin.
        // Renaming it keeps the app's same-origin checks (Streamlit's WebSocket origin check, for one)
        // consistent. Other origins pass unchanged.
        if h.get(ORIGIN).is_some_and(|v| is_origin(v.as_bytes(), o)) {
            h.insert(ORIGIN, inj.upstream_origin.clone());
        }
    }
    if let Some(up) = upgrade_value {
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(UPGRADE, up);
    }
    if !inj.keep_encoding {
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
}

fn strip_cookie(h: &mut HeaderMap) {
    let kept: Vec<HeaderValue> = h
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| {
            let s = v.to_str().ok()?;
            let rest: Vec<&str> = s
                .split(';')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter(|pair| {
                    !pair
                        .split('=')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case(SPACES_JWT_COOKIE)
                })
                .collect();
            if rest.is_empty() {
                None
            } else {
                HeaderValue::from_str(&rest.join("; ")).ok()
            }
        })
        .collect();
    h.remove(COOKIE);
    for v in kept {
        h.append(COOKIE, v);
    }
}

/// True when `value` is exactly `scheme://authority` of `o` (ASCII case-insensitive).
fn is_origin(value: &[u8], o: &Origin) -> bool {
    let scheme = o.scheme().as_bytes();
    value.len() == scheme.len() + 3 + o.authority.len()
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
        && &value[scheme.len()..scheme.len() + 3] == b"://"
        && value[scheme.len() + 3..].eq_ignore_ascii_case(o.authority.as_bytes())
}

/// True when a query key is `__sign` once percent-decoded, in any case (`__%73ign`, `__SIGN`): the
/// spellings a server that decodes and folds case would read as the signed-session parameter. (`+` would
/// decode to a space, which `__sign` does not contain, so it needs no case of its own.)
fn is_sign_key(key: &str) -> bool {
    let key = key.as_bytes();
    let mut decoded = Vec::with_capacity(key.len());
    let mut i = 0;
    while i < key.len() {
        let hex = key
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (key[i], hex) {
            (b'%', Some(b)) => {
                decoded.push(b);
                i += 3;
            }
            (b, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    decoded.eq_ignore_ascii_case(SIGN_PARAM.as_bytes())
}

/// Removes `__sign` from a query string; `None` when nothing is left.
pub(crate) fn strip_sign(query: &str) -> Option<String> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| !is_sign_key(kv.split('=').next().unwrap_or("")))
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("&"))
    }
}

/// Cleans an upstream response's headers before they go to the caller.
pub(crate) fn clean_response(h: &mut HeaderMap, upgrade: bool, patterns: Option<&Arc<Patterns>>) {
    let upgrade_value = if upgrade {
        h.get(UPGRADE).cloned()
    } else {
        None
    };
    strip_hop_by_hop(h, |n| {
        n.starts_with("x-proxied-") || n.starts_with("access-control-")
    });
    if h.contains_key(SET_COOKIE) {
        // The private Space's session cookie is the upstream's credential, never the caller's.
        let cookies: Vec<HeaderValue> = h
            .get_all(SET_COOKIE)
            .iter()
            .filter(|v| !is_session_cookie(v))
            .map(strip_cookie_domain)
            .collect();
        h.remove(SET_COOKIE);
        for c in cookies {
            h.append(SET_COOKIE, c);
        }
    }
    if let Some(loc) = h.get(LOCATION).and_then(|v| v.to_str().ok()) {
        // A redirect can carry a signed session URL (`?__sign=`); the caller must not receive it.
        if let Some(clean) = strip_sign_from_url(loc) {
            match HeaderValue::from_str(&clean) {
                Ok(v) => h.insert(LOCATION, v),
                Err(_) => h.remove(LOCATION),
            };
        }
    }
    if let (Some(p), Some(loc)) = (patterns, h.get(LOCATION)) {
        if let Some(new) = rewrite::location(loc, p) {
            h.insert(LOCATION, new);
        }
    }
    if let Some(up) = upgrade_value {
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(UPGRADE, up);
    }
}

/// `Set-Cookie: spaces-jwt=…` (any case).
fn is_session_cookie(v: &HeaderValue) -> bool {
    let name = v.as_bytes().split(|b| *b == b'=').next().unwrap_or(b"");
    name.trim_ascii()
        .eq_ignore_ascii_case(SPACES_JWT_COOKIE.as_bytes())
}

/// The URL without its `__sign` query parameters; `None` when it has none.
fn strip_sign_from_url(url: &str) -> Option<String> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (path, query) = before_fragment.split_once('?')?;
    let kept = strip_sign(query);
    if kept.as_deref() == Some(query) {
        return None;
    }
    let mut out = path.to_owned();
    if let Some(q) = kept {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
}

/// Drops the `Domain` attribute so the cookie binds to the proxy's host.
fn strip_cookie_domain(v: &HeaderValue) -> HeaderValue {
    let Ok(s) = v.to_str() else { return v.clone() };
    let parts: Vec<&str> = s
        .split(';')
        .filter(|attr| !attr.trim().to_ascii_lowercase().starts_with("domain="))
        .map(str::trim)
        .collect();
    HeaderValue::from_str(&parts.join("; ")).unwrap_or_else(|_| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{AUTHORIZATION, TRANSFER_ENCODING};

    #[test]
    fn request_policy() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer hf_caller"));
        h.insert(
            "x-hf-authorization",
            HeaderValue::from_static("Bearer hf_caller"),
        );
        h.insert("x-ip-token", HeaderValue::from_static("ipt"));
        h.insert(COOKIE, HeaderValue::from_static("a=1; spaces-jwt=eyJ; b=2"));
        h.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(HOST, HeaderValue::from_static("evil.example"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        let host = HeaderValue::from_static("alice-app.hf.space");
        let upstream_origin = HeaderValue::from_static("https://alice-app.hf.space");
        h.insert(ORIGIN, HeaderValue::from_static("https://P.hf.space"));
        let tok = HeaderValue::from_static("Bearer hf_proxy");
        let name = HeaderName::from_static("x-hf-authorization");
        let public = Origin {
            https: true,
            authority: "p.hf.space".into(),
        };
        prepare_request(
            &mut h,
            &Injected {
                host: &host,
                upstream_origin: &upstream_origin,
                token: Some((&name, &tok)),
                public: Some(&public),
                forwarded_host: Some(&HeaderValue::from_static("p.hf.space")),
                upgrade: false,
                keep_encoding: false,
            },
        );
        assert!(!h.contains_key(AUTHORIZATION));
        assert_eq!(h["x-hf-authorization"], "Bearer hf_proxy");
        assert!(!h.contains_key("x-ip-token"));
        assert!(!h.contains_key("x-secret-hop"));
        assert!(!h.contains_key(CONNECTION));
        assert_eq!(h[COOKIE], "a=1; b=2");
        assert_eq!(h[HOST], "alice-app.hf.space");
        assert_eq!(h["x-forwarded-host"], "p.hf.space");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h[ACCEPT_ENCODING], "identity");
        assert_eq!(h["x-keep"], "1");
        assert_eq!(h[ORIGIN], "https://alice-app.hf.space");
    }

    #[test]
    fn sign_param() {
        assert_eq!(strip_sign("a=1&__sign=x&b=2").as_deref(), Some("a=1&b=2"));
        assert_eq!(strip_sign("%5F%5Fsign=x"), None);
        assert_eq!(strip_sign("a=1").as_deref(), Some("a=1"));
        for spelling in ["__%73ign", "__SIGN", "%5f%5FSiGn", "__sig%6E", "__sign"] {
            assert_eq!(
                strip_sign(&format!("{spelling}=x&k=v")).as_deref(),
                Some("k=v"),
                "{spelling}"
            );
        }
        // Not the parameter: other names, and a double encoding the server decodes only once.
        for other in ["__signs", "_sign", "%255F%255Fsign", "x__sign"] {
            let q = format!("{other}=x");
            assert_eq!(strip_sign(&q).as_deref(), Some(q.as_str()), "{other}");
        }
        assert_eq!(
            strip_sign_from_url("https://h/p?__sign=x&a=1#f").as_deref(),
            Some("https://h/p?a=1#f")
        );
        assert_eq!(strip_sign_from_url("/p?__SIGN=x").as_deref(), Some("/p"));
        assert_eq!(strip_sign_from_url("/p?a=1"), None);
        assert_eq!(strip_sign_from_url("/p"), None);
    }

    fn public() -> Origin {
        Origin {
            https: true,
            authority: "p.hf.space".into(),
        }
    }

    #[test]
    fn is_origin_matches_exactly_the_public_origin() {
        let o = public();
        for same in ["https://p.hf.space", "HTTPS://P.HF.SPACE"] {
            assert!(is_origin(same.as_bytes(), &o), "{same}");
        }
        for other in [
            // Same length as the public origin, another host.
            "https://q.hf.space",
            // Ends with the public host.
            "https://evil-p.hf.space",
            "https://xp.hf.space",
            // Same length, another scheme, then the public host.
            "httpx://p.hf.space",
            "http:/xp.hf.space",
            "https:/?p.hf.space",
            // Shorter than the scheme and separator.
            "https",
            "https:/",
            "",
            "http://p.hf.space",
        ] {
            assert!(!is_origin(other.as_bytes(), &o), "{other}");
        }
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn upgrade_needs_both_headers_and_only_websocket_is_tunnelled() {
        assert!(!wants_upgrade(&HeaderMap::new()));
        assert!(!wants_upgrade(&map(&[("connection", "upgrade")])));
        assert!(!wants_upgrade(&map(&[("upgrade", "websocket")])));
        assert!(!wants_upgrade(&map(&[
            ("connection", "keep-alive"),
            ("upgrade", "websocket")
        ])));
        assert!(wants_upgrade(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(wants_upgrade(&map(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c")
        ])));
        assert!(is_websocket(&map(&[("upgrade", "WebSocket")])));
        for bad in ["h2c", "websocket, h2c", "TLS/1.0", ""] {
            assert!(!is_websocket(&map(&[("upgrade", bad)])), "{bad}");
        }
        assert!(!is_websocket(&map(&[
            ("upgrade", "websocket"),
            ("upgrade", "h2c")
        ])));
        assert!(!is_websocket(&HeaderMap::new()));
    }

    #[test]
    fn upstream_session_cookie_is_dropped() {
        let mut h = map(&[
            ("set-cookie", "Spaces-JWT=eyJ; Path=/"),
            ("set-cookie", "route=1; Path=/"),
            ("location", "https://alice-app.hf.space/x?__sign=eyJ&y=1"),
        ]);
        clean_response(&mut h, false, None);
        let cookies: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, vec!["route=1; Path=/"]);
        assert_eq!(h[LOCATION], "https://alice-app.hf.space/x?y=1");
    }

    #[test]
    fn response_policy() {
        let mut h = HeaderMap::new();
        h.insert("x-proxied-host", HeaderValue::from_static("internal"));
        h.insert(
            "access-control-allow-origin",
            HeaderValue::from_static("https://evil"),
        );
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("route=abc; Domain=alice-app.hf.space; Path=/; Secure"),
        );
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        clean_response(&mut h, false, None);
        assert!(!h.contains_key("x-proxied-host"));
        assert!(!h.contains_key("access-control-allow-origin"));
        assert!(!h.contains_key(TRANSFER_ENCODING));
        assert_eq!(h[SET_COOKIE], "route=abc; Path=/; Secure");
    }
}
