//! Property test of the janitor's rule over generated names and ages: it deletes exactly the repos
//! whose name starts with the prefix and whose age is strictly past the TTL — never anything else.

use std::time::{Duration, SystemTime};

use hf_deploy::commands::janitor::should_delete;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PREFIX: &str = "hfdeploy-e2e-";

/// Names that often share part of the prefix, differ in case, or embed it later.
fn name(rng: &mut StdRng) -> String {
    let pieces = [
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
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(0..5) {
        s.push_str(pieces[rng.random_range(0..pieces.len())]);
    }
    s
}

#[test]
fn deletes_exactly_prefixed_and_expired() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (mut deleted, mut kept) = (0, 0);
    for _ in 0..50_000 {
        let name = name(&mut rng);
        let ttl = Duration::from_secs(rng.random_range(0..48 * 3600));
        // Ages from 2 days in the future (clock skew) to 4 days old, some exactly at the TTL.
        let offset: i64 = if rng.random_bool(0.05) {
            ttl.as_secs() as i64
        } else {
            rng.random_range(-2 * 86_400..4 * 86_400)
        };
        let created = if rng.random_bool(0.05) {
            None
        } else if offset >= 0 {
            Some(now - Duration::from_secs(offset as u64))
        } else {
            Some(now + Duration::from_secs(offset.unsigned_abs()))
        };
        let prefix = if rng.random_bool(0.02) { "" } else { PREFIX };
        let decision = should_delete(&name, created, now, prefix, ttl);
        let expected = !prefix.is_empty()
            && name.starts_with(prefix)
            && created.is_some()
            && offset > ttl.as_secs() as i64;
        assert_eq!(
            decision, expected,
            "name {name:?} offset {offset}s ttl {ttl:?} prefix {prefix:?}"
        );
        if decision {
            assert!(
                name.starts_with(PREFIX),
                "deleted a repo without the prefix: {name:?}"
            );
            deleted += 1;
        } else {
            kept += 1;
        }
    }
    // The generator must exercise both outcomes, or the test proves nothing.
    assert!(
        deleted > 1_000 && kept > 1_000,
        "deleted {deleted}, kept {kept}"
    );
}
