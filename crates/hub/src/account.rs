//! `GET /api/whoami-v2`: who the token belongs to, its role, scopes and plans.

use serde::Deserialize;

use crate::client::HubClient;
use crate::error::{HubError, Result};

/// A billing plan, as far as whoami tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPlan {
    Free,
    Pro,
    Team,
    Enterprise,
    /// The Hub did not say (let the server decide; a 402 will tell).
    Unknown,
}

impl AccountPlan {
    /// True for plans that may create Gradio/Docker Spaces.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            AccountPlan::Pro | AccountPlan::Team | AccountPlan::Enterprise
        )
    }

    fn parse(s: &str) -> AccountPlan {
        match s.to_ascii_lowercase().as_str() {
            "free" | "none" => AccountPlan::Free,
            "pro" => AccountPlan::Pro,
            "team" => AccountPlan::Team,
            "enterprise" | "plus" | "enterprise_plus" | "enterpriseplus" => AccountPlan::Enterprise,
            _ => AccountPlan::Unknown,
        }
    }
}

/// One organisation the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    pub name: String,
    /// `admin`, `write`, `contributor` or `read`, when the Hub says.
    pub role: Option<String>,
    pub plan: AccountPlan,
}

/// The answer of whoami, reduced to what a deployer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    /// User name: the default namespace.
    pub name: String,
    pub plan: AccountPlan,
    pub orgs: Vec<OrgMembership>,
    /// `read`, `write` or `fineGrained` (absent for OAuth tokens).
    pub token_role: Option<String>,
    /// For fine-grained tokens: namespaces (users/orgs) the token holds `repo.write` on.
    pub fine_grained_write_namespaces: Vec<String>,
    /// For fine-grained tokens: single repos (`ns/name`) the token holds `repo.write` on.
    pub fine_grained_write_repos: Vec<String>,
}

