//! What the token may do, checked from whoami before anything is written: a valid token, write access to the
//! namespace, and a plan that allows the Space SDK being created (exit code 3 for all of them).

use hub::{HubError, Plan as AccountPlan, RepoRef, RepoType, WhoAmI};

use crate::contract::SpaceSdk;
use crate::exit::Failure;

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

/// Fails (exit 3) when creating a Space of `sdk` in this namespace needs a paid plan it does not have.
pub fn check_plan(who: &WhoAmI, repo: &RepoRef, sdk: SpaceSdk) -> Result<(), Failure> {
    if repo.repo_type == RepoType::Space
        && sdk.needs_paid_plan()
        && who.plan_for(&repo.id.namespace) == AccountPlan::Free
    {
        return Err(Failure::auth(format!(
            "creating a {} Space needs a paid Hugging Face plan (PRO, Team or Enterprise) since July 2026, and {} is \
             on the free plan: upgrade at https://huggingface.co/pricing, or use space_sdk: static (free)",
            sdk.as_str(),
            repo.id.namespace
        )));
    }
    Ok(())
}
