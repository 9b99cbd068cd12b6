"""The action, run as the runner runs it, against a hub emulator with the real hf-deploy binary.

Skips (saying which binary is missing) until `cargo build -p hf-deploy -p hub-emulator` has run.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from huggingface_hub import HfApi

from composite import base_env
from hfdeploy_testing import READ_TOKEN, WRITE_TOKEN

OUTPUTS = {"repo_id", "repo_url", "space_url", "proxy_enabled", "proxy_repo_id", "proxy_url", "commit_sha", "pr_url"}

# The `with:` block of hugging-push's README (backendcloud/hugging-push, v0.2.3), keys and values as
# published, including `huggingface_repo` left commented out so that its default applies.
LEGACY_WITH = """
# huggingface_repo: 'ChatGPT'
hf_token: ${{ secrets.HF_TOKEN }}
repo_type: 'space'
private: false
space_sdk: 'gradio'
"""


def with_secrets(block: str, secrets: dict[str, str]) -> dict:
    """What the workflow hands the action: `with:` after `${{ secrets.X }}` is evaluated."""
    def secret(match):
        return secrets[match.group(1)]
    return yaml.safe_load(re.sub(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", secret, block))


@pytest.fixture
def job(action, hf_deploy_bin, emulator, runner_dirs):
    """Runs the action in a job whose workspace holds `files`, against the emulator."""
    def run(inputs: dict, files: dict[str, str], *, tokens=(WRITE_TOKEN,), **env_extra):
        workspace = runner_dirs["workspace"]
        for rel, content in files.items():
            path = workspace / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        # The emulator's Spaces run after a poll or two: no need for the real Hub's 2 s interval.
        env = base_env(runner_dirs, HF_ENDPOINT=emulator.url, HF_DEPLOY_BIN=hf_deploy_bin,
                       HF_DEPLOY_POLL_INTERVAL_MS="100", **env_extra)
        result = action.run(inputs, workspace=workspace, env=env, timeout=300)
        for token in tokens:
            # On a runner the binary masks every token before printing anything (AGENTS.md).
            assert token in result.masks, "hf-deploy did not ::add-mask:: a token it was given"
            for text in (result.log, result.summary, json.dumps(result.outputs)):
                assert token not in text, "a token leaked into the job log, summary or outputs"
        return result
    return run


@pytest.fixture
def hub(emulator):
    return HfApi(endpoint=emulator.url, token=WRITE_TOKEN)


GRADIO_APP = {"app.py": "import gradio as gr\n", "requirements.txt": "gradio\n"}


def assert_outputs_contract(outputs: dict[str, str]):
    assert set(outputs) == OUTPUTS
    assert outputs["proxy_enabled"] in ("true", "false")
    if outputs["proxy_enabled"] == "false":
        assert outputs["proxy_repo_id"] == "" and outputs["proxy_url"] == ""
    # No pull request unless asked; a commit id whenever something changed.
    assert outputs["pr_url"] == ""
    assert outputs["commit_sha"] == "" or len(outputs["commit_sha"]) == 40


def test_space_deploy_sets_the_six_outputs(job, hub, unique):
    result = job({"huggingface_repo": f"alice/{unique}", "hf_token": WRITE_TOKEN, "source_dir": "app"},
                 {f"app/{k}": v for k, v in GRADIO_APP.items()} | {"not-deployed.txt": "outside source_dir"})
    assert result.returncode == 0, result.log
    out = result.outputs
    assert_outputs_contract(out)
    assert out["repo_id"] == f"alice/{unique}"
    assert out["repo_url"].rstrip("/").endswith(f"/spaces/alice/{unique}")
    assert out["space_url"].startswith("http")
    assert out["proxy_enabled"] == "false"
    # At the commit the deploy reported: right after a commit, `main` may still read as the previous head.
    files = set(hub.list_repo_files(f"alice/{unique}", repo_type="space", revision=out["commit_sha"]))
    assert files >= set(GRADIO_APP)
    assert "not-deployed.txt" not in files
    assert result.summary.strip(), "the deploy should describe itself in the job summary"


def test_legacy_hugging_push_snippet_runs_unchanged(job, hub, unique):
    inputs = with_secrets(LEGACY_WITH, {"HF_TOKEN": WRITE_TOKEN})
    assert set(inputs) == {"hf_token", "repo_type", "private", "space_sdk"} and inputs["private"] is False
    # huggingface_repo's default: the GitHub repository's name under the token's owner.
    result = job(inputs, GRADIO_APP, GITHUB_REPOSITORY=f"octo-org/{unique}")
    assert result.returncode == 0, result.log
    assert_outputs_contract(result.outputs)
    assert result.outputs["repo_id"] == f"alice/{unique}"
    assert hub.repo_info(f"alice/{unique}", repo_type="space").private is False


def test_legacy_snippet_with_huggingface_repo_set(job, hub, unique):
    block = LEGACY_WITH.replace("# huggingface_repo: 'ChatGPT'", f"huggingface_repo: '{unique}'")
    result = job(with_secrets(block, {"HF_TOKEN": WRITE_TOKEN}), GRADIO_APP)
    assert result.returncode == 0, result.log
    assert result.outputs["repo_id"] == f"alice/{unique}"


@pytest.mark.parametrize("repo_type, url_part", [("model", "/alice/"), ("dataset", "/datasets/alice/")])
def test_model_and_dataset_outputs(job, hub, unique, repo_type, url_part):
    result = job({"huggingface_repo": f"alice/{unique}", "hf_token": WRITE_TOKEN, "repo_type": repo_type,
                  "source_dir": "dist", "exclude": "*.tmp"},
                 {"dist/weights.txt": "w\n", "dist/scratch.tmp": "x\n"})
    assert result.returncode == 0, result.log
    out = result.outputs
    assert_outputs_contract(out)
    assert out["repo_id"] == f"alice/{unique}"
    assert url_part + unique in out["repo_url"] and "/spaces/" not in out["repo_url"]
    assert out["space_url"] == "" and out["proxy_enabled"] == "false"
    files = set(hub.list_repo_files(f"alice/{unique}", repo_type=repo_type, revision=out["commit_sha"]))
    assert "weights.txt" in files and "scratch.tmp" not in files


def test_private_space_with_proxy(job, emulator, hub, unique):
    proxy_token = READ_TOKEN
    result = job({"huggingface_repo": f"alice/{unique}", "hf_token": WRITE_TOKEN, "space_sdk": "docker",
                  "private": True, "create_proxy": True, "proxy_hf_token": proxy_token,
                  "proxy_allow_origins": "https://site.example"},
                 {"Dockerfile": "FROM scratch\n"}, tokens=(WRITE_TOKEN, proxy_token))
    assert result.returncode == 0, result.log
    out = result.outputs
    assert_outputs_contract(out)
    assert out["proxy_enabled"] == "true"
    assert out["proxy_repo_id"] == f"alice/{unique}-proxy"
    assert out["proxy_url"].startswith("http")
    assert hub.repo_info(f"alice/{unique}", repo_type="space").private is True
    # proxy_hf_token reached the binary as HF_DEPLOY_PROXY_HF_TOKEN and became the proxy's secret.
    assert emulator.secret(out["proxy_repo_id"], "PROXY_HF_TOKEN") == proxy_token


def test_dry_run_changes_nothing(job, emulator, unique):
    before = emulator.mutations()
    result = job({"huggingface_repo": f"alice/{unique}", "hf_token": WRITE_TOKEN, "dry_run": "true"}, GRADIO_APP)
    assert result.returncode == 0, result.log
    assert_outputs_contract(result.outputs)
    assert emulator.mutations() == before


def test_empty_token_is_an_auth_error_and_changes_nothing(job, emulator, unique):
    # A fork pull request gets an empty string for `${{ secrets.HF_TOKEN }}`.
    before = emulator.mutations()
    result = job({"huggingface_repo": f"alice/{unique}", "hf_token": ""}, GRADIO_APP, tokens=())
    assert result.returncode == 3, result.log
    assert "HF_TOKEN" in result.log or "hf_token" in result.log
    assert emulator.mutations() == before


def test_inputs_are_data_not_shell(job, runner_dirs, unique):
    hostile = '$(touch pwned-subst)`touch pwned-tick`"; touch pwned-quote; echo "'
    result = job({"huggingface_repo": hostile, "hf_token": WRITE_TOKEN, "commit_message": hostile}, GRADIO_APP)
    assert result.returncode == 2, result.log
    assert not list(runner_dirs["workspace"].glob("pwned*")), "an input was executed as shell"
