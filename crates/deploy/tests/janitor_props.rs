//! Property test of the janitor's rule over generated names and ages: it deletes exactly the repos
//! whose name starts with the prefix and whose age is strictly past the TTL — never anything else.

use std::time::{Duration, SystemTime};

use hf_deploy::should_delete;
use proptest::prelude::*;

const PREFIX: &str = "hfdeploy-e2e-";

/// Names that often share part of the prefix, differ in case, or embed it later.
fn name() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "hfdeploy-e2e-",
        "hfdeploy-e2e",
        "HFDEPLOY-E2E-",
        "hfdeploy-",
        "e2e-",
        "x",
        "-",
        "2026",
        "app",
        "_",
        ".",
    ]);
    prop::collection::vec(piece, 0..5).prop_map(|parts| parts.concat())
}

/// Age in seconds, from 2 days in the future (clock skew) to 4 days old; `None` = unknown.
fn age() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(0.95, -2 * 86_400i64..4 * 86_400)
}

fn created(now: SystemTime, age: Option<i64>) -> Option<SystemTime> {
    age.map(|a| {
        if a >= 0 {
            now - Duration::from_secs(a as u64)
        } else {
            now + Duration::from_secs(a.unsigned_abs())
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn deletes_exactly_prefixed_and_expired(name in name(), age in age(), ttl_secs in 0u64..48 * 3600, prefix in prop::sample::select(vec![PREFIX, ""])) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ttl = Duration::from_secs(ttl_secs);
        let decision = should_delete(&name, created(now, age), now, prefix, ttl);
        let expected = !prefix.is_empty() && name.starts_with(prefix) && age.is_some_and(|a| a > ttl_secs as i64);
        prop_assert_eq!(decision, expected);
        if decision {
            prop_assert!(name.starts_with(PREFIX), "deleted a repo without the prefix: {:?}", name);
        }
    }

    #[test]
    fn never_deletes_at_or_under_the_ttl(suffix in "[a-z0-9-]{0,20}", ttl_secs in 0u64..48 * 3600, under in 0u64..48 * 3600) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let age = ttl_secs.saturating_sub(under);
        let name = format!("{PREFIX}{suffix}");
        prop_assert!(!should_delete(&name, Some(now - Duration::from_secs(age)), now, PREFIX, Duration::from_secs(ttl_secs)));
        prop_assert!(should_delete(&name, Some(now - Duration::from_secs(ttl_secs + 1)), now, PREFIX, Duration::from_secs(ttl_secs)));
    }
}

/// The generators reach both outcomes (else the properties above would prove nothing).
#[test]
fn generators_cover_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (mut deleted, mut kept) = (0, 0);
    for _ in 0..5_000 {
        let n = name().new_tree(&mut runner).unwrap().current();
        let a = age().new_tree(&mut runner).unwrap().current();
        if should_delete(
            &n,
            created(now, a),
            now,
            PREFIX,
            Duration::from_secs(6 * 3600),
        ) {
            deleted += 1;
        } else {
            kept += 1;
        }
    }
    assert!(
        deleted > 200 && kept > 200,
        "deleted {deleted}, kept {kept}"
    );
}
