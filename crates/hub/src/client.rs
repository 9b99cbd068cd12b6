//! The HTTP core: one `reqwest::Client`, the endpoint, the token, and the
//! send/retry/error-mapping loop every endpoint module goes through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{HubError, Result};
use crate::repo_id::RepoRef;
use crate::retry::{server_wait_hint, RetryPolicy};
use crate::token::Token;

/// `User-Agent` of every request.
pub(crate) const USER_AGENT: &str =
    concat!("hf-deploy/", env!("CARGO_PKG_VERSION"), "; hf_hub/compat");

/// Default parallel part uploads per multipart LFS object.
pub const DEFAULT_PART_CONCURRENCY: usize = 4;

/// A client for one Hub endpoint and one (optional) token. Cheap to clone.
#[derive(Clone)]
pub struct HubClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) endpoint_url: url::Url,
    pub(crate) token: Option<Token>,
    pub(crate) retry: RetryPolicy,
    pub(crate) part_concurrency: usize,
    pub(crate) on_retry: Option<RetryObserver>,
    /// Offer the `xet` transfer in LFS batches (on unless `HF_HUB_DISABLE_XET`).
    pub(crate) xet: bool,
}

/// Called before each retry, so the caller can say what failed and how long it waits.
pub type RetryObserver = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// One retry about to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNotice {
    /// What was being done (`whoami`, `commit`, …).
    pub what: String,
    /// The failure, already free of tokens.
    pub error: String,
    /// The try that failed (from 1), and how many retries the policy allows in all.
    pub attempt: u32,
    pub retries: u32,
    pub delay: Duration,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("endpoint", &self.inner.endpoint)
            .field("token", &self.inner.token)
            .finish()
    }
}

/// Which failures of a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryMode {
    /// Repeating has no extra effect: retry 408/429/5xx and network errors.
    Idempotent,
    /// Not idempotent (commit, restart): retry only when the server cannot have acted
    /// on it — the connection was never made, or it answered 429.
    NotProcessedOnly,
}

/// One failed try, with what the server said about waiting.
pub(crate) struct Failure {
    pub(crate) error: HubError,
    pub(crate) wait_hint: Option<Duration>,
    /// False when the request certainly never reached the server.
    pub(crate) maybe_processed: bool,
}

impl From<HubError> for Failure {
    fn from(error: HubError) -> Self {
        Failure {
            error,
            wait_hint: None,
            maybe_processed: true,
        }
    }
}

