//! Hub-style error responses: JSON `{"error"}` plus `X-Error-Code` / `X-Error-Message`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answer. `code` becomes `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`…).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Option<&'static str>,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
    pub json_extra: Option<serde_json::Map<String, serde_json::Value>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: None,
            message: message.into(),
            extra: Vec::new(),
            json_extra: None,
        }
    }
    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }
    pub fn field(mut self, key: &str, value: serde_json::Value) -> Self {
        self.json_extra
            .get_or_insert_with(serde_json::Map::new)
            .insert(key.to_string(), value);
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn invalid_token() -> Self {
        Self::unauthorized("Invalid credentials in Authorization header")
    }
    pub fn repo_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Repository not found").code("RepoNotFound")
    }
    pub fn revision_not_found(rev: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Invalid rev id: {rev}")).code("RevisionNotFound")
    }
    pub fn entry_not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message).code("EntryNotFound")
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.json_extra.unwrap_or_default();
        body.insert(
            "error".into(),
            serde_json::Value::String(self.message.clone()),
        );
        let mut resp = (self.status, axum::Json(serde_json::Value::Object(body))).into_response();
        let h = resp.headers_mut();
        if let Some(code) = self.code {
            h.insert("x-error-code", HeaderValue::from_static(code));
        }
        // Header values must be visible ASCII; replace anything else.
        let clean: String = self
            .message
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&clean) {
            h.insert("x-error-message", v);
        }
        for (name, value) in self.extra {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        resp
    }
}