impl WhoAmI {
    /// Whether this token may write repos in `namespace` (own namespace or an org with a
    /// writing role). Answers `true` when the Hub gives no role at all (let the server decide).
    pub fn can_write(&self, namespace: &str) -> bool {
        let is_self = self.name.eq_ignore_ascii_case(namespace);
        let org = self
            .orgs
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(namespace));
        let member_may_write = is_self
            || org.is_some_and(|o| {
                o.role
                    .as_deref()
                    .is_none_or(|r| matches!(r, "admin" | "write" | "contributor"))
            });
        match self.token_role.as_deref() {
            Some("read") => false,
            Some("fineGrained") => self
                .fine_grained_write_namespaces
                .iter()
                .any(|n| n.eq_ignore_ascii_case(namespace)),
            Some(_) | None => member_may_write,
        }
    }

    /// Whether this token may write the single repo `ns/name` (fine-grained repo scopes included).
    pub fn can_write_repo(&self, repo_id: &str) -> bool {
        let namespace = repo_id.split('/').next().unwrap_or_default();
        self.can_write(namespace)
            || (self.token_role.as_deref() == Some("fineGrained")
                && self
                    .fine_grained_write_repos
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(repo_id)))
    }

    /// The plan that applies to repos in `namespace`.
    pub fn plan_for(&self, namespace: &str) -> AccountPlan {
        if self.name.eq_ignore_ascii_case(namespace) {
            return self.plan;
        }
        self.orgs
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(namespace))
            .map(|o| o.plan)
            .unwrap_or(AccountPlan::Unknown)
    }

    /// Parses the raw JSON of whoami-v2.
    pub fn from_json(value: &serde_json::Value) -> Result<WhoAmI> {
        let raw: RawWhoAmI = serde_json::from_value(value.clone())
            .map_err(|e| HubError::invalid(format!("whoami-v2: unexpected JSON ({e})")))?;
        Ok(raw.into())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWhoAmI {
    name: String,
    #[serde(default)]
    plan: Option<serde_json::Value>,
    #[serde(default)]
    is_pro: Option<bool>,
    #[serde(default)]
    orgs: Vec<RawOrg>,
    #[serde(default)]
    auth: Option<RawAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrg {
    name: String,
    #[serde(default)]
    role_in_org: Option<String>,
    #[serde(default)]
    plan: Option<serde_json::Value>,
    #[serde(default)]
    is_enterprise: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuth {
    #[serde(default)]
    access_token: Option<RawAccessToken>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAccessToken {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    fine_grained: Option<RawFineGrained>,
}

#[derive(Deserialize)]
struct RawFineGrained {
    #[serde(default)]
    scoped: Vec<RawScope>,
}

#[derive(Deserialize)]
struct RawScope {
    entity: RawEntity,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
struct RawEntity {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
}

/// `plan` may be a string (`"pro"`) or an object (`{"name": "pro"}`).
fn plan_value(v: &Option<serde_json::Value>) -> Option<AccountPlan> {
    match v.as_ref()? {
        serde_json::Value::String(s) => Some(AccountPlan::parse(s)),
        serde_json::Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("type"))
            .and_then(|n| n.as_str())
            .map(AccountPlan::parse),
        _ => None,
    }
}

impl From<RawWhoAmI> for WhoAmI {
    fn from(raw: RawWhoAmI) -> WhoAmI {
        let plan = plan_value(&raw.plan).unwrap_or(match raw.is_pro {
            Some(true) => AccountPlan::Pro,
            Some(false) => AccountPlan::Free,
            None => AccountPlan::Unknown,
        });
        let orgs = raw
            .orgs
            .into_iter()
            .map(|o| OrgMembership {
                plan: plan_value(&o.plan).unwrap_or(match o.is_enterprise {
                    Some(true) => AccountPlan::Enterprise,
                    _ => AccountPlan::Unknown,
                }),
                name: o.name,
                role: o.role_in_org,
            })
            .collect();
        let token = raw.auth.and_then(|a| a.access_token);
        let token_role = token.as_ref().and_then(|t| t.role.clone());
        let mut namespaces = Vec::new();
        let mut repos = Vec::new();
        if let Some(fg) = token.and_then(|t| t.fine_grained) {
            for scope in fg.scoped {
                if !scope.permissions.iter().any(|p| p == "repo.write") {
                    continue;
                }
                match scope.entity.kind.as_str() {
                    "user" | "org" => namespaces.push(scope.entity.name),
                    _ => repos.push(scope.entity.name),
                }
            }
        }
        WhoAmI {
            name: raw.name,
            plan,
            orgs,
            token_role,
            fine_grained_write_namespaces: namespaces,
            fine_grained_write_repos: repos,
        }
    }
}

impl HubClient {
    /// Who the token belongs to. Needs a token. Call once and keep the answer:
    /// the Hub rate-limits this endpoint strictly.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        if !self.has_token() {
            return Err(HubError::Unauthorized {
                message: "no token: set HF_TOKEN to a Hugging Face access token with write access"
                    .into(),
            });
        }
        let value: serde_json::Value = self.get_json(&self.api_url("whoami-v2"), "whoami").await?;
        WhoAmI::from_json(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn write_token_user_and_orgs() {
        let w = WhoAmI::from_json(&json!({
            "type": "user", "name": "alice", "isPro": false,
            "orgs": [{"name": "acme", "roleInOrg": "admin", "plan": "team"}, {"name": "ro", "roleInOrg": "read"}],
            "auth": {"type": "access_token", "accessToken": {"displayName": "t", "role": "write"}}
        }))
        .unwrap();
        assert_eq!(w.plan, AccountPlan::Free);
        assert_eq!(w.plan_for("acme"), AccountPlan::Team);
        assert_eq!(w.plan_for("ro"), AccountPlan::Unknown);
        assert_eq!(w.plan_for("stranger"), AccountPlan::Unknown);
        assert!(w.can_write("alice") && w.can_write("ALICE") && w.can_write("acme"));
        assert!(!w.can_write("ro") && !w.can_write("stranger"));
    }

    #[test]
    fn read_and_fine_grained() {
        let r = WhoAmI::from_json(&json!({"name": "bob", "isPro": true,
            "auth": {"accessToken": {"role": "read"}}}))
        .unwrap();
        assert_eq!(r.plan, AccountPlan::Pro);
        assert!(!r.can_write("bob"));
        let fg = WhoAmI::from_json(&json!({"name": "carol", "plan": "pro",
            "auth": {"accessToken": {"role": "fineGrained", "fineGrained": {"scoped": [
                {"entity": {"type": "org", "name": "acme"}, "permissions": ["repo.write", "repo.content.read"]},
                {"entity": {"type": "user", "name": "carol"}, "permissions": ["repo.content.read"]},
                {"entity": {"type": "space", "name": "carol/app"}, "permissions": ["repo.write"]}
            ]}}}}))
        .unwrap();
        assert_eq!(fg.fine_grained_write_namespaces, vec!["acme"]);
        assert!(fg.can_write("acme") && !fg.can_write("carol"));
        assert!(fg.can_write_repo("carol/app") && !fg.can_write_repo("carol/other"));
        assert_eq!(fg.plan, AccountPlan::Pro);
    }
}