impl HubClient {
    /// A client for `endpoint` (e.g. `https://huggingface.co`; a trailing slash is removed).
    pub fn new(endpoint: &str, token: Option<Token>) -> Result<HubClient> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let endpoint_url = url::Url::parse(&endpoint).map_err(|e| HubError::InvalidInput {
            message: format!("endpoint {endpoint:?} is not a URL ({e}); set HF_ENDPOINT like https://huggingface.co"),
        })?;
        if !matches!(endpoint_url.scheme(), "http" | "https") || endpoint_url.host().is_none() {
            return Err(HubError::InvalidInput {
                message: format!(
                    "endpoint {endpoint:?} must be an http(s) URL like https://huggingface.co"
                ),
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(30))
            // Generous: a 5 MiB part on a slow link; small calls answer far sooner.
            .read_timeout(Duration::from_secs(300))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| HubError::InvalidInput {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HubClient {
            inner: Arc::new(Inner {
                http,
                endpoint,
                endpoint_url,
                token,
                retry: RetryPolicy::default(),
                part_concurrency: DEFAULT_PART_CONCURRENCY,
                on_retry: None,
                xet: true,
            }),
        })
    }

    /// The same client with another retry policy (tests use [`RetryPolicy::fast`]).
    pub fn with_retry_policy(&self, retry: RetryPolicy) -> HubClient {
        self.rebuild(|inner| inner.retry = retry)
    }

    /// The same client with another bound on parallel multipart part uploads (min 1).
    pub fn with_part_concurrency(&self, parts: usize) -> HubClient {
        self.rebuild(|inner| inner.part_concurrency = parts.max(1))
    }

    /// The same client, telling `observer` about every retry before it waits.
    pub fn with_retry_observer(&self, observer: RetryObserver) -> HubClient {
        self.rebuild(|inner| inner.on_retry = Some(observer))
    }

    /// The same client, offering the `xet` transfer to the LFS batch or not (the LFS transfers then
    /// carry every object, as `HF_HUB_DISABLE_XET=1` does for huggingface_hub).
    pub fn with_xet(&self, on: bool) -> HubClient {
        self.rebuild(|inner| inner.xet = on)
    }

    /// The same endpoint and settings with another token (e.g. to check a proxy token).
    pub fn with_token(&self, token: Option<Token>) -> HubClient {
        self.rebuild(|inner| inner.token = token)
    }

    fn rebuild(&self, change: impl FnOnce(&mut Inner)) -> HubClient {
        let mut inner = Inner {
            http: self.inner.http.clone(),
            endpoint: self.inner.endpoint.clone(),
            endpoint_url: self.inner.endpoint_url.clone(),
            token: self.inner.token.clone(),
            retry: self.inner.retry.clone(),
            part_concurrency: self.inner.part_concurrency,
            on_retry: self.inner.on_retry.clone(),
            xet: self.inner.xet,
        };
        change(&mut inner);
        HubClient {
            inner: Arc::new(inner),
        }
    }

    /// The endpoint, without trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// True when the client has a token.
    pub fn has_token(&self) -> bool {
        self.inner.token.is_some()
    }

    /// The repo's web page: `{endpoint}/[spaces/|datasets/]ns/name`.
    pub fn repo_url(&self, repo: &RepoRef) -> String {
        format!(
            "{}/{}{}",
            self.inner.endpoint,
            repo.repo_type.url_prefix(),
            repo.id
        )
    }

    /// `{endpoint}/api/{path}`.
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}/api/{}", self.inner.endpoint, path)
    }

    /// `{endpoint}/api/{types}/{ns}/{name}{suffix}`.
    pub(crate) fn repo_api_url(&self, repo: &RepoRef, suffix: &str) -> String {
        format!(
            "{}/api/{}/{}{}",
            self.inner.endpoint,
            repo.repo_type.api_plural(),
            repo.id,
            suffix
        )
    }

    /// Rewrites `https://huggingface.co/...` hrefs to the configured endpoint, like
    /// the Python client, so an emulator or mirror keeps the traffic.
    pub(crate) fn fix_endpoint(&self, href: &str) -> String {
        const HUB: &str = "https://huggingface.co";
        match href.strip_prefix(HUB) {
            Some(rest)
                if self.inner.endpoint != HUB && (rest.is_empty() || rest.starts_with('/')) =>
            {
                format!("{}{}", self.inner.endpoint, rest)
            }
            _ => href.to_string(),
        }
    }

    /// True when `url` is on the endpoint's origin, the only place the token goes.
    fn same_origin(&self, url: &url::Url) -> bool {
        url.origin() == self.inner.endpoint_url.origin()
    }

    pub(crate) fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.inner.http.request(method, url)
    }

    /// Sends one try. `auth` adds the token when the URL is on the endpoint's origin.
    /// Statuses in `accept` come back as `Ok` for the caller to interpret.
    pub(crate) async fn execute(
        &self,
        builder: RequestBuilder,
        auth: bool,
        accept: &[u16],
    ) -> Result<Response, Failure> {
        let mut request = builder.build().map_err(|e| Failure {
            error: HubError::InvalidInput {
                message: format!("cannot build request: {}", describe(&e)),
            },
            wait_hint: None,
            maybe_processed: false,
        })?;
        if auth && self.same_origin(request.url()) {
            if let Some(token) = &self.inner.token {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| Failure {
                        error: HubError::InvalidInput {
                            message: "the token contains characters not allowed in an HTTP header"
                                .into(),
                        },
                        wait_hint: None,
                        maybe_processed: false,
                    })?;
                value.set_sensitive(true);
                request.headers_mut().insert(AUTHORIZATION, value);
            }
        }
        let method = request.method().clone();
        // The host too: "connection refused" alone does not say where (never the query: signed URLs).
        let path = format!(
            "{}{}",
            request.url().origin().ascii_serialization(),
            request.url().path()
        );
        let response = self
            .inner
            .http
            .execute(request)
            .await
            .map_err(|e| Failure {
                maybe_processed: !e.is_connect(),
                error: HubError::Network {
                    message: format!("{method} {path}: {}", describe(&e)),
                },
                wait_hint: None,
            })?;
        let status = response.status();
        if status.is_success() || accept.contains(&status.as_u16()) {
            return Ok(response);
        }
        Err(self.failure_from(method, &path, response).await)
    }

    async fn failure_from(&self, method: Method, path: &str, response: Response) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        let wait_hint = if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            server_wait_hint(&headers)
        } else {
            None
        };
        let body = response.bytes().await.unwrap_or_default();
        let message = error_message(status, &headers, &body);
        let message = format!("{method} {path}: {message}");
        let message = match &self.inner.token {
            Some(t) => t.redact(&message),
            None => message,
        };
        let code = header_str(&headers, "x-error-code");
        Failure {
            error: HubError::from_status(status.as_u16(), code, message),
            wait_hint,
            maybe_processed: true,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy is exhausted.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        mode: RetryMode,
        what: &str,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = &self.inner.retry;
        let mut tries = 0u32;
        loop {
            tries += 1;
            let failure = match attempt().await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let retryable = match mode {
                RetryMode::Idempotent => failure.error.is_retryable(),
                RetryMode::NotProcessedOnly => {
                    (!failure.maybe_processed && matches!(failure.error, HubError::Network { .. }))
                        || failure.error.status() == Some(429)
                }
            };
            if !retryable || tries >= policy.max_attempts.max(1) {
                return Err(failure.error);
            }
            let delay = policy.delay(tries, failure.wait_hint);
            if let Some(observer) = &self.inner.on_retry {
                observer(&RetryNotice {
                    what: what.to_string(),
                    error: failure.error.to_string(),
                    attempt: tries,
                    retries: policy.max_attempts.saturating_sub(1),
                    delay,
                });
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// GET a JSON document from the API (authenticated, retried).
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &str, what: &str) -> Result<T> {
        self.run(RetryMode::Idempotent, what, || async {
            let response = self
                .execute(self.request(Method::GET, url), true, &[])
                .await?;
            read_json(response).await
        })
        .await
    }

    /// GET every page of a JSON array, following `Link: <…>; rel="next"`.
    pub(crate) async fn get_paged<T: DeserializeOwned>(
        &self,
        first: &str,
        what: &str,
    ) -> Result<Vec<T>> {
        self.get_paged_map(first, what, Some).await
    }

    /// [`Self::get_paged`], keeping `keep(item)` of each page as it arrives (so a 100,000-entry listing is held
    /// once, in its final form).
    pub(crate) async fn get_paged_map<T: DeserializeOwned, U>(
        &self,
        first: &str,
        what: &str,
        keep: impl Fn(T) -> Option<U>,
    ) -> Result<Vec<U>> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) {
                return Err(HubError::invalid(format!(
                    "{what}: pagination loops back to an earlier page"
                )));
            }
            let (page, link): (Vec<T>, Option<String>) = self
                .run(RetryMode::Idempotent, what, || async {
                    let response = self
                        .execute(self.request(Method::GET, &url), true, &[])
                        .await?;
                    let link = header_str(response.headers(), "link")
                        .and_then(|v| crate::pagination::next_link(&v));
                    let page: Vec<T> = read_json(response).await?;
                    Ok((page, link))
                })
                .await?;
            out.extend(page.into_iter().filter_map(&keep));
            if let Some(link) = link {
                let base =
                    url::Url::parse(&url).map_err(|e| HubError::invalid(format!("{what}: {e}")))?;
                let resolved = base.join(&link).map_err(|e| {
                    HubError::invalid(format!("{what}: bad Link header target ({e})"))
                })?;
                next = Some(resolved.to_string());
            }
        }
        Ok(out)
    }
}

