//! Repository lifecycle: info, create, delete, visibility, listing (docs/hub-protocol.md#repos).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::{read_json, HubClient, RetryMode};
use crate::encode;
use crate::error::{HubError, Result};
use crate::repo_id::{RepoRef, RepoType};

/// Options for [`HubClient::create_repo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRepo {
    /// `None`: the account's default applies (nothing is sent).
    pub visibility: Option<Visibility>,
    /// Spaces only (default gradio when `None`).
    pub space_sdk: Option<SpaceSdk>,
    /// Spaces only: the hardware flavour (`cpu-basic`, `zero-a10g`, …); `None`: the Hub's default.
    pub hardware: Option<String>,
}

/// Who can see a repo. `Protected` (Spaces, PRO): the app is public, the files are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
    Protected,
}

/// The body of `POST /api/repos/create`.
fn create_body(repo: &RepoRef, opts: &CreateRepo) -> serde_json::Value {
    let mut body = repo_body(repo);
    // Only what the caller asked for: without it the account's default visibility applies. `private` too, for
    // Hubs that read only that.
    if let Some(v) = opts.visibility {
        body["visibility"] = json!(v.as_str());
        body["private"] = json!(v == Visibility::Private);
    }
    if repo.repo_type == RepoType::Space {
        body["sdk"] = json!(opts.space_sdk.unwrap_or(SpaceSdk::Gradio).as_str());
        if let Some(hardware) = &opts.hardware {
            body["hardware"] = json!(hardware);
        }
    }
    body
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Protected => "protected",
        }
    }

    pub fn parse(text: &str) -> Option<Visibility> {
        match text.trim().to_ascii_lowercase().as_str() {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            "protected" => Some(Visibility::Protected),
            _ => None,
        }
    }
}

/// The Space SDKs the Hub accepts on create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceSdk {
    Gradio,
    Streamlit,
    Docker,
    Static,
}

impl SpaceSdk {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceSdk::Gradio => "gradio",
            SpaceSdk::Streamlit => "streamlit",
            SpaceSdk::Docker => "docker",
            SpaceSdk::Static => "static",
        }
    }

    pub fn parse(text: &str) -> Option<SpaceSdk> {
        match text.trim().to_ascii_lowercase().as_str() {
            "gradio" => Some(SpaceSdk::Gradio),
            "streamlit" => Some(SpaceSdk::Streamlit),
            "docker" => Some(SpaceSdk::Docker),
            "static" => Some(SpaceSdk::Static),
            _ => None,
        }
    }

    /// Since July 2026 only static Spaces can be created on a free plan.
    pub fn needs_paid_plan(self) -> bool {
        self != SpaceSdk::Static
    }
}

/// The result of [`HubClient::create_repo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub url: String,
    /// True when the Hub answered 409 (the repo was already there).
    pub already_existed: bool,
}

/// What the deployer needs from repo info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub id: String,
    /// The commit the revision resolves to.
    pub sha: String,
    pub private: bool,
    pub siblings: Vec<String>,
    pub sdk: Option<String>,
    /// Spaces: app origin, e.g. `https://alice-app.hf.space`.
    pub host: Option<String>,
    pub subdomain: Option<String>,
    pub runtime_stage: Option<String>,
    pub created_at: Option<String>,
}

/// One item of a repo listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSummary {
    /// `ns/name`.
    pub id: String,
    pub private: bool,
    /// ISO 8601 with `Z`.
    pub created_at: Option<String>,
    pub last_modified: Option<String>,
}

impl RepoSummary {
    /// The repo name without namespace.
    pub fn name(&self) -> &str {
        self.id.rsplit_once('/').map(|(_, n)| n).unwrap_or(&self.id)
    }

    /// The namespace (owner) part of the id.
    pub fn namespace(&self) -> &str {
        self.id
            .rsplit_once('/')
            .map(|(ns, _)| ns)
            .unwrap_or_default()
    }

    /// `created_at` as a point in time; `None` when absent or not RFC 3339.
    pub fn created_at_time(&self) -> Option<std::time::SystemTime> {
        parse_timestamp(self.created_at.as_deref()?)
    }
}

