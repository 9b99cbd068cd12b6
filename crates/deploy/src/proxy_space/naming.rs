//! Pure checks that run before anything remote: the proxy repo id, the upstream URL, the CORS origins and
//! the namespace's plan.

use hub::{Plan, RepoId, WhoAmI};

use super::ProvisionError;

/// `{target}{suffix}` in the target's namespace, validated by the Hub's naming rules.
///
/// ```text
/// proxy_repo_id(alice/app, "-proxy") == alice/app-proxy
/// ```
pub fn proxy_repo_id(target: &RepoId, suffix: &str) -> Result<RepoId, ProvisionError> {
    if suffix.is_empty() {
        return Err(ProvisionError::Input(
            "proxy_space_suffix is empty: the proxy Space would be the target Space itself; use e.g. -proxy".into(),
        ));
    }
    let name = format!("{}{}", target.name, suffix);
    let id = RepoId::new(&target.namespace, &name).map_err(|e| {
        ProvisionError::Input(format!(
            "proxy Space id {}/{name} (from proxy_space_suffix {suffix:?}) is not a valid repo id: {e}",
            target.namespace
        ))
    })?;
    // The Hub looks ids up case-insensitively, so "App" + "" and "app" would be the same repo.
    if id.name.eq_ignore_ascii_case(&target.name) {
        return Err(ProvisionError::Input(format!(
            "proxy Space id {id} is the target Space itself; change proxy_space_suffix"
        )));
    }
    Ok(id)
}

/// Checks `proxy_target_url`: an http(s) origin with a host, no credentials, query or fragment.
/// Returns it without a trailing slash, as the proxy expects an origin.
pub fn validate_target_url(raw: &str) -> Result<String, ProvisionError> {
    let bad = |why: &str| ProvisionError::Input(format!("proxy_target_url {raw:?} {why}"));
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with https:// (or http://)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not contain credentials; the proxy sends its token itself",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(bad(
            "must be an origin (scheme://host[:port]) without a path",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// Checks `proxy_allow_origins`: `*`, or comma-separated http(s) origins. Returns the normalised list.
pub fn validate_allow_origins(raw: &str) -> Result<String, ProvisionError> {
    let items: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Ok("*".to_string());
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item == "*" {
            out.push(item.to_string());
            continue;
        }
        let bad = || {
            ProvisionError::Input(format!(
                "proxy_allow_origins entry {item:?} is not an origin like https://my-site.example (or *)"
            ))
        };
        let url = url::Url::parse(item).map_err(|_| bad())?;
        let origin = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || origin != item.trim_end_matches('/') {
            return Err(bad());
        }
        out.push(origin);
    }
    Ok(out.join(","))
}

/// The proxy is a Docker Space, which a free plan cannot create (402 since July 2026).
pub fn check_plan(whoami: &WhoAmI, namespace: &str) -> Result<(), ProvisionError> {
    if whoami.plan_for(namespace) == Plan::Free {
        return Err(check_plan_message(namespace));
    }
    Ok(())
}

/// The one error for a namespace whose plan cannot create the proxy (also used when the Hub answers 402).
pub fn check_plan_message(namespace: &str) -> ProvisionError {
    ProvisionError::Plan(format!(
            "create_proxy needs a Docker Space in {namespace:?}, and creating Docker Spaces needs a paid plan \
             (PRO, Team or Enterprise), which {namespace:?} does not have. Upgrade the plan, or drop create_proxy: \
             with PRO, the Space's \"protected\" visibility (public app, private code) can replace the proxy."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RepoId {
        RepoId::parse(s).unwrap()
    }

    #[test]
    fn proxy_ids() {
        assert_eq!(
            proxy_repo_id(&id("alice/app"), "-proxy").unwrap(),
            id("alice/app-proxy")
        );
        assert_eq!(
            proxy_repo_id(&id("alice/app"), "_p").unwrap(),
            id("alice/app_p")
        );
        for bad in [
            "",
            "/x",
            "-",
            "--proxy",
            " proxy",
            "-proxy.git",
            "é",
            &"x".repeat(94),
        ] {
            let err = proxy_repo_id(&id("alice/app"), bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        // 93 + 3 = 96 is the longest allowed name.
        let long = "a".repeat(93);
        assert!(proxy_repo_id(&id(&format!("alice/{long}")), "-px").is_ok());
        assert!(proxy_repo_id(&id(&format!("alice/{long}")), "-pxy").is_err());
    }

    fn who(plan: Plan) -> WhoAmI {
        WhoAmI {
            name: "carol".into(),
            plan,
            orgs: vec![],
            token_role: Some("write".into()),
            fine_grained_write_namespaces: vec![],
            fine_grained_write_repos: vec![],
        }
    }

    #[test]
    fn only_a_known_free_plan_is_refused() {
        let err = check_plan(&who(Plan::Free), "carol").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let text = err.to_string();
        for needle in ["PRO, Team or Enterprise", "protected", "carol"] {
            assert!(text.contains(needle), "{text}");
        }
        for plan in [Plan::Pro, Plan::Team, Plan::Enterprise, Plan::Unknown] {
            assert!(check_plan(&who(plan), "carol").is_ok(), "{plan:?}");
        }
        // A namespace whoami does not know (not the user, not one of its orgs) is left to the Hub.
        assert!(check_plan(&who(Plan::Free), "someone-else").is_ok());
    }

    #[test]
    fn target_urls() {
        assert_eq!(
            validate_target_url("https://alice-app.hf.space/").unwrap(),
            "https://alice-app.hf.space"
        );
        assert_eq!(
            validate_target_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "",
            "alice-app.hf.space",
            "ftp://x.example",
            "https://",
            "https://u:p@x.example",
            "https://x.example/a",
            "https://x.example/?q=1",
            "https://x.example/#f",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                validate_target_url(bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn origins() {
        assert_eq!(validate_allow_origins("").unwrap(), "*");
        assert_eq!(validate_allow_origins("*").unwrap(), "*");
        assert_eq!(
            validate_allow_origins(" https://a.example , http://b.example:8080/ ").unwrap(),
            "https://a.example,http://b.example:8080"
        );
        for bad in [
            "a.example",
            "https://a.example/path",
            "javascript:alert(1)",
            "https://a.example,nope",
        ] {
            assert_eq!(
                validate_allow_origins(bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }
}
