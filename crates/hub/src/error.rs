//! Errors of the Hub client. None of them ever carries the token: messages come
//! from the server (redacted) or from us, and URLs are stripped of their query.

/// Result alias used across the crate.
pub type Result<T, E = HubError> = std::result::Result<T, E>;

/// What went wrong talking to the Hub, classified by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// 401: the token is missing, invalid or expired.
    #[error("unauthorized (401): {message}")]
    Unauthorized { message: String },
    /// 403: the token is valid but may not do this.
    #[error("forbidden (403): {message}")]
    Forbidden { message: String },
    /// 404, with the Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
    #[error("not found (404{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    NotFound {
        code: Option<String>,
        message: String,
    },
    /// 409: the resource exists or a conflicting operation runs.
    #[error("conflict (409): {message}")]
    Conflict { message: String },
    /// 412: `parentCommit` is no longer the head of the branch.
    #[error("precondition failed (412): {message}")]
    PreconditionFailed { message: String },
    /// 402: the account's plan does not allow this (e.g. Gradio/Docker Spaces on a free plan).
    #[error("payment required (402): {message}")]
    PaymentRequired { message: String },
    /// Any other non-success status.
    #[error("HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The request never got an answer (connection refused/reset, timeout, TLS).
    #[error("network error: {message}")]
    Network { message: String },
    /// Reading a local file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The Hub answered something we cannot understand.
    #[error("invalid response from the Hub: {message}")]
    InvalidResponse { message: String },
    /// An upload through Xet failed (hf-xet has retried what it could).
    #[error("Xet upload failed: {message}")]
    Xet { message: String },
    /// The caller passed something the Hub would reject; nothing was sent.
    #[error("invalid input: {message}")]
    InvalidInput { message: String },
}

impl HubError {
    /// True for a 404 of any kind.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HubError::NotFound { .. })
    }

    /// True when retrying the same request later may succeed (408, 429, 5xx, network).
    pub fn is_retryable(&self) -> bool {
        match self {
            HubError::Network { .. } => true,
            HubError::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HubError::Unauthorized { .. } => Some(401),
            HubError::Forbidden { .. } => Some(403),
            HubError::NotFound { .. } => Some(404),
            HubError::Conflict { .. } => Some(409),
            HubError::PreconditionFailed { .. } => Some(412),
            HubError::PaymentRequired { .. } => Some(402),
            HubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Hub's `X-Error-Code`, when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            HubError::NotFound { code, .. } | HubError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Builds the error for a non-success answer.
    pub(crate) fn from_status(status: u16, code: Option<String>, message: String) -> HubError {
        match status {
            401 => HubError::Unauthorized { message },
            402 => HubError::PaymentRequired { message },
            403 => HubError::Forbidden { message },
            404 => HubError::NotFound { code, message },
            409 => HubError::Conflict { message },
            412 => HubError::PreconditionFailed { message },
            _ => HubError::Status {
                status,
                code,
                message,
            },
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> HubError {
        HubError::InvalidResponse {
            message: message.into(),
        }
    }
}
