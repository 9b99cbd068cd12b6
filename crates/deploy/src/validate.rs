//! Turns raw inputs into a [`DeployConfig`], before any remote call. Every refusal names the input and says
//! what to do; all of them exit with code 2.

use std::path::Path;
use std::time::Duration;

use hub::{RepoId, RepoType, SpaceSdk, Visibility};

use crate::cli::DeployArgs;
use crate::config::{AllowOrigins, DeployConfig, ProxyConfig, RepoTarget};
use crate::failure::Failure;
use crate::source::filter::PathFilter;

/// The legacy default of `huggingface_repo`: the GitHub repository's name under the token's owner.
pub const SAME_WITH_GITHUB_REPO: &str = "same_with_github_repo";
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const MAX_WAIT_TIMEOUT_SECS: u64 = 6 * 3600;

/// Reads an environment variable, `None` when unset or empty.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Parses a boolean input: true/false (also yes/no, 1/0, on/off), case-insensitive.
pub fn parse_bool(input: &str, value: &Option<String>, default: bool) -> Result<bool, Failure> {
    let Some(text) = non_empty(value) else {
        return Ok(default);
    };
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(Failure::input(format!(
            "{input}: {text:?} is not a boolean; use true or false"
        ))),
    }
}

fn parse_target(raw: Option<&str>, env: EnvLookup) -> Result<RepoTarget, Failure> {
    let raw = raw.unwrap_or(SAME_WITH_GITHUB_REPO);
    if raw == SAME_WITH_GITHUB_REPO {
        let Some(github) = env("GITHUB_REPOSITORY") else {
            return Err(Failure::input(
                "huggingface_repo: not set, and its default `same_with_github_repo` needs GITHUB_REPOSITORY; \
                 pass --huggingface-repo owner/name (or HF_DEPLOY_HUGGINGFACE_REPO)",
            ));
        };
        let name = github.rsplit('/').next().unwrap_or_default().to_string();
        RepoId::validate_name(&name).map_err(|e| {
            Failure::input(format!(
                "huggingface_repo: the GitHub repository name {name:?} (from GITHUB_REPOSITORY) is not a valid Hub \
                 repo name ({e}); set huggingface_repo explicitly"
            ))
        })?;
        return Ok(RepoTarget::UnderTokenOwner(name));
    }
    if raw.contains('/') {
        RepoId::parse(raw).map(RepoTarget::Full).map_err(|e| {
            Failure::input(format!(
                "huggingface_repo: {e}; expected owner/name, for example alice/my-space"
            ))
        })
    } else {
        RepoId::validate_name(raw)
            .map(|()| RepoTarget::UnderTokenOwner(raw.to_string()))
            .map_err(|e| Failure::input(format!("huggingface_repo: {e}")))
    }
}

fn parse_repo_type(raw: Option<&str>) -> Result<RepoType, Failure> {
    let raw = raw.unwrap_or("space");
    raw.parse::<RepoType>().map_err(|_| {
        Failure::input(format!(
            "repo_type: {raw:?} is not a repo type; use one of space, model, dataset"
        ))
    })
}

fn parse_sdk(raw: Option<&str>) -> Result<SpaceSdk, Failure> {
    let raw = raw.unwrap_or("gradio");
    SpaceSdk::parse(raw).ok_or_else(|| {
        Failure::input(format!(
            "space_sdk: {raw:?} is not a Space SDK; use one of gradio, streamlit, docker, static"
        ))
    })
}

