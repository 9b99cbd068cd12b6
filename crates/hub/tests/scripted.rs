//! Hub answers the emulator does not produce (a "conflicting operation" 409, a 409 without `url`,
//! relative `Link` targets, odd error bodies), from a scripted HTTP/1.1 server.

use hub::{CreateRepo, HubClient, HubError, RepoId, RepoRef, RepoType, RetryPolicy, Token};

mod common;

use common::{answer, scripted};

const TOKEN: &str = "hf_scripted_token_5e6f7a8b";

fn client(url: &str) -> HubClient {
    HubClient::new(url, Token::new(TOKEN))
        .unwrap()
        .with_retry_policy(RetryPolicy::fast())
}

fn space() -> RepoRef {
    RepoRef::new(RepoType::Space, RepoId::parse("alice/app").unwrap())
}

#[tokio::test]
async fn conflicting_operation_409_is_retried_then_created() {
    let busy = r#"{"error":"Cannot create repo: another conflicting operation is in progress"}"#;
    let ok = r#"{"url":"https://huggingface.co/spaces/alice/app","name":"alice/app"}"#;
    let (url, seen) = scripted(vec![
        answer("409 Conflict", &[], busy),
        answer("409 Conflict", &[], busy),
        answer("200 OK", &[("content-type", "application/json")], ok),
    ])
    .await;
    let created = client(&url)
        .create_repo(&space(), &CreateRepo::default())
        .await
        .unwrap();
    assert!(!created.already_existed);
    // https://huggingface.co URLs are rewritten to the configured endpoint, like huggingface_hub does.
    assert_eq!(created.url, format!("{url}/spaces/alice/app"));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn plain_409_without_url_means_exists() {
    let (url, seen) = scripted(vec![answer(
        "409 Conflict",
        &[],
        r#"{"error":"A repository with this name already exists"}"#,
    )])
    .await;
    let created = client(&url)
        .create_repo(&space(), &CreateRepo::default())
        .await
        .unwrap();
    assert!(created.already_existed);
    assert_eq!(created.url, format!("{url}/spaces/alice/app"));
    assert_eq!(seen.lock().unwrap().len(), 1, "no retry on a real conflict");
}

#[tokio::test]
async fn relative_link_targets_are_followed() {
    let page1 = r#"[{"id":"alice/a","private":false,"createdAt":"2025-01-01T00:00:00.000Z"}]"#;
    let page2 = r#"[{"id":"alice/b","private":true}]"#;
    let (url, seen) = scripted(vec![
        answer(
            "200 OK",
            &[(
                "link",
                r#"</api/models?author=alice&cursor=abc>; rel="next""#,
            )],
            page1,
        ),
        answer("200 OK", &[], page2),
    ])
    .await;
    let repos = client(&url)
        .list_repos(RepoType::Model, "alice", Some("hfdeploy-e2e-"))
        .await
        .unwrap();
    assert_eq!(
        repos.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["alice/a", "alice/b"]
    );
    assert!(repos[1].private && repos[1].created_at.is_none());
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|h| h.lines().next().unwrap_or_default().to_string())
        .collect();
    assert!(
        lines[0].starts_with("GET /api/models?author=alice&search=hfdeploy-e2e-&expand=createdAt"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("GET /api/models?author=alice&cursor=abc "),
        "{lines:?}"
    );
}

#[tokio::test]
async fn retry_after_on_503_then_success() {
    let (url, seen) = scripted(vec![
        answer("503 Service Unavailable", &[("retry-after", "0")], "busy"),
        answer(
            "200 OK",
            &[],
            r#"{"name":"alice","auth":{"accessToken":{"role":"write"}}}"#,
        ),
    ])
    .await;
    let me = client(&url).whoami().await.unwrap();
    assert_eq!(me.name, "alice");
    assert_eq!(
        me.plan,
        hub::AccountPlan::Unknown,
        "no plan fields: let the server decide"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn error_bodies_become_messages_and_echoed_tokens_are_redacted() {
    let echo = format!(r#"{{"error":"bad header Bearer {TOKEN}"}}"#);
    let (url, _) = scripted(vec![answer(
        "400 Bad Request",
        &[("x-request-id", "req-42")],
        &echo,
    )])
    .await;
    let err = client(&url).whoami().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, HubError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert!(
        text.contains("req-42") && text.contains("bad header"),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN) && !format!("{err:?}").contains(TOKEN),
        "{text}"
    );
}

#[tokio::test]
async fn html_error_pages_are_not_dumped() {
    let (url, _) = scripted(vec![answer(
        "502 Bad Gateway",
        &[("content-type", "text/html")],
        "<html><body>gateway</body></html>",
    )])
    .await;
    let err = client(&url)
        .with_retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::fast()
        })
        .whoami()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(!err.to_string().contains("<html>"), "{err}");
}
