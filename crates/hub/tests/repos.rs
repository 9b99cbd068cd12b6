//! whoami, create/info/delete/visibility and listing against the emulator.

mod common;

use common::*;
use hub::{AccountPlan, CreateRepo, HubClient, HubError, RepoId, RepoRef, RepoType};

#[tokio::test]
async fn whoami_reports_role_plan_and_orgs() {
    let emu = emulator().await;
    let alice = client(&emu, ALICE).whoami().await.unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.token_role.as_deref(), Some("write"));
    assert_eq!(alice.plan, AccountPlan::Pro);
    assert_eq!(alice.plan_for("acme"), AccountPlan::Team);
    assert!(alice.can_write("alice") && alice.can_write("acme") && !alice.can_write("bob"));

    let bob = client(&emu, BOB).whoami().await.unwrap();
    assert_eq!(bob.token_role.as_deref(), Some("read"));
    assert!(!bob.can_write("bob"));

    let carol = client(&emu, CAROL).whoami().await.unwrap();
    assert_eq!(carol.plan, AccountPlan::Free);

    let err = client(&emu, "hf_not_a_real_token")
        .whoami()
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::Unauthorized { .. }), "{err:?}");
    let anonymous = HubClient::new(emu.url(), None).unwrap();
    assert!(matches!(
        anonymous.whoami().await,
        Err(HubError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn create_twice_then_delete_twice() {
    let emu = emulator().await;
    let c = client(&emu, ALICE);
    let space = RepoRef::new(RepoType::Space, RepoId::parse("alice/app").unwrap());
    let opts = CreateRepo {
        visibility: Some(hub::Visibility::Private),
        space_sdk: Some(hub::SpaceSdk::Docker),
        hardware: None,
    };
    let first = c.create_repo(&space, &opts).await.unwrap();
    assert!(!first.already_existed);
    assert_eq!(first.url, format!("{}/spaces/alice/app", emu.url()));
    let second = c.create_repo(&space, &opts).await.unwrap();
    assert!(second.already_existed);
    assert_eq!(second.url, first.url);

    let info = c.repo_info(&space, None).await.unwrap().expect("exists");
    assert!(info.private);
    assert_eq!(info.sdk.as_deref(), Some("docker"));
    assert!(
        info.host
            .as_deref()
            .is_some_and(|h| h.starts_with("http://127.0.0.1:")),
        "{info:?}"
    );
    assert_eq!(info.sha.len(), 40);

    c.update_visibility(&space, false).await.unwrap();
    assert!(!c.repo_info(&space, None).await.unwrap().unwrap().private);

    let dataset = RepoRef::new(RepoType::Dataset, RepoId::parse("acme/data").unwrap());
    let created = c
        .create_repo(&dataset, &CreateRepo::default())
        .await
        .unwrap();
    assert_eq!(created.url, format!("{}/datasets/acme/data", emu.url()));

    assert!(c.delete_repo(&space).await.unwrap());
    assert!(
        !c.delete_repo(&space).await.unwrap(),
        "second delete is a 404 = already gone"
    );
    assert!(c.repo_info(&space, None).await.unwrap().is_none());
}

#[tokio::test]
async fn plans_and_permissions_map_to_error_kinds() {
    let emu = emulator().await;
    let space = |id: &str| RepoRef::new(RepoType::Space, RepoId::parse(id).unwrap());
    let carol = client(&emu, CAROL);
    let docker = CreateRepo {
        visibility: Some(hub::Visibility::Public),
        space_sdk: Some(hub::SpaceSdk::Docker),
        hardware: None,
    };
    let err = carol
        .create_repo(&space("carol/paid"), &docker)
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::PaymentRequired { .. }), "{err:?}");
    let stat = CreateRepo {
        visibility: Some(hub::Visibility::Public),
        space_sdk: Some(hub::SpaceSdk::Static),
        hardware: None,
    };
    assert!(
        !carol
            .create_repo(&space("carol/site"), &stat)
            .await
            .unwrap()
            .already_existed
    );

    let bob = client(&emu, BOB);
    let err = bob
        .create_repo(&model("bob/nope"), &CreateRepo::default())
        .await
        .unwrap_err();
    assert!(matches!(err.status(), Some(401 | 403)), "{err:?}");
    let err = client(&emu, ALICE)
        .create_repo(&model("bob/theirs"), &CreateRepo::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
    assert_eq!(
        emu.mutation_count(),
        1,
        "only carol's static Space was created"
    );
}

#[tokio::test]
async fn listing_filters_by_author_and_search_across_pages() {
    let emu = hub_emulator::Emulator::builder()
        .user("alice", ALICE, hub_emulator::Role::Write)
        .org("acme", &["alice"])
        .list_page_size(2)
        .start()
        .await
        .unwrap();
    let c = client(&emu, ALICE);
    for name in [
        "alice/e2e-1",
        "alice/e2e-2",
        "alice/other",
        "alice/E2E-3",
        "alice/e2e-4",
        "acme/e2e-5",
    ] {
        c.create_repo(&model(name), &CreateRepo::default())
            .await
            .unwrap();
    }
    let mut ids: Vec<String> = c
        .list_repos(RepoType::Model, "alice", Some("e2e-"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["alice/E2E-3", "alice/e2e-1", "alice/e2e-2", "alice/e2e-4"]
    );
    let all = c.list_repos(RepoType::Model, "alice", None).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|r| r.created_at_time().is_some()), "{all:?}");
    assert!(c
        .list_repos(RepoType::Space, "alice", None)
        .await
        .unwrap()
        .is_empty());
    let pages = emu
        .journal()
        .iter()
        .filter(|e| e.path == "/api/models")
        .count();
    assert!(
        pages >= 2 + 3,
        "paged listing expected, saw {pages} requests"
    );
}
