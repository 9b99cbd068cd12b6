//! The proxy Space's variables and its token secret, written only when they differ, so a rerun does not
//! restart the proxy (every variable or secret write restarts a Space on the Hub).
//!
//! Secrets cannot be read back. To know whether `PROXY_HF_TOKEN` holds the current token we keep a salted
//! fingerprint in the variable `PROXY_HF_TOKEN_FINGERPRINT`: `s1:<16-byte random salt, hex>:<first 16 bytes
//! of sha256(salt ‖ token), hex>`. Variables of a public Space are public, so the fingerprint is too; Hub
//! tokens are long random strings, so a truncated salted hash of one reveals nothing usable, and the
//! per-Space salt stops comparing fingerprints across Spaces. Rotating the token changes the fingerprint, so
//! the secret is rewritten exactly when it must be.

use std::collections::BTreeMap;

use hub::Token;
use sha2::{Digest as _, Sha256};

pub const TARGET_URL: &str = "PROXY_TARGET_URL";
pub const ALLOW_ORIGINS: &str = "PROXY_ALLOW_ORIGINS";
pub const TOKEN_SECRET: &str = "PROXY_HF_TOKEN";
pub const TOKEN_FINGERPRINT: &str = "PROXY_HF_TOKEN_FINGERPRINT";

const SCHEME: &str = "s1";

/// A fresh salted fingerprint of `token`.
pub fn fingerprint(token: &Token) -> String {
    let salt: [u8; 16] = rand::random();
    fingerprint_with(token, &salt)
}

fn fingerprint_with(token: &Token, salt: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(token.expose().as_bytes());
    let digest = h.finalize();
    format!(
        "{SCHEME}:{}:{}",
        hex::encode(salt),
        hex::encode(&digest[..16])
    )
}

/// Whether `stored` is a fingerprint of `token` (false for anything malformed).
pub fn fingerprint_matches(stored: &str, token: &Token) -> bool {
    let mut parts = stored.trim().split(':');
    let (Some(SCHEME), Some(salt), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    match hex::decode(salt) {
        Ok(salt) if salt.len() == 16 => fingerprint_with(token, &salt) == stored.trim(),
        _ => false,
    }
}

/// The variables hf-deploy manages; anything else in the Space (PROXY_RATE_LIMIT set by hand, say) is left alone.
pub fn wanted_variables(target_url: &str, allow_origins: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (TARGET_URL, target_url.to_string()),
        (ALLOW_ORIGINS, allow_origins.to_string()),
    ])
}

/// What a settings pass would write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SettingsPlan {
    /// Variables to set, with their new values (none is secret).
    pub variables: Vec<(&'static str, String)>,
    /// Whether the token secret (and its fingerprint) must be written.
    pub secret: bool,
}

impl SettingsPlan {
    pub fn is_empty(&self) -> bool {
        self.variables.is_empty() && !self.secret
    }
}

/// Compares the wanted settings with the Space's current variables and whether the secret exists at all.
pub fn plan(
    current: &BTreeMap<String, String>,
    secret_present: bool,
    wanted: &BTreeMap<&'static str, String>,
    token: &Token,
) -> SettingsPlan {
    let variables = wanted
        .iter()
        .filter(|(k, v)| current.get(**k) != Some(*v))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let secret = !secret_present
        || !current
            .get(TOKEN_FINGERPRINT)
            .is_some_and(|f| fingerprint_matches(f, token));
    SettingsPlan { variables, secret }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> Token {
        Token::new(s).unwrap()
    }

    #[test]
    fn fingerprints_verify_only_their_token_and_hide_it() {
        let t = token("hf_fake-fingerprint-test-token");
        let f = fingerprint(&t);
        assert!(fingerprint_matches(&f, &t));
        assert!(!fingerprint_matches(&f, &token("hf_other")));
        assert!(!f.contains(t.expose()) && !f.contains("fingerprint-test"));
        assert_ne!(f, fingerprint(&t), "a fresh salt each time");
        for bad in [
            "",
            "s1",
            "s1:zz:00",
            "s2:00:00",
            "s1:00:00:00",
            &f.replace("s1:", "s0:"),
        ] {
            assert!(!fingerprint_matches(bad, &t), "{bad:?}");
        }
    }

    #[test]
    fn plan_writes_only_what_differs() {
        let t = token("hf_proxy_read");
        let wanted = wanted_variables("https://alice-app.hf.space", "*");
        let mut current = BTreeMap::new();
        let first = plan(&current, true, &wanted, &t);
        assert_eq!(first.variables.len(), 2);
        assert!(first.secret);
        current.insert(
            TARGET_URL.to_string(),
            "https://alice-app.hf.space".to_string(),
        );
        current.insert(ALLOW_ORIGINS.to_string(), "*".to_string());
        current.insert(TOKEN_FINGERPRINT.to_string(), fingerprint(&t));
        current.insert("PROXY_RATE_LIMIT".to_string(), "5".to_string());
        assert!(plan(&current, true, &wanted, &t).is_empty());
        assert!(
            plan(&current, false, &wanted, &t).secret,
            "a secret deleted by hand is set again"
        );
        let rotated = plan(&current, true, &wanted, &token("hf_new_token"));
        assert!(rotated.secret && rotated.variables.is_empty());
        current.insert(ALLOW_ORIGINS.to_string(), "https://a.example".to_string());
        assert_eq!(
            plan(&current, true, &wanted, &t).variables,
            vec![(ALLOW_ORIGINS, "*".to_string())]
        );
    }
}