fn check_source_dir(raw: Option<&str>) -> Result<std::path::PathBuf, Failure> {
    let raw = raw.unwrap_or(".");
    let path = Path::new(raw);
    let meta = std::fs::metadata(path).map_err(|e| {
        Failure::input(format!(
            "source_dir: {raw:?} does not exist or cannot be read ({}); check the path (relative to the working \
             directory) and that the checkout step ran",
            e.kind()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Failure::input(format!(
            "source_dir: {raw:?} is not a directory; give the folder to deploy"
        )));
    }
    path.canonicalize()
        .map_err(|e| Failure::input(format!("source_dir: cannot resolve {raw:?} ({})", e.kind())))
}

/// Git ref-name rules (a subset that the Hub also enforces), for `revision`.
fn check_revision(raw: Option<&str>) -> Result<String, Failure> {
    let rev = raw.unwrap_or("main");
    let bad = |why: &str| {
        Failure::input(format!(
            "revision: {rev:?} is not a valid branch name ({why})"
        ))
    };
    if rev.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("no spaces or control characters"));
    }
    if let Some(c) = rev
        .chars()
        .find(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Err(bad(&format!("{c:?} is not allowed")));
    }
    if rev.contains("..") || rev.contains("@{") || rev.contains("//") {
        return Err(bad("no '..', '@{' or '//'"));
    }
    if rev.starts_with(['/', '-', '.']) || rev.ends_with(['/', '.']) || rev.ends_with(".lock") {
        return Err(bad(
            "must not start with '/', '-' or '.', nor end with '/', '.' or '.lock'",
        ));
    }
    if rev.len() > 255 {
        return Err(bad("at most 255 characters"));
    }
    Ok(rev.to_string())
}

fn check_wait_timeout(raw: Option<&str>) -> Result<Duration, Failure> {
    let Some(raw) = raw else {
        return Ok(Duration::from_secs(900));
    };
    match crate::cli::parse_duration(raw) {
        Ok(d) if (1..=MAX_WAIT_TIMEOUT_SECS).contains(&d.as_secs()) => Ok(d),
        Ok(_) => Err(Failure::input(format!(
            "wait_timeout: {raw:?} is not between 1 and {MAX_WAIT_TIMEOUT_SECS} seconds (6h); use seconds or a \
             duration like 15m"
        ))),
        Err(why) => Err(Failure::input(format!("wait_timeout: {why}"))),
    }
}

