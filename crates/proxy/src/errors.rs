//! Errors as small JSON responses. Messages are fixed strings: never the token, never upstream internals.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};

use crate::body::{full, Body};

/// Why the proxy answered itself instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyError {
    BadRequest(&'static str),
    BadPath,
    Unauthorized,
    OriginNotAllowed,
    PathNotAllowed,
    MethodNotAllowed,
    TooLarge,
    RequestTimeout,
    RateLimited { retry_after_secs: u64 },
    TooManyConnections,
    Unreachable,
    Timeout,
    Overloaded,
    NotFound,
}

impl ProxyError {
    pub fn status(self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) | ProxyError::BadPath => StatusCode::BAD_REQUEST,
            ProxyError::Unauthorized => StatusCode::UNAUTHORIZED,
            ProxyError::OriginNotAllowed | ProxyError::PathNotAllowed => StatusCode::FORBIDDEN,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::RateLimited { .. } | ProxyError::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ProxyError::Unreachable => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::NotFound => StatusCode::NOT_FOUND,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::BadPath => "bad_path",
            ProxyError::Unauthorized => "unauthorized",
            ProxyError::OriginNotAllowed => "origin_not_allowed",
            ProxyError::PathNotAllowed => "path_not_allowed",
            ProxyError::MethodNotAllowed => "method_not_allowed",
            ProxyError::TooLarge => "payload_too_large",
            ProxyError::RequestTimeout => "request_timeout",
            ProxyError::RateLimited { .. } => "rate_limited",
            ProxyError::TooManyConnections => "too_many_connections",
            ProxyError::Unreachable => "upstream_unreachable",
            ProxyError::Timeout => "upstream_timeout",
            ProxyError::Overloaded => "overloaded",
            ProxyError::NotFound => "not_found",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ProxyError::BadRequest(why) => why,
            ProxyError::BadPath => {
                "the path contains '..', '.', an encoded dot segment or a backslash"
            }
            ProxyError::Unauthorized => "a valid X-Proxy-Key header is required",
            ProxyError::OriginNotAllowed => "this origin is not allowed to call the proxy",
            ProxyError::PathNotAllowed => "this path is not allowed by the proxy's path preset",
            ProxyError::MethodNotAllowed => "this method is not supported by the proxy",
            ProxyError::TooLarge => "the request body is larger than the proxy allows",
            ProxyError::RequestTimeout => "the request body arrived too slowly",
            ProxyError::RateLimited { .. } => "too many requests, retry later",
            ProxyError::TooManyConnections => {
                "too many concurrent requests from this caller, retry later"
            }
            ProxyError::Unreachable => "the upstream Space could not be reached",
            ProxyError::Timeout => "the upstream Space did not answer in time",
            ProxyError::Overloaded => "the proxy has too many open connections, retry later",
            ProxyError::NotFound => "no such proxy path",
        }
    }

    /// The JSON body; `code` and `message` are fixed ASCII strings without quotes, so no escaping is needed.
    pub fn body(self) -> String {
        format!(
            "{{\"error\":\"{}\",\"message\":\"{}\",\"status\":{}}}",
            self.code(),
            self.message(),
            self.status().as_u16()
        )
    }

    pub fn response(self) -> Response<Body> {
        let mut resp = Response::new(full(self.body()));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            ProxyError::RateLimited { retry_after_secs } => {
                h.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            }
            // The connection is what the caller has too many of, or its body was left unread.
            ProxyError::TooManyConnections | ProxyError::RequestTimeout => {
                h.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::ProxyError;

    #[test]
    fn bodies_are_json_objects() {
        let e = ProxyError::Timeout;
        assert_eq!(e.status().as_u16(), 504);
        assert_eq!(
            e.body(),
            "{\"error\":\"upstream_timeout\",\"message\":\"the upstream Space did not answer in time\",\"status\":504}"
        );
        assert!(!ProxyError::BadPath.body().contains('\\'));
    }
}
