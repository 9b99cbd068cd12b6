//! Percent-encoding of revisions and paths in URLs (docs/hub-protocol.md#encoding).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Python's `quote(s, safe="")`: everything but `A-Za-z0-9_.-~` is encoded, `/` included.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// A revision (`main`, `refs/pr/1`, a sha) as one path segment: `refs%2Fpr%2F1`.
pub(crate) fn revision(rev: &str) -> String {
    utf8_percent_encode(rev, SEGMENT).to_string()
}

/// A query value.
pub(crate) fn query_value(v: &str) -> String {
    utf8_percent_encode(v, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions() {
        assert_eq!(revision("main"), "main");
        assert_eq!(revision("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(revision("feature/x y"), "feature%2Fx%20y");
        assert_eq!(revision("v1.0_rc-1~"), "v1.0_rc-1~");
        assert_eq!(query_value("hfdeploy-e2e-"), "hfdeploy-e2e-");
        assert_eq!(query_value("a&b=c"), "a%26b%3Dc");
    }
}
