//! Configuration from the environment of the proxy Space (see docs/contracts.md, "Proxy configuration").
//!
//! Every value is validated once at start-up; an error names the variable and what to do, and never
//! repeats a secret's value.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::Uri;

use crate::cors::AllowOrigins;
use crate::log::LogSink;
use crate::preset::Preset;

/// Default request-body cap: 100 MiB (Gradio uploads).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 100 * 1024 * 1024;
/// Default cap on concurrent client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on concurrent requests from one caller (0 turns it off).
pub const DEFAULT_MAX_CONNECTIONS_PER_CALLER: u64 = 32;
/// Default longest gap between two reads of a request body, and the grace before the minimum rate applies.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 60;
/// Default minimum average request-body rate after the grace, bytes per second (0 turns it off).
pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;
/// Default cap on request headers (start line included); larger requests get 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A configuration error: which variable is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The one upstream origin the proxy forwards to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub https: bool,
    /// Host as used for DNS and SNI (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// `Host` header value: host, plus `:port` when not the scheme's default.
    pub authority: String,
    /// `scheme://authority`, as it appears in absolute URLs the upstream emits.
    pub origin: String,
}

/// A public origin: scheme and authority, no path.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub https: bool,
    pub authority: String,
}

impl Origin {
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }
}

/// Token bucket settings: `rps` tokens per second, at most `burst` stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateLimit {
    pub rps: f64,
    pub burst: f64,
}

