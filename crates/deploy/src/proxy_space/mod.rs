//! What the public proxy Space in front of a private Space holds (`create_proxy: true`): its files (the
//! embedded template) and its settings (variables and the token secret). The deploy engine plans and writes
//! them like everything else: `engine` reads the Space's state, `plan::proxy` compares, `execute::proxy` writes.

pub mod settings;
pub mod template;

use hub::RepoId;

use crate::failure::Failure;

/// `{target}{suffix}` in the target's namespace (the name was checked in `validate`).
///
/// ```text
/// proxy_repo_id(alice/app, "-proxy") == alice/app-proxy
/// ```
pub fn proxy_repo_id(target: &RepoId, suffix: &str) -> Result<RepoId, Failure> {
    RepoId::new(&target.namespace, &format!("{}{suffix}", target.name)).map_err(|e| {
        Failure::input(format!(
            "proxy_space_suffix: the proxy Space id {}/{}{suffix} is not valid: {e}",
            target.namespace, target.name
        ))
    })
}