/// Reads a JSON body; a connection drop while reading counts as a network failure.
pub(crate) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let path = response.url().path().to_string();
    let bytes = response.bytes().await.map_err(|e| Failure {
        error: HubError::Network {
            message: format!("reading the answer of {path}: {}", describe(&e)),
        },
        wait_hint: None,
        maybe_processed: true,
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::from(HubError::invalid(format!("{path}: unexpected JSON ({e})"))))
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
}

/// An error's message with its causes (`error sending request: connection refused`),
/// without the URL (pre-signed URLs carry signatures).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        String::new()
    };
    let mut current: Option<&dyn std::error::Error> = e.source();
    let top = e.to_string();
    let top = match e.url() {
        Some(url) => top
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "<url>"),
        None => top,
    };
    if text.is_empty() {
        text = top;
    }
    while let Some(cause) = current {
        let s = cause.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        current = cause.source();
    }
    text
}

/// The best human message of an error answer: `X-Error-Message`, else the JSON body's
/// `error`/`error_description`/`errors[].message`, else short plain text; plus the request id.
pub(crate) fn error_message(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> String {
    let mut message = header_str(headers, "x-error-message").unwrap_or_default();
    if message.is_empty() {
        message = json_error(body).unwrap_or_default();
    }
    if message.is_empty() {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !text.is_empty() && !text.starts_with('<') {
            message = text.chars().take(300).collect();
        }
    }
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_string();
    }
    if let Some(id) = header_str(headers, "x-request-id") {
        message.push_str(&format!(" (request id {id})"));
    }
    message
}

