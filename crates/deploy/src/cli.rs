//! The command line: subcommands and flags. Every deploy input is a flag with an `HF_DEPLOY_*` environment
//! fallback; values stay raw strings here and get their meaning (and their error messages) in `validate`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// `hf-deploy`: deploy a folder to a Hugging Face Space, model or dataset.
#[derive(Debug, Parser)]
#[command(
    name = "hf-deploy",
    version,
    about = "Deploy a folder to a Hugging Face Space, model or dataset, uploading only what changed.",
    after_help = "Tokens come from the environment only: HF_TOKEN (and HF_DEPLOY_PROXY_HF_TOKEN for the proxy).\n\
                  HF_ENDPOINT selects another Hub. Exit codes: 0 ok, 1 runtime failure, 2 bad input, 3 auth/permission."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a Hub repo hold exactly what `--source-dir` holds, in one commit.
    Deploy(Box<DeployArgs>),
    /// Delete test repos whose name starts with a prefix and that are older than a duration.
    Janitor(JanitorArgs),
}

/// Inputs of `hf-deploy deploy`, named like the action's inputs. Booleans accept `true`/`false` (a bare flag
/// means true); empty environment values count as unset.
#[derive(Debug, Clone, Default, Args)]
pub struct DeployArgs {
    /// Target repo: `owner/name`, `name` (under the token's owner) or `same_with_github_repo`.
    #[arg(long, env = "HF_DEPLOY_HUGGINGFACE_REPO", value_name = "REPO")]
    pub huggingface_repo: Option<String>,
    /// `space`, `model` or `dataset` [default: space].
    #[arg(long, env = "HF_DEPLOY_REPO_TYPE", value_name = "TYPE")]
    pub repo_type: Option<String>,
    /// `gradio`, `streamlit`, `docker` or `static` [default: gradio].
    #[arg(long, env = "HF_DEPLOY_SPACE_SDK", value_name = "SDK")]
    pub space_sdk: Option<String>,
    /// Create the repo private (on creation only); same as `--visibility private`/`public`.
    #[arg(long, env = "HF_DEPLOY_PRIVATE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub private: Option<String>,
    /// `public`, `private` or `protected` (PRO Spaces: public app, private files), on creation only
    /// [default: the account's default].
    #[arg(long, env = "HF_DEPLOY_VISIBILITY", value_name = "VISIBILITY")]
    pub visibility: Option<String>,
    /// Hardware of a Space created now (`cpu-basic`, `zero-a10g`, …) [default: the Hub's].
    #[arg(long, env = "HF_DEPLOY_SPACE_HARDWARE", value_name = "FLAVOR")]
    pub space_hardware: Option<String>,
    /// Folder to deploy [default: .].
    #[arg(long, env = "HF_DEPLOY_SOURCE_DIR", value_name = "DIR")]
    pub source_dir: Option<String>,
    /// Also create or update a public proxy Space in front of the Space.
    #[arg(long, env = "HF_DEPLOY_CREATE_PROXY", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub create_proxy: Option<String>,
    /// Proxy Space id is `{huggingface_repo}{suffix}` [default: -proxy].
    #[arg(long, env = "HF_DEPLOY_PROXY_SPACE_SUFFIX", value_name = "SUFFIX")]
    pub proxy_space_suffix: Option<String>,
    /// Upstream of the proxy [default: the Space's own URL].
    #[arg(long, env = "HF_DEPLOY_PROXY_TARGET_URL", value_name = "URL")]
    pub proxy_target_url: Option<String>,
    /// CORS origins the proxy allows, comma separated [default: *].
    #[arg(long, env = "HF_DEPLOY_PROXY_ALLOW_ORIGINS", value_name = "ORIGINS")]
    pub proxy_allow_origins: Option<String>,
    /// Commit title [default: `Deploy {sha} from {repository} (run {run_id})` in GitHub, else `Deploy with hf-deploy`].
    #[arg(long, env = "HF_DEPLOY_COMMIT_MESSAGE", value_name = "TEXT")]
    pub commit_message: Option<String>,
    /// Globs of files to deploy, comma or newline separated [default: everything].
    #[arg(long, env = "HF_DEPLOY_INCLUDE", value_name = "GLOBS")]
    pub include: Option<String>,
    /// Globs of files to leave out, comma or newline separated.
    #[arg(long, env = "HF_DEPLOY_EXCLUDE", value_name = "GLOBS")]
    pub exclude: Option<String>,
    /// Delete remote files that are not in the folder (`.gitattributes` is kept) [default: true].
    #[arg(long, env = "HF_DEPLOY_DELETE_STALE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub delete_stale: Option<String>,
    /// Branch to commit to [default: main].
    #[arg(long, env = "HF_DEPLOY_REVISION", value_name = "BRANCH")]
    pub revision: Option<String>,
    /// Open a pull request instead of committing to the branch.
    #[arg(long, env = "HF_DEPLOY_CREATE_PR", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub create_pr: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long, env = "HF_DEPLOY_DRY_RUN", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<String>,
    /// Spaces: wait until the Space runs [default: true].
    #[arg(long, env = "HF_DEPLOY_WAIT", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub wait: Option<String>,
    /// How long to wait for the Space: seconds, or a duration like 15m [default: 900].
    #[arg(long, env = "HF_DEPLOY_WAIT_TIMEOUT", value_name = "SECONDS")]
    pub wait_timeout: Option<String>,
    /// Reuse the digests of files unchanged since the last run, and the file list of the commit the last run
    /// made or listed, from this machine's cache (`HF_DEPLOY_CACHE_DIR`, else `$XDG_CACHE_HOME/hf-deploy` or
    /// `~/.cache/hf-deploy`) [default: true].
    #[arg(long, env = "HF_DEPLOY_HASH_CACHE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub hash_cache: Option<String>,
    /// Print one JSON object with the result on stdout (logs go to stderr).
    #[arg(long, env = "HF_DEPLOY_JSON", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub json: Option<String>,
}

/// `hf-deploy janitor`: delete leftovers of test runs.
#[derive(Debug, Clone, Args)]
pub struct JanitorArgs {
    /// Only repos whose name starts with this prefix (never empty).
    #[arg(long, env = "HF_DEPLOY_JANITOR_PREFIX", default_value = "hfdeploy-e2e-", value_parser = parse_prefix)]
    pub prefix: String,
    /// Only repos created longer ago than this: `30m`, `6h`, `2d`, `90s`.
    #[arg(long, env = "HF_DEPLOY_JANITOR_OLDER_THAN", default_value = "6h", value_parser = parse_duration)]
    pub older_than: Duration,
    /// Namespace to clean [default: the token's owner].
    #[arg(long, env = "HF_DEPLOY_JANITOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// List what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object with the result on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Parses `30m`, `6h`, `2d`, `90s` or plain seconds (`900`): a whole number and at most one unit. The one
/// duration syntax of every input and flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| {
        format!("{text:?} is not a duration: use a number and a unit, like 30m, 6h or 2d")
    })?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit: use s, m, h or d (like 30m, 6h or 2d)"
            ))
        }
    };
    value
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

fn parse_prefix(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() < 3 {
        return Err(
            "the prefix must have at least 3 characters, so the janitor never matches every repo"
                .into(),
        );
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        // Plain seconds, as wait_timeout always took them.
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        for bad in ["", "h", "6x", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
