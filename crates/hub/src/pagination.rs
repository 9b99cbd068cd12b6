//! GitHub-style `Link` headers: `<https://…&cursor=…>; rel="next"`.

/// The `rel="next"` target of a `Link` header value, if any.
pub(crate) fn next_link(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        rest = &rest[end + 1..];
        // Parameters run until the next link (a ',' followed by '<') or the end.
        let params_end = rest.find('<').unwrap_or(rest.len());
        let params = &rest[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_string());
        }
        rest = &rest[params_end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_next() {
        let v = r#"<https://huggingface.co/api/models/x/y/tree/main?recursive=true&cursor=abc>; rel="next""#;
        assert_eq!(
            next_link(v).as_deref(),
            Some("https://huggingface.co/api/models/x/y/tree/main?recursive=true&cursor=abc")
        );
    }

    #[test]
    fn picks_next_among_several() {
        let v = r#"<http://h/a?cursor=1>; rel="prev", <http://h/a?c=1,2&cursor=2>; rel="next""#;
        assert_eq!(next_link(v).as_deref(), Some("http://h/a?c=1,2&cursor=2"));
        assert_eq!(
            next_link(r#"<http://h/a>; rel=next"#).as_deref(),
            Some("http://h/a")
        );
        assert_eq!(next_link(r#"<http://h/a>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated"), None);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_target_roundtrips(target in "https?://[a-z0-9.:]{1,20}/[A-Za-z0-9/?&=%,;_.-]{0,80}", other in "[a-z]{1,8}") {
                let value = format!("<{target}>; rel=\"{other}x\", <{target}&n=1>; rel=\"next\"");
                let expected = format!("{target}&n=1");
                prop_assert_eq!(next_link(&value), Some(expected));
                prop_assert_eq!(next_link(&format!("<{target}>; rel=\"{other}x\"")), None);
            }

            #[test]
            fn never_panics(value in "\\PC{0,200}") {
                let _ = next_link(&value);
            }
        }
    }
}