/// Everything the proxy needs, read from `PROXY_*` variables (see the crate README).
#[derive(Clone)]
pub struct Config {
    pub(crate) target: Target,
    /// `Bearer <token>`, marked sensitive.
    pub(crate) token: Option<HeaderValue>,
    pub(crate) token_header: HeaderName,
    pub(crate) allow_origins: AllowOrigins,
    pub(crate) api_keys: Vec<Vec<u8>>,
    pub(crate) preset: Option<Preset>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_connections: usize,
    /// Concurrent requests per caller; 0 = off.
    pub(crate) max_per_caller: u32,
    pub(crate) body_timeout: Duration,
    /// Bytes per second a request body must average once `body_timeout` has passed; 0 = off.
    pub(crate) min_body_rate: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) ttfb_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_stream: Duration,
    pub(crate) wake_retry: Duration,
    pub(crate) public_origin: Option<Origin>,
    pub(crate) listen: SocketAddr,
    pub(crate) log: LogSink,
    pub(crate) extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl fmt::Debug for Config {
    // Hand-written so the token and the API keys can never be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("target", &self.target.origin)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_header", &self.token_header)
            .field("allow_origins", &self.allow_origins)
            .field("api_keys", &self.api_keys.len())
            .field("preset", &self.preset)
            .field("rate_limit", &self.rate_limit)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("max_per_caller", &self.max_per_caller)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the configuration from the process environment. Empty values count as unset.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from name/value pairs (the same names as the environment).
    pub fn from_map<K, V, I>(vars: I) -> Result<Config, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (K, V)>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let target_url = var("PROXY_TARGET_URL").ok_or_else(|| {
            ConfigError("PROXY_TARGET_URL is not set: set it to the private Space's origin, e.g. https://alice-app.hf.space".into())
        })?;
        let target = parse_target(&target_url)?;

        let token = match var("PROXY_HF_TOKEN") {
            None => None,
            Some(t) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    ConfigError("PROXY_HF_TOKEN contains characters not allowed in an HTTP header: paste the token again".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let token_header = match var("PROXY_TOKEN_HEADER")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("x-hf-authorization") => HeaderName::from_static("x-hf-authorization"),
            Some("authorization") => AUTHORIZATION,
            Some(_) => {
                return Err(ConfigError(
                    "PROXY_TOKEN_HEADER must be x-hf-authorization (default) or authorization"
                        .into(),
                ))
            }
        };
        let allow_origins =
            AllowOrigins::parse(var("PROXY_ALLOW_ORIGINS").as_deref().unwrap_or("*"))?;
        let api_keys = var("PROXY_API_KEYS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| k.as_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default();
        let preset = match var("PROXY_PATH_PRESET")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("none") | Some("off") => None,
            Some("gradio") => Some(Preset::Gradio),
            Some(_) => {
                return Err(ConfigError(
                    "PROXY_PATH_PRESET must be gradio or unset".into(),
                ))
            }
        };
        let rate_limit = var("PROXY_RATE_LIMIT")
            .map(|v| parse_rate(&v))
            .transpose()?;
        let max_body_bytes = number(&var, "PROXY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        let max_connections = number(
            &var,
            "PROXY_MAX_CONNECTIONS",
            DEFAULT_MAX_CONNECTIONS as u64,
        )?;
        if max_connections == 0 {
            return Err(ConfigError(
                "PROXY_MAX_CONNECTIONS must be at least 1".into(),
            ));
        }
        let max_per_caller = number(
            &var,
            "PROXY_MAX_CONNECTIONS_PER_CALLER",
            DEFAULT_MAX_CONNECTIONS_PER_CALLER,
        )?;
        let max_per_caller = u32::try_from(max_per_caller)
            .map_err(|_| ConfigError("PROXY_MAX_CONNECTIONS_PER_CALLER is too large".into()))?;
        let min_body_rate = number(&var, "PROXY_MIN_BODY_RATE", DEFAULT_MIN_BODY_RATE)?;
        let secs = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            let s = number(&var, name, default)?;
            Ok(Duration::from_secs(s))
        };
        let connect_timeout = secs("PROXY_CONNECT_TIMEOUT_SECS", 10)?;
        let ttfb_timeout = secs("PROXY_TTFB_TIMEOUT_SECS", 120)?;
        let idle_timeout = secs("PROXY_IDLE_TIMEOUT_SECS", 300)?;
        let max_stream = secs("PROXY_MAX_STREAM_SECS", 3600)?;
        let wake_retry = secs("PROXY_WAKE_RETRY_SECS", 30)?;
        let body_timeout = secs("PROXY_BODY_TIMEOUT_SECS", DEFAULT_BODY_TIMEOUT_SECS)?;
        for (name, d) in [
            ("PROXY_BODY_TIMEOUT_SECS", body_timeout),
            ("PROXY_CONNECT_TIMEOUT_SECS", connect_timeout),
            ("PROXY_TTFB_TIMEOUT_SECS", ttfb_timeout),
            ("PROXY_IDLE_TIMEOUT_SECS", idle_timeout),
            ("PROXY_MAX_STREAM_SECS", max_stream),
        ] {
            if d.is_zero() {
                return Err(ConfigError(format!("{name} must be at least 1 second")));
            }
        }
        let public_origin = match (var("PROXY_PUBLIC_ORIGIN"), var("SPACE_HOST")) {
            (Some(o), _) => Some(parse_origin(&o, "PROXY_PUBLIC_ORIGIN")?),
            (None, Some(host)) => Some(parse_origin(&format!("https://{host}"), "SPACE_HOST")?),
            (None, None) => None,
        };
        let listen = match var("PROXY_LISTEN") {
            Some(addr) => addr.parse().map_err(|_| {
                ConfigError(format!(
                    "PROXY_LISTEN must be an address like 0.0.0.0:7860, got {addr:?}"
                ))
            })?,
            None => {
                let port = number(&var, "PORT", 7860)?;
                let port = u16::try_from(port)
                    .map_err(|_| ConfigError("PORT must be 0..=65535".into()))?;
                SocketAddr::from(([0, 0, 0, 0], port))
            }
        };

        Ok(Config {
            target,
            token,
            token_header,
            allow_origins,
            api_keys,
            preset,
            rate_limit,
            max_body_bytes,
            max_connections: max_connections as usize,
            max_per_caller,
            body_timeout,
            min_body_rate,
            connect_timeout,
            ttfb_timeout,
            idle_timeout,
            max_stream,
            wake_retry,
            public_origin,
            listen,
            log: LogSink::Stderr,
            extra_roots: Vec::new(),
        })
    }

    /// The address to listen on (`PROXY_LISTEN`, else `0.0.0.0:$PORT`, else `0.0.0.0:7860`).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The upstream origin, e.g. `https://alice-app.hf.space`.
    pub fn target_origin(&self) -> &str {
        &self.target.origin
    }

    /// Whether a token will be added to upstream requests.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Sends access and error log lines to `sink` instead of stderr (embedding, tests).
    pub fn with_log_sink(mut self, sink: Arc<dyn Fn(&str) + Send + Sync>) -> Config {
        self.log = LogSink::Func(sink);
        self
    }

    /// Trusts an extra root certificate (DER) for the upstream, besides the bundled web PKI roots.
    pub fn with_extra_root(mut self, der: Vec<u8>) -> Config {
        self.extra_roots
            .push(rustls::pki_types::CertificateDer::from(der));
        self
    }
}

fn number(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ConfigError(format!("{name} must be a whole number, got {v:?}"))),
    }
}

fn parse_rate(v: &str) -> Result<RateLimit, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "PROXY_RATE_LIMIT must be RPS or RPS:BURST with RPS > 0, got {v:?}"
        ))
    };
    let (rps, burst) = match v.split_once(':') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let rps: f64 = rps.trim().parse().map_err(|_| bad())?;
    if !(rps.is_finite() && rps > 0.0) {
        return Err(bad());
    }
    let burst = match burst {
        Some(b) => b.trim().parse::<u32>().map_err(|_| bad())? as f64,
        None => (rps * 2.0).ceil(),
    };
    if burst < 1.0 {
        return Err(bad());
    }
    Ok(RateLimit { rps, burst })
}