/// Checks an http(s) URL: a host, no credentials, no query or fragment.
fn check_url(input: &str, raw: &str, allow_path: bool) -> Result<url::Url, Failure> {
    let url = url::Url::parse(raw).map_err(|e| {
        Failure::input(format!(
            "{input}: {raw:?} is not a URL ({e}); use https://host"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::input(format!(
            "{input}: {raw:?} must use http or https"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Failure::input(format!("{input}: {raw:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Failure::input(format!(
            "{input}: the URL must not contain credentials (user:password@); tokens come from the environment"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Failure::input(format!(
            "{input}: {raw:?} must not have a query or fragment"
        )));
    }
    if !allow_path && !matches!(url.path(), "/" | "") {
        return Err(Failure::input(format!(
            "{input}: {raw:?} must be an origin (scheme://host[:port]) without a path"
        )));
    }
    Ok(url)
}

fn check_endpoint(env: EnvLookup) -> Result<String, Failure> {
    let Some(raw) = env("HF_ENDPOINT") else {
        return Ok(DEFAULT_ENDPOINT.to_string());
    };
    let raw = raw.trim();
    let url = check_url("HF_ENDPOINT", raw, true)?;
    let _ = url;
    Ok(raw.trim_end_matches('/').to_string())
}

/// `visibility`, else the legacy `private` (true → private, false → public); neither: `None`. Both, disagreeing:
/// refused.
fn visibility(args: &DeployArgs) -> Result<Option<Visibility>, Failure> {
    let private = match non_empty(&args.private) {
        Some(_) => Some(parse_bool("private", &args.private, false)?),
        None => None,
    };
    let Some(raw) = non_empty(&args.visibility) else {
        return Ok(private.map(|p| {
            if p {
                Visibility::Private
            } else {
                Visibility::Public
            }
        }));
    };
    let v = Visibility::parse(raw).ok_or_else(|| {
        Failure::input(format!(
            "visibility: {raw:?} is not a visibility; use public, private or protected"
        ))
    })?;
    if private.is_some_and(|p| p != (v == Visibility::Private)) {
        return Err(Failure::input(format!(
            "visibility is {} but private is {}: give one of them",
            v.as_str(),
            private.unwrap_or_default()
        )));
    }
    Ok(Some(v))
}

/// `space_hardware`: a flavour name as the Hub spells them (the Hub checks it exists), Spaces only.
fn space_hardware(raw: Option<&str>, repo_type: RepoType) -> Result<Option<String>, Failure> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if repo_type != RepoType::Space {
        return Err(Failure::input(format!(
            "space_hardware: only Spaces have hardware, and repo_type is {repo_type}; drop space_hardware"
        )));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(Failure::input(format!(
            "space_hardware: {raw:?} is not a hardware flavour like cpu-basic, cpu-upgrade or zero-a10g"
        )));
    }
    Ok(Some(raw.to_string()))
}

/// The proxy Space's name, `{target}{suffix}`, checked by the Hub's naming rules.
fn proxy_name(target: &str, suffix: &str) -> Result<String, Failure> {
    if suffix.is_empty() {
        return Err(Failure::input(
            "proxy_space_suffix: empty, so the proxy Space would be the target Space itself; use e.g. -proxy",
        ));
    }
    let name = format!("{target}{suffix}");
    RepoId::validate_name(&name).map_err(|e| {
        Failure::input(format!(
            "proxy_space_suffix: {suffix:?} gives the proxy Space name {name:?}, which the Hub refuses: {e}"
        ))
    })?;
    // The Hub looks ids up case-insensitively, so "App" + "" and "app" would be the same repo.
    if name.eq_ignore_ascii_case(target) {
        return Err(Failure::input(
            "proxy_space_suffix: the proxy Space must have a different name than the Space",
        ));
    }
    Ok(name)
}

/// `proxy_target_url`: an http(s) origin; returned without a trailing slash, as the proxy expects.
fn proxy_target_url(raw: &str) -> Result<String, Failure> {
    let url = check_url("proxy_target_url", raw.trim(), false)?;
    Ok(url.origin().ascii_serialization())
}

/// `proxy_allow_origins`: `*`, or comma-separated http(s) origins.
fn allow_origins(raw: Option<&str>) -> Result<AllowOrigins, Failure> {
    let Some(raw) = raw else {
        return Ok(AllowOrigins::Any);
    };
    let mut origins = Vec::new();
    for item in raw.split(',').map(str::trim) {
        match item {
            "" => {
                return Err(Failure::input(format!(
                    "proxy_allow_origins: {raw:?} has an empty item; use `*` or comma separated origins"
                )))
            }
            "*" => return Ok(AllowOrigins::Any),
            origin => {
                let url = check_url("proxy_allow_origins", origin, false)?;
                origins.push(url.origin().ascii_serialization());
            }
        }
    }
    Ok(AllowOrigins::Only(origins))
}

fn check_proxy(
    args: &DeployArgs,
    repo_type: RepoType,
    target: &RepoTarget,
) -> Result<Option<ProxyConfig>, Failure> {
    if !parse_bool("create_proxy", &args.create_proxy, false)? {
        return Ok(None);
    }
    if repo_type != RepoType::Space {
        return Err(Failure::input(format!(
            "create_proxy: a proxy can only front a Space, but repo_type is {repo_type}; set create_proxy: false"
        )));
    }
    let suffix = non_empty(&args.proxy_space_suffix).unwrap_or("-proxy");
    proxy_name(target.name(), suffix)?;
    Ok(Some(ProxyConfig {
        suffix: suffix.to_string(),
        target_url: non_empty(&args.proxy_target_url)
            .map(proxy_target_url)
            .transpose()?,
        allow_origins: allow_origins(non_empty(&args.proxy_allow_origins))?,
    }))
}

fn default_commit_message(env: EnvLookup) -> String {
    match (
        env("GITHUB_SHA"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(sha), Some(repo), Some(run)) => {
            let short: String = sha.chars().take(7).collect();
            format!("Deploy {short} from {repo} (run {run})")
        }
        (Some(sha), Some(repo), None) => {
            let short: String = sha.chars().take(7).collect();
            format!("Deploy {short} from {repo}")
        }
        _ => "Deploy with hf-deploy".to_string(),
    }
}

/// Validates every deploy input. Reads `GITHUB_*` and `HF_ENDPOINT` through `env`; touches only local files.
pub fn validate(args: &DeployArgs, env: EnvLookup) -> Result<DeployConfig, Failure> {
    let target = parse_target(non_empty(&args.huggingface_repo), env)?;
    let repo_type = parse_repo_type(non_empty(&args.repo_type))?;
    let space_sdk = parse_sdk(non_empty(&args.space_sdk))?;
    let visibility = visibility(args)?;
    let space_hardware = space_hardware(non_empty(&args.space_hardware), repo_type)?;
    let delete_stale = parse_bool("delete_stale", &args.delete_stale, true)?;
    let create_pr = parse_bool("create_pr", &args.create_pr, false)?;
    let dry_run = parse_bool("dry_run", &args.dry_run, false)?;
    let wait = parse_bool("wait", &args.wait, true)?;
    let json = parse_bool("json", &args.json, false)?;
    let hash_cache_dir = parse_bool("hash_cache", &args.hash_cache, true)?
        .then(|| crate::source::hash_cache::default_dir(env))
        .flatten();
    let wait_timeout = check_wait_timeout(non_empty(&args.wait_timeout))?;
    let revision = check_revision(non_empty(&args.revision))?;
    let filter = PathFilter::new(non_empty(&args.include), non_empty(&args.exclude))
        .map_err(Failure::input)?;
    let proxy = check_proxy(args, repo_type, &target)?;
    let endpoint = check_endpoint(env)?;
    let message = non_empty(&args.commit_message)
        .map(str::to_string)
        .unwrap_or_else(|| default_commit_message(env));
    let (summary, description) = match message.split_once('\n') {
        Some((first, rest)) => (first.trim().to_string(), rest.trim().to_string()),
        None => (message.trim().to_string(), String::new()),
    };
    if summary.is_empty() {
        return Err(Failure::input(
            "commit_message: the first line is empty; give the commit a title",
        ));
    }
    if summary.chars().count() > 1000 {
        return Err(Failure::input(
            "commit_message: the title is longer than 1000 characters; shorten it",
        ));
    }
    // The folder last: the other checks are cheaper and say more.
    let source_dir = check_source_dir(non_empty(&args.source_dir))?;
    Ok(DeployConfig {
        target,
        repo_type,
        space_sdk,
        visibility,
        space_hardware,
        source_dir,
        commit_summary: summary,
        commit_description: description,
        filter,
        delete_stale,
        revision,
        create_pr,
        dry_run,
        wait,
        wait_timeout,
        proxy,
        json,
        hash_cache_dir,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn args(repo: &str) -> DeployArgs {
        DeployArgs {
            huggingface_repo: Some(repo.into()),
            source_dir: Some(".".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let cfg = validate(&args("alice/app"), &no_env).unwrap();
        assert_eq!(cfg.repo_type, RepoType::Space);
        assert_eq!(cfg.space_sdk, SpaceSdk::Gradio);
        assert!(cfg.delete_stale && cfg.wait && !cfg.dry_run);
        assert_eq!(cfg.visibility, None, "nothing asked, nothing sent");
        assert_eq!(cfg.revision, "main");
        assert_eq!(cfg.wait_timeout, Duration::from_secs(900));
        assert_eq!(cfg.commit_summary, "Deploy with hf-deploy");
        assert_eq!(cfg.endpoint, DEFAULT_ENDPOINT);
    }

    #[test]
    fn github_defaults() {
        let env = |k: &str| match k {
            "GITHUB_REPOSITORY" => Some("octo/my-app".to_string()),
            "GITHUB_SHA" => Some("0123456789abcdef".to_string()),
            "GITHUB_RUN_ID" => Some("42".to_string()),
            _ => None,
        };
        let mut a = args("x");
        a.huggingface_repo = None;
        let cfg = validate(&a, &env).unwrap();
        assert_eq!(cfg.target, RepoTarget::UnderTokenOwner("my-app".into()));
        assert_eq!(
            cfg.commit_summary,
            "Deploy 0123456 from octo/my-app (run 42)"
        );
    }

    #[test]
    fn refusals_name_the_input() {
        let cases: Vec<(DeployArgs, &str)> = vec![
            (
                DeployArgs {
                    repo_type: Some("kernel".into()),
                    ..args("a/b")
                },
                "repo_type",
            ),
            (
                DeployArgs {
                    space_sdk: Some("flask".into()),
                    ..args("a/b")
                },
                "space_sdk",
            ),
            (
                DeployArgs {
                    private: Some("maybe".into()),
                    ..args("a/b")
                },
                "private",
            ),
            (
                DeployArgs {
                    wait_timeout: Some("0".into()),
                    ..args("a/b")
                },
                "wait_timeout",
            ),
            (
                DeployArgs {
                    revision: Some("a..b".into()),
                    ..args("a/b")
                },
                "revision",
            ),
            (
                DeployArgs {
                    exclude: Some("a[".into()),
                    ..args("a/b")
                },
                "exclude",
            ),
            (args("a/b/c"), "huggingface_repo"),
            (
                DeployArgs {
                    source_dir: Some("/nonexistent/x".into()),
                    ..args("a/b")
                },
                "source_dir",
            ),
        ];
        for (a, input) in cases {
            let err = validate(&a, &no_env).unwrap_err();
            assert_eq!(err.code(), 2);
            assert!(err.message.starts_with(input), "{input}: {}", err.message);
        }
    }

    /// Git's ref-name rules, one case each, and the longest name allowed.
    #[test]
    fn revisions_follow_git_ref_rules() {
        for good in [
            "main",
            "dev",
            "feature/x",
            "v1.2",
            "a-b_c",
            &"x".repeat(255),
        ] {
            assert_eq!(check_revision(Some(good)).unwrap(), good);
        }
        for bad in [
            "a b",
            "a\tb",
            "a\u{7}b",
            "a~b",
            "a^b",
            "a:b",
            "a?b",
            "a*b",
            "a[b",
            "a\\b",
            "a..b",
            "a@{b",
            "a//b",
            "/a",
            "-a",
            ".a",
            "a/",
            "a.",
            "a.lock",
            &"x".repeat(256),
        ] {
            let err = check_revision(Some(bad)).unwrap_err();
            assert!(err.message.starts_with("revision:"), "{bad:?}: {err}");
        }
    }

    /// A URL with a user name alone, or a password alone, carries credentials too.
    #[test]
    fn urls_with_any_credential_are_refused() {
        for bad in [
            "https://user@x.example",
            "https://:secret@x.example",
            "https://u:p@x.example",
        ] {
            let err = check_url("HF_ENDPOINT", bad, true).unwrap_err();
            assert!(err.message.contains("credentials"), "{bad}: {err}");
        }
        assert!(check_url("HF_ENDPOINT", "https://x.example/sub", true).is_ok());
    }

    #[test]
    fn wait_timeout_takes_seconds_or_a_duration() {
        let with = |t: &str| {
            validate(
                &DeployArgs {
                    wait_timeout: Some(t.into()),
                    ..args("alice/app")
                },
                &no_env,
            )
        };
        assert_eq!(with("900").unwrap().wait_timeout, Duration::from_secs(900));
        assert_eq!(with("15m").unwrap().wait_timeout, Duration::from_secs(900));
        assert_eq!(
            with("6h").unwrap().wait_timeout,
            Duration::from_secs(6 * 3600)
        );
        for bad in ["0", "7h", "abc", "1.5h"] {
            let err = with(bad).unwrap_err();
            assert!(err.message.starts_with("wait_timeout:"), "{err}");
        }
    }

    #[test]
    fn proxy_names() {
        assert_eq!(proxy_name("app", "-proxy").unwrap(), "app-proxy");
        assert_eq!(proxy_name("app", "_p").unwrap(), "app_p");
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
            let err = proxy_name("app", bad).unwrap_err();
            assert_eq!(err.code(), 2, "{bad:?}");
            assert!(err.message.contains("proxy_space_suffix"), "{err}");
        }
        // 93 + 3 = 96 is the longest allowed name.
        let long = "a".repeat(93);
        assert!(proxy_name(&long, "-px").is_ok());
        assert!(proxy_name(&long, "-pxy").is_err());
    }

    #[test]
    fn target_urls() {
        assert_eq!(
            proxy_target_url("https://alice-app.hf.space/").unwrap(),
            "https://alice-app.hf.space"
        );
        assert_eq!(
            proxy_target_url("http://127.0.0.1:8080").unwrap(),
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
            assert_eq!(proxy_target_url(bad).unwrap_err().code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(allow_origins(None).unwrap(), AllowOrigins::Any);
        assert_eq!(allow_origins(Some("*")).unwrap().to_variable(), "*");
        assert_eq!(
            allow_origins(Some(" https://a.example , http://b.example:8080/ "))
                .unwrap()
                .to_variable(),
            "https://a.example,http://b.example:8080"
        );
        for bad in [
            "a.example",
            "https://a.example/path",
            "javascript:alert(1)",
            "https://a.example,nope",
            "https://a.example,,https://b.example",
        ] {
            assert_eq!(allow_origins(Some(bad)).unwrap_err().code(), 2, "{bad:?}");
        }
    }
}
