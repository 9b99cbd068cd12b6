//! What the token may do, checked from whoami before anything is written: a valid token, write access to the
//! namespace, and a plan that allows the Space SDK being created (exit code 3 for all of them).

use hub::{AccountPlan, HubError, RepoRef, SpaceSdk, WhoAmI};

use crate::failure::Failure;

/// The message for a missing `HF_TOKEN`.
pub const MISSING_TOKEN: &str = "HF_TOKEN is not set: create a token with write access at \
    https://huggingface.co/settings/tokens and pass it in the HF_TOKEN environment variable (in the action: \
    `hf_token: ${{ secrets.HF_TOKEN }}`)";

/// A whoami failure in the user's terms.
pub fn whoami_failure(err: HubError) -> Failure {
    match err {
        HubError::Unauthorized { .. } => Failure::auth(
            "the Hub refused HF_TOKEN (401): the token is invalid, expired or revoked; create a new one with \
             write access at https://huggingface.co/settings/tokens",
        ),
        other => Failure::hub("checking the token (whoami)", other),
    }
}

/// Fails (exit 3) unless the token may write `repo`.
pub fn check_write(who: &WhoAmI, repo: &RepoRef) -> Result<(), Failure> {
    let id = repo.id.to_string();
    if who.can_write(&repo.id.namespace) || who.can_write_repo(&id) {
        return Ok(());
    }
    if who.token_role.as_deref() == Some("read") {
        return Err(Failure::auth(format!(
            "HF_TOKEN is a read-only token, so it cannot deploy to {id}: use a token with the write role, or a \
             fine-grained token with write access to {}",
            repo.id.namespace
        )));
    }
    Err(Failure::auth(format!(
        "HF_TOKEN (user {}) has no write access to the namespace {}: use a token of a member with write access, \
         or deploy under your own namespace",
        who.name, repo.id.namespace
    )))
}

/// Which Space a plan check is about: the message differs, the rule does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceRole {
    /// The Space being deployed.
    Target,
    /// The public proxy Space (always docker).
    Proxy,
}

/// The hardware a free account may still run a Gradio Space on (the Hub allows a few ZeroGPU Spaces).
pub const FREE_GRADIO_HARDWARE: &str = "zero-a10g";

/// Fails (exit 3) when creating a Space of `sdk` on `hardware` in `namespace` needs a paid plan it does not
/// have: static Spaces are free, and so is a Gradio Space on ZeroGPU. A namespace whoami does not know (not the
/// user, not one of its orgs) is left to the Hub.
pub fn check_plan(
    who: &WhoAmI,
    namespace: &str,
    sdk: SpaceSdk,
    hardware: Option<&str>,
    role: SpaceRole,
) -> Result<(), Failure> {
    let free = !sdk.needs_paid_plan()
        || (sdk == SpaceSdk::Gradio && hardware == Some(FREE_GRADIO_HARDWARE));
    if !free && who.plan_for(namespace) == AccountPlan::Free {
        return Err(plan_refusal(namespace, sdk, role));
    }
    Ok(())
}

/// The one message for a plan that cannot create the Space (also when the Hub itself answers 402).
pub fn plan_refusal(namespace: &str, sdk: SpaceSdk, role: SpaceRole) -> Failure {
    Failure::auth(match role {
        SpaceRole::Target => format!(
            "creating a {} Space needs a paid Hugging Face plan (PRO, Team or Enterprise) since July 2026, and {namespace} \
             is on the free plan: upgrade at https://huggingface.co/pricing, or use space_sdk: static (free){}",
            sdk.as_str(),
            if sdk == SpaceSdk::Gradio {
                format!(", or space_hardware: {FREE_GRADIO_HARDWARE} (ZeroGPU, open to free accounts)")
            } else {
                String::new()
            }
        ),
        SpaceRole::Proxy => format!(
            "create_proxy needs a Docker Space in {namespace:?}, and creating Docker Spaces needs a paid plan \
             (PRO, Team or Enterprise), which {namespace:?} does not have. Upgrade the plan, or drop create_proxy: \
             with PRO, the Space's \"protected\" visibility (public app, private code) can replace the proxy."
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(plan: AccountPlan) -> WhoAmI {
        WhoAmI {
            name: "carol".into(),
            plan,
            orgs: vec![],
            token_role: Some("write".into()),
            fine_grained_write_namespaces: vec![],
            fine_grained_write_repos: vec![],
        }
    }

    #[test]
    fn only_a_known_free_plan_is_refused() {
        let err = check_plan(
            &who(AccountPlan::Free),
            "carol",
            SpaceSdk::Docker,
            None,
            SpaceRole::Proxy,
        )
        .unwrap_err();
        assert_eq!(err.code(), 3);
        let text = err.to_string();
        for needle in ["PRO, Team or Enterprise", "protected", "carol"] {
            assert!(text.contains(needle), "{text}");
        }
        for plan in [
            AccountPlan::Pro,
            AccountPlan::Team,
            AccountPlan::Enterprise,
            AccountPlan::Unknown,
        ] {
            assert!(
                check_plan(
                    &who(plan),
                    "carol",
                    SpaceSdk::Docker,
                    None,
                    SpaceRole::Proxy
                )
                .is_ok(),
                "{plan:?}"
            );
        }
        // A namespace whoami does not know (not the user, not one of its orgs) is left to the Hub.
        assert!(check_plan(
            &who(AccountPlan::Free),
            "someone-else",
            SpaceSdk::Docker,
            None,
            SpaceRole::Proxy
        )
        .is_ok());
        // A Gradio Space on ZeroGPU is free; on the default hardware it is not.
        for (hardware, ok) in [
            (Some("zero-a10g"), true),
            (Some("cpu-basic"), false),
            (None, false),
        ] {
            assert_eq!(
                check_plan(
                    &who(AccountPlan::Free),
                    "carol",
                    SpaceSdk::Gradio,
                    hardware,
                    SpaceRole::Target
                )
                .is_ok(),
                ok,
                "{hardware:?}"
            );
        }
        let refused = check_plan(
            &who(AccountPlan::Free),
            "carol",
            SpaceSdk::Gradio,
            None,
            SpaceRole::Target,
        )
        .unwrap_err();
        assert!(
            refused.message.contains("space_hardware: zero-a10g"),
            "{refused}"
        );
        // Static Spaces are free.
        assert!(check_plan(
            &who(AccountPlan::Free),
            "carol",
            SpaceSdk::Static,
            None,
            SpaceRole::Target
        )
        .is_ok());
    }
}
