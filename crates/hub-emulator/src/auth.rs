//! Who is calling, and what they may see or change.

use crate::config::Role;
use crate::errors::ApiError;
use crate::state::{HubState, Repo};
use axum::http::HeaderMap;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

/// The bearer token of `Authorization` (any case of the header name or scheme).
pub fn bearer(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    let (scheme, token) = raw.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// `Ok(None)` = anonymous; `Err` = a token was sent but is not known (401).
pub fn caller(state: &HubState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    if headers.get("authorization").is_none() {
        return Ok(None);
    }
    let token = bearer(headers, "authorization").ok_or_else(ApiError::invalid_token)?;
    match state.tokens.get(&token) {
        Some(g) => Ok(Some(Caller {
            user: g.user.clone(),
            role: g.role,
        })),
        None => Err(ApiError::invalid_token()),
    }
}

pub fn require(caller: Option<Caller>) -> Result<Caller, ApiError> {
    caller.ok_or_else(|| {
        ApiError::unauthorized("You must be authenticated to access this endpoint. Pass a token.")
    })
}

pub fn can_read(state: &HubState, caller: Option<&Caller>, repo: &Repo) -> bool {
    !repo.private || caller.is_some_and(|c| state.is_member(&c.user, &repo.namespace))
}

/// The error for a repo the caller may not see: 401 when anonymous, 404 otherwise (both
/// `RepoNotFound`, so private and missing look alike).
pub fn hidden(caller: Option<&Caller>) -> ApiError {
    match caller {
        None => ApiError::unauthorized("Repository not found").code("RepoNotFound"),
        Some(_) => ApiError::repo_not_found(),
    }
}

/// Write access to everything in namespace `ns`.
pub fn check_write(state: &HubState, caller: &Caller, ns: &str) -> Result<(), ApiError> {
    if !state.is_member(&caller.user, ns) {
        return Err(ApiError::forbidden(format!(
            "You don't have the rights to write to the namespace {ns}"
        )));
    }
    if caller.role != Role::Write {
        return Err(ApiError::forbidden(
            "This token has read-only access (role: read). Use a token with write access.",
        ));
    }
    Ok(())
}