fn json_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .filter_map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .or_else(|| i.get("message")?.as_str().map(str::to_string))
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            _ => None,
        }
    };
    let mut out = value
        .get("error")
        .and_then(text)
        .or_else(|| value.get("errors").and_then(text))?;
    if let Some(desc) = value.get("error_description").and_then(|v| v.as_str()) {
        out.push_str(": ");
        out.push_str(desc);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let h = HeaderMap::new();
        let s = StatusCode::NOT_FOUND;
        assert_eq!(
            error_message(s, &h, br#"{"error":"Repository not found"}"#),
            "Repository not found"
        );
        assert_eq!(error_message(s, &h, br#"{"error":["a","b"]}"#), "a; b");
        assert_eq!(
            error_message(s, &h, br#"{"errors":[{"message":"m"}]}"#),
            "m"
        );
        assert_eq!(
            error_message(
                s,
                &h,
                br#"{"error":"invalid_grant","error_description":"x"}"#
            ),
            "invalid_grant: x"
        );
        assert_eq!(error_message(s, &h, b"<html>nope</html>"), "Not Found");
        assert_eq!(error_message(s, &h, b"plain"), "plain");
        let mut h = HeaderMap::new();
        h.insert("x-error-message", HeaderValue::from_static("from header"));
        h.insert("x-request-id", HeaderValue::from_static("r1"));
        assert_eq!(
            error_message(s, &h, br#"{"error":"body"}"#),
            "from header (request id r1)"
        );
    }

    #[test]
    fn endpoint_rewrite_and_urls() {
        let c = HubClient::new("http://127.0.0.1:9/", None).unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:9");
        assert_eq!(
            c.fix_endpoint("https://huggingface.co/api/x"),
            "http://127.0.0.1:9/api/x"
        );
        assert_eq!(
            c.fix_endpoint("https://huggingface.company/x"),
            "https://huggingface.company/x"
        );
        let repo = RepoRef::new(crate::RepoType::Space, crate::RepoId::parse("a/b").unwrap());
        assert_eq!(c.repo_url(&repo), "http://127.0.0.1:9/spaces/a/b");
        assert_eq!(
            c.repo_api_url(&repo, "/runtime"),
            "http://127.0.0.1:9/api/spaces/a/b/runtime"
        );
        assert!(HubClient::new("ftp://x", None).is_err());
        assert!(HubClient::new("not a url", None).is_err());
    }

    #[test]
    fn debug_hides_token() {
        let c = HubClient::new("https://huggingface.co", Token::new("hf_secretvalue")).unwrap();
        assert!(!format!("{c:?}").contains("secretvalue"));
    }
}
