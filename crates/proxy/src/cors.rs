//! CORS: preflights are answered by the proxy from `PROXY_ALLOW_ORIGINS`; the upstream's own CORS headers
//! are dropped (see `headers`) and replaced with ours.

use hyper::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use hyper::{Method, Response, StatusCode};

use crate::body::{empty, Body};
use crate::config::ConfigError;
use crate::errors::ProxyError;

const METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Which browser origins may call the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllowOrigins {
    Any,
    List(Vec<String>),
}

impl AllowOrigins {
    pub fn parse(v: &str) -> Result<AllowOrigins, ConfigError> {
        let items: Vec<String> = v
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() || items.iter().any(|s| s == "*") {
            return Ok(AllowOrigins::Any);
        }
        for o in &items {
            if !(o.starts_with("https://") || o.starts_with("http://"))
                || o.contains(char::is_whitespace)
            {
                return Err(ConfigError(format!(
                    "PROXY_ALLOW_ORIGINS: {o:?} is not an origin like https://example.com (or use *)"
                )));
            }
        }
        Ok(AllowOrigins::List(items))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            AllowOrigins::Any => true,
            AllowOrigins::List(list) => {
                let o = origin.as_bytes();
                list.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(o))
            }
        }
    }
}

/// Answers a CORS preflight locally; `None` when the request is not one.
pub(crate) fn preflight(
    method: &Method,
    headers: &HeaderMap,
    allow: &AllowOrigins,
) -> Option<Response<Body>> {
    if method != Method::OPTIONS || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let origin = headers.get(ORIGIN)?;
    if !allow.allows(origin) {
        return Some(ProxyError::OriginNotAllowed.response());
    }
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Some(req_headers) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, req_headers.clone());
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    decorate(h, Some(origin), allow);
    Some(resp)
}

/// WebSocket handshakes get no CORS check from browsers, so the proxy checks them itself: with an origin
/// list, a handshake whose `Origin` is neither listed nor the proxy's own (`own`) is refused (cross-site
/// WebSocket hijacking). No `Origin` (non-browser clients) passes.
pub(crate) fn upgrade_allowed(
    headers: &HeaderMap,
    allow: &AllowOrigins,
    own: Option<&str>,
) -> bool {
    match (allow, headers.get(ORIGIN)) {
        (AllowOrigins::Any, _) | (_, None) => true,
        (AllowOrigins::List(_), Some(o)) => {
            allow.allows(o)
                || own.is_some_and(|own| own.as_bytes().eq_ignore_ascii_case(o.as_bytes()))
        }
    }
}

/// Adds our CORS headers to a response for a request from `origin`.
pub(crate) fn decorate(h: &mut HeaderMap, origin: Option<&HeaderValue>, allow: &AllowOrigins) {
    match allow {
        AllowOrigins::Any => {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        AllowOrigins::List(_) => {
            h.append(VARY, HeaderValue::from_static("Origin"));
            if let Some(o) = origin.filter(|o| allow.allows(o)) {
                h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
                h.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(AllowOrigins::parse("*").unwrap(), AllowOrigins::Any);
        assert_eq!(
            AllowOrigins::parse("https://a.com/, https://b.com").unwrap(),
            AllowOrigins::List(vec!["https://a.com".into(), "https://b.com".into()])
        );
        assert!(AllowOrigins::parse("a.com").is_err());
    }

    #[test]
    fn preflight_list() {
        let allow = AllowOrigins::parse("https://a.com").unwrap();
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("https://a.com"));
        h.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        let r = preflight(&Method::OPTIONS, &h, &allow).unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.com"));
        assert_eq!(
            preflight(&Method::OPTIONS, &h, &allow).unwrap().status(),
            403
        );
        assert!(preflight(&Method::GET, &h, &allow).is_none());
    }

    #[test]
    fn websocket_origins() {
        let allow = AllowOrigins::parse("https://a.com").unwrap();
        let mut h = HeaderMap::new();
        assert!(upgrade_allowed(&h, &allow, None));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.com"));
        assert!(!upgrade_allowed(&h, &allow, Some("https://p.hf.space")));
        assert!(upgrade_allowed(&h, &AllowOrigins::Any, None));
        h.insert(ORIGIN, HeaderValue::from_static("https://p.hf.space"));
        assert!(upgrade_allowed(&h, &allow, Some("https://p.hf.space")));
        h.insert(ORIGIN, HeaderValue::from_static("https://a.com"));
        assert!(upgrade_allowed(&h, &allow, None));
    }
}