/// Parses the Hub's ISO 8601 timestamps (`2025-03-07T12:24:18.657Z`).
pub fn parse_timestamp(text: &str) -> Option<std::time::SystemTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(std::time::SystemTime::from)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInfo {
    id: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    siblings: Vec<RawSibling>,
    #[serde(default)]
    sdk: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    subdomain: Option<String>,
    #[serde(default)]
    runtime: Option<RawStage>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct RawSibling {
    rfilename: String,
}

#[derive(Deserialize)]
struct RawStage {
    #[serde(default)]
    stage: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSummary {
    id: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
}

#[derive(Deserialize)]
struct RawCreated {
    #[serde(default)]
    url: Option<String>,
}

/// Create/delete bodies: `type` left out for models, like the Python client.
fn repo_body(repo: &RepoRef) -> serde_json::Value {
    let mut body = json!({ "name": repo.id.name, "organization": repo.id.namespace });
    if repo.repo_type != RepoType::Model {
        body["type"] = json!(repo.repo_type.as_str());
    }
    body
}

impl HubClient {
    /// Repo info at `revision` (default: the main branch). `None` when the repo does
    /// not exist (or the token cannot see it).
    pub async fn repo_info(
        &self,
        repo: &RepoRef,
        revision: Option<&str>,
    ) -> Result<Option<RepoInfo>> {
        let suffix = match revision {
            Some(rev) => format!("/revision/{}", encode::revision(rev)),
            None => String::new(),
        };
        let url = self.repo_api_url(repo, &suffix);
        let raw: std::result::Result<RawInfo, HubError> = self.get_json(&url, "repo info").await;
        match raw {
            Ok(raw) => Ok(Some(RepoInfo {
                id: raw.id,
                sha: raw.sha.unwrap_or_default(),
                private: raw.private,
                siblings: raw.siblings.into_iter().map(|s| s.rfilename).collect(),
                sdk: raw.sdk,
                host: raw.host,
                subdomain: raw.subdomain,
                runtime_stage: raw.runtime.and_then(|r| r.stage),
                created_at: raw.created_at,
            })),
            Err(e) if e.is_not_found() && e.error_code() != Some("RevisionNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the repo. A 409 means it exists: `Created { already_existed: true }`.
    /// A 409 "conflicting operation in progress" is retried with backoff.
    pub async fn create_repo(&self, repo: &RepoRef, opts: &CreateRepo) -> Result<Created> {
        let body = create_body(repo, opts);
        let url = self.api_url("repos/create");
        self.run(RetryMode::Idempotent, "create repo", || async {
            let response = self
                .execute(self.request(Method::POST, &url).json(&body), true, &[409])
                .await?;
            if response.status().as_u16() == 409 {
                let text = response.text().await.unwrap_or_default();
                if text.contains("conflicting operation") {
                    // Transient server-side lock: same handling as a 503.
                    return Err(HubError::Status {
                        status: 503,
                        code: None,
                        message: "create repo: another conflicting operation is in progress".into(),
                    }
                    .into());
                }
                let url = serde_json::from_str::<RawCreated>(&text)
                    .ok()
                    .and_then(|c| c.url)
                    .map(|u| self.fix_endpoint(&u))
                    .unwrap_or_else(|| self.repo_url(repo));
                return Ok(Created {
                    url,
                    already_existed: true,
                });
            }
            let created: RawCreated = read_json(response).await?;
            let url = created
                .url
                .map(|u| self.fix_endpoint(&u))
                .unwrap_or_else(|| self.repo_url(repo));
            Ok(Created {
                url,
                already_existed: false,
            })
        })
        .await
    }

    /// Deletes the repo. `Ok(false)` when it was already gone (404).
    pub async fn delete_repo(&self, repo: &RepoRef) -> Result<bool> {
        let body = repo_body(repo);
        let url = self.api_url("repos/delete");
        self.run(RetryMode::Idempotent, "delete repo", || async {
            let response = self
                .execute(self.request(Method::DELETE, &url).json(&body), true, &[404])
                .await?;
            Ok(response.status().as_u16() != 404)
        })
        .await
    }

    /// Makes the repo private or public (`PUT …/settings {"private": bool}`).
    pub async fn update_visibility(&self, repo: &RepoRef, private: bool) -> Result<()> {
        let url = self.repo_api_url(repo, "/settings");
        let body = json!({ "private": private });
        self.run(RetryMode::Idempotent, "update visibility", || async {
            self.execute(self.request(Method::PUT, &url).json(&body), true, &[])
                .await?;
            Ok(())
        })
        .await
    }

    /// Every repo of `repo_type` owned by `author` whose id contains `search`
    /// (case-insensitive, server-side), following pagination.
    pub async fn list_repos(
        &self,
        repo_type: RepoType,
        author: &str,
        search: Option<&str>,
    ) -> Result<Vec<RepoSummary>> {
        let mut url = format!(
            "{}?author={}",
            self.api_url(repo_type.api_plural()),
            encode::query_value(author)
        );
        if let Some(s) = search.filter(|s| !s.is_empty()) {
            url.push_str(&format!("&search={}", encode::query_value(s)));
        }
        url.push_str("&expand=createdAt&expand=lastModified&expand=private");
        let raw: Vec<RawSummary> = self.get_paged(&url, "list repos").await?;
        Ok(raw
            .into_iter()
            .map(|r| RepoSummary {
                id: r.id,
                private: r.private,
                created_at: r.created_at,
                last_modified: r.last_modified,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_id::RepoId;

    #[test]
    fn bodies() {
        let id = RepoId::parse("acme/app").unwrap();
        let m = repo_body(&RepoRef::new(RepoType::Model, id.clone()));
        assert_eq!(m, json!({"name": "app", "organization": "acme"}));
        let s = repo_body(&RepoRef::new(RepoType::Space, id));
        assert_eq!(s["type"], "space");
    }

    #[test]
    fn create_sends_only_what_was_asked() {
        let space = RepoRef::new(RepoType::Space, RepoId::parse("a/b").unwrap());
        let plain = create_body(&space, &CreateRepo::default());
        assert!(
            plain.get("visibility").is_none() && plain.get("private").is_none(),
            "{plain}"
        );
        assert!(plain.get("hardware").is_none(), "{plain}");
        assert_eq!(plain["sdk"], "gradio");
        let asked = create_body(
            &space,
            &CreateRepo {
                visibility: Some(Visibility::Protected),
                space_sdk: Some(SpaceSdk::Docker),
                hardware: Some("zero-a10g".into()),
            },
        );
        assert_eq!(asked["visibility"], "protected");
        assert_eq!(asked["private"], false);
        assert_eq!(asked["hardware"], "zero-a10g");
        assert_eq!(asked["sdk"], "docker");
    }

    #[test]
    fn summary_name_and_time() {
        let s = RepoSummary {
            id: "a/b".into(),
            private: false,
            created_at: Some("2025-03-07T12:24:18.657Z".into()),
            last_modified: None,
        };
        assert_eq!(s.name(), "b");
        assert_eq!(s.namespace(), "a");
        let t = s.created_at_time().unwrap();
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_741_350_258);
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("2025-03-07T12:24:18+00:00").is_some());
    }
}
