//! The access token, wrapped so it cannot leak through `Debug`, `Display` or errors.

use std::fmt;

/// A Hugging Face access token. `Debug` and `Display` print `hf_***`; only
/// [`Token::expose`] gives the secret, and only the request builder calls it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming whitespace and line breaks (as the Python client does).
    /// Returns `None` for an empty value, which counts as "no token".
    pub fn new(value: impl Into<String>) -> Option<Token> {
        let value: String = value.into();
        let cleaned: String = value
            .trim()
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        if cleaned.is_empty() {
            None
        } else {
            Some(Token(cleaned))
        }
    }

    /// The secret itself, for the `Authorization` header or a Space secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Removes every occurrence of this token from `text` (defence in depth for
    /// server messages that might echo a header back).
    pub fn redact(&self, text: &str) -> String {
        if text.contains(self.0.as_str()) {
            text.replace(self.0.as_str(), "hf_***")
        } else {
            text.to_string()
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(hf_***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hf_***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_secret() {
        let t = Token::new("hf_supersecret123\n").unwrap();
        assert_eq!(t.expose(), "hf_supersecret123");
        assert!(!format!("{t:?}").contains("supersecret"));
        assert!(!format!("{t}").contains("supersecret"));
        assert!(!format!("{:#?}", Some(t.clone())).contains("supersecret"));
    }

    #[test]
    fn empty_is_none() {
        assert!(Token::new("  \n").is_none());
    }

    #[test]
    fn redacts() {
        let t = Token::new("hf_abc").unwrap();
        assert_eq!(t.redact("bearer hf_abc!"), "bearer hf_***!");
    }
}