/// Splits `scheme://authority[/]` into its parts; anything else (path, query, userinfo) is refused.
fn split_origin(url: &str, name: &str) -> Result<(bool, String, Option<u16>), ConfigError> {
    let bad = |why: &str| {
        ConfigError(format!(
            "{name} must be an origin like https://host[:port] ({why})"
        ))
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("scheme must be http or https")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("no user or password allowed"));
    }
    if uri
        .path_and_query()
        .is_some_and(|pq| pq.as_str() != "/" && !pq.as_str().is_empty())
    {
        return Err(bad("no path or query allowed"));
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((https, host, authority.port_u16()))
}

fn parse_target(url: &str) -> Result<Target, ConfigError> {
    let (https, host, port) = split_origin(url, "PROXY_TARGET_URL")?;
    let default_port = if https { 443 } else { 80 };
    let port = port.unwrap_or(default_port);
    let authority = if port == default_port {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let scheme = if https { "https" } else { "http" };
    let origin = format!("{scheme}://{authority}");
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(Target {
        https,
        host,
        port,
        authority,
        origin,
    })
}

fn parse_origin(url: &str, name: &str) -> Result<Origin, ConfigError> {
    let (https, host, port) = split_origin(url, name)?;
    let authority = match port {
        Some(p) if p != if https { 443 } else { 80 } => format!("{host}:{p}"),
        _ => host,
    };
    Ok(Origin { https, authority })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("PROXY_TARGET_URL", "https://Alice-App.hf.space/")]).unwrap();
        assert_eq!(c.target.origin, "https://alice-app.hf.space");
        assert_eq!(c.target.port, 443);
        assert_eq!(c.listen.to_string(), "0.0.0.0:7860");
        assert_eq!(c.token_header.as_str(), "x-hf-authorization");
        assert!(c.public_origin.is_none());
        assert_eq!(c.max_per_caller, 32);
        assert_eq!(c.body_timeout, Duration::from_secs(60));
        assert_eq!(c.min_body_rate, 1024);
    }

    #[test]
    fn abuse_limits() {
        let t = ("PROXY_TARGET_URL", "http://127.0.0.1:9");
        let c = cfg(&[
            t,
            ("PROXY_MAX_CONNECTIONS_PER_CALLER", "0"),
            ("PROXY_BODY_TIMEOUT_SECS", "5"),
            ("PROXY_MIN_BODY_RATE", "0"),
        ])
        .unwrap();
        assert_eq!(c.max_per_caller, 0);
        assert_eq!(c.body_timeout, Duration::from_secs(5));
        assert_eq!(c.min_body_rate, 0);
        for bad in [
            ("PROXY_BODY_TIMEOUT_SECS", "0"),
            ("PROXY_MAX_CONNECTIONS_PER_CALLER", "many"),
            ("PROXY_MAX_CONNECTIONS_PER_CALLER", "99999999999"),
            ("PROXY_MIN_BODY_RATE", "-1"),
        ] {
            let e = cfg(&[t, bad]).unwrap_err();
            assert!(e.0.contains(bad.0), "{e}");
        }
    }

    #[test]
    fn target_must_be_an_origin() {
        for bad in [
            "ftp://x",
            "https://u:p@x.hf.space",
            "https://x.hf.space/a",
            "https://x?y=1",
            "nope",
        ] {
            assert!(cfg(&[("PROXY_TARGET_URL", bad)]).is_err(), "{bad}");
        }
        assert!(cfg(&[]).is_err());
    }

    #[test]
    fn errors_never_echo_the_token() {
        let c = cfg(&[
            ("PROXY_TARGET_URL", "http://127.0.0.1:9"),
            ("PROXY_HF_TOKEN", "hf_secret\nx"),
        ]);
        let e = c.unwrap_err();
        assert!(!e.0.contains("hf_secret"));
        let c = cfg(&[
            ("PROXY_TARGET_URL", "http://127.0.0.1:9"),
            ("PROXY_HF_TOKEN", "hf_secret"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("hf_secret"));
    }

    #[test]
    fn rate_and_origin() {
        let c = cfg(&[
            ("PROXY_TARGET_URL", "http://127.0.0.1:8080"),
            ("PROXY_RATE_LIMIT", "5:20"),
            ("SPACE_HOST", "alice-app-proxy.hf.space"),
            ("PORT", "9000"),
        ])
        .unwrap();
        assert_eq!(
            c.rate_limit,
            Some(RateLimit {
                rps: 5.0,
                burst: 20.0
            })
        );
        assert_eq!(c.target.authority, "127.0.0.1:8080");
        let o = c.public_origin.unwrap();
        assert!(o.https);
        assert_eq!(o.authority, "alice-app-proxy.hf.space");
        assert_eq!(c.listen.port(), 9000);
        assert!(cfg(&[("PROXY_TARGET_URL", "http://x"), ("PROXY_RATE_LIMIT", "0")]).is_err());
        assert!(cfg(&[
            ("PROXY_TARGET_URL", "http://x"),
            ("PROXY_TOKEN_HEADER", "cookie")
        ])
        .is_err());
    }
}
