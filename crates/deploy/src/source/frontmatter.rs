//! A Space is configured by the YAML front matter of its root `README.md`; without `sdk` the Hub cannot start
//! it. When the folder's README has no front matter, or one without `sdk`, we add `sdk` from `space_sdk`
//! (and `app_port: 7860` for docker). A README that already names its `sdk` is deployed untouched.

use hub::SpaceSdk;

/// The README to deploy instead of the local one, and what was changed (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub content: Vec<u8>,
    pub note: String,
}

fn added_keys(sdk: SpaceSdk, has_app_port: bool, newline: &str) -> (String, Vec<&'static str>) {
    let mut lines = format!("sdk: {}{newline}", sdk.as_str());
    let mut keys = vec!["sdk"];
    if sdk == SpaceSdk::Docker && !has_app_port {
        lines.push_str(&format!("app_port: 7860{newline}"));
        keys.push("app_port");
    }
    (lines, keys)
}

fn top_level_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    line.split_once(':').map(|(key, _)| key.trim())
}

/// The `sdk` a README's front matter declares, if any (`sdk: docker` → `Some("docker")`).
pub fn declared_sdk(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = body.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return None;
        }
        if top_level_key(trimmed) == Some("sdk") {
            let value = trimmed.split_once(':').map(|(_, v)| v).unwrap_or_default();
            let value = value
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches(['"', '\'']);
            return (!value.is_empty()).then(|| value.to_string());
        }
    }
    None
}

/// Decides the README for a Space. `existing` is the local README.md, if any.
pub fn for_space(existing: Option<&[u8]>, sdk: SpaceSdk) -> Option<Rewritten> {
    let Some(bytes) = existing else {
        let (keys, _) = added_keys(sdk, false, "\n");
        let content = format!("---\n{keys}---\n").into_bytes();
        return Some(Rewritten {
            content,
            note: format!(
                "README.md: none in source_dir, generated one with front matter `sdk: {}`",
                sdk.as_str()
            ),
        });
    };
    let text = String::from_utf8_lossy(bytes);
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines = body.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() == "---" {
        // Find the closing delimiter; collect top-level keys on the way.
        let mut offset = first.len();
        let mut keys = Vec::new();
        for line in lines {
            let trimmed = line.trim_end();
            if trimmed == "---" || trimmed == "..." {
                if keys.contains(&"sdk") {
                    return None;
                }
                let (added, names) = added_keys(sdk, keys.contains(&"app_port"), newline);
                let mut content = String::with_capacity(body.len() + added.len());
                content.push_str(&body[..offset]);
                if !body[..offset].ends_with('\n') {
                    content.push_str(newline);
                }
                content.push_str(&added);
                content.push_str(&body[offset..]);
                return Some(Rewritten {
                    content: content.into_bytes(),
                    note: format!(
                        "README.md: front matter has no `sdk`, added {} from space_sdk",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                });
            }
            if let Some(key) = top_level_key(trimmed) {
                keys.push(key);
            }
            offset += line.len();
        }
        // An opening `---` without a closing one is not front matter: fall through and prepend.
    }
    let (added, names) = added_keys(sdk, false, newline);
    let mut content = format!("---{newline}{added}---{newline}{newline}").into_bytes();
    content.extend_from_slice(body.as_bytes());
    Some(Rewritten {
        content,
        note: format!(
            "README.md: no front matter, added {} from space_sdk",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: Option<Rewritten>) -> String {
        String::from_utf8(r.unwrap().content).unwrap()
    }

    #[test]
    fn keeps_a_readme_with_sdk() {
        assert_eq!(
            for_space(
                Some(b"---\ntitle: x\nsdk: gradio\n---\n# Hi\n"),
                SpaceSdk::Docker
            ),
            None
        );
    }

    #[test]
    fn merges_into_front_matter_without_sdk() {
        let out = text(for_space(
            Some(b"---\ntitle: x\n---\n# Hi\n"),
            SpaceSdk::Docker,
        ));
        assert_eq!(
            out,
            "---\ntitle: x\nsdk: docker\napp_port: 7860\n---\n# Hi\n"
        );
        let out = text(for_space(
            Some(b"---\napp_port: 8080\n---\n"),
            SpaceSdk::Docker,
        ));
        assert_eq!(out, "---\napp_port: 8080\nsdk: docker\n---\n");
    }

    #[test]
    fn prepends_or_generates() {
        assert_eq!(
            text(for_space(Some(b"# Hi\n"), SpaceSdk::Static)),
            "---\nsdk: static\n---\n\n# Hi\n"
        );
        assert_eq!(
            text(for_space(None, SpaceSdk::Gradio)),
            "---\nsdk: gradio\n---\n"
        );
        assert_eq!(
            text(for_space(Some(b"# Hi\r\n"), SpaceSdk::Static)),
            "---\r\nsdk: static\r\n---\r\n\r\n# Hi\r\n"
        );
    }

    #[test]
    fn reads_the_declared_sdk() {
        assert_eq!(
            declared_sdk(b"---\ntitle: x\nsdk: \"static\" # free\n---\n"),
            Some("static".into())
        );
        assert_eq!(declared_sdk(b"---\nextra:\n  sdk: x\n---\nsdk: no\n"), None);
        assert_eq!(declared_sdk(b"# no front matter\n"), None);
    }

    #[test]
    fn nested_sdk_key_does_not_count() {
        let out = text(for_space(
            Some(b"---\nextra:\n  sdk: x\n---\n"),
            SpaceSdk::Gradio,
        ));
        assert!(out.contains("\nsdk: gradio\n"), "{out}");
    }
}
