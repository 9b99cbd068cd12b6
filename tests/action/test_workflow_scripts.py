"""The workflows' helper scripts in .github/scripts: release notes from CHANGELOG.md, and the integration
workflow's teardown (run here against the hub emulator)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from huggingface_hub import HfApi

from hfdeploy_testing import REPO_ROOT, WRITE_TOKEN

SCRIPT = REPO_ROOT / ".github" / "scripts" / "changelog-section.sh"

CHANGELOG = """# Changelog

## [Unreleased]

## [1.1.0] - 2026-12-01
### Added
- thing one

## v1.0.1
- a fix

## [1.0.0] - 2026-11-25
- first
"""


def section(version: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG)
    return subprocess.run(["bash", str(SCRIPT), version, str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("tag, body", [
    ("v1.1.0", "### Added\n- thing one"), ("1.0.1", "- a fix"), ("v1.0.0", "- first"),
])
def test_the_tag_section_is_printed_without_its_neighbours(tmp_path, tag, body):
    proc = section(tag, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == body


@pytest.mark.parametrize("tag", ["v2.0.0", "v1.0", "Unreleased"])
def test_a_missing_or_empty_section_fails(tmp_path, tag):
    proc = section(tag, tmp_path)
    assert proc.returncode != 0 and "CHANGELOG" in proc.stderr


def test_the_repository_changelog_has_notes_for_action_version():
    version = (REPO_ROOT / "action" / "VERSION").read_text().strip()
    proc = subprocess.run(["bash", str(SCRIPT), version, str(REPO_ROOT / "CHANGELOG.md")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"CHANGELOG.md needs a section for {version} (action/VERSION): {proc.stderr}"


def test_teardown_deletes_recorded_test_repos_only(emulator, tmp_path):
    api = HfApi(endpoint=emulator.url, token=WRITE_TOKEN)
    stamp = f"{os.getpid()}-{tmp_path.name}"[-30:].strip("-")
    doomed = [("model", f"alice/hfdeploy-e2e-{stamp}-m"), ("dataset", f"alice/hfdeploy-e2e-{stamp}-d")]
    kept = ("model", f"alice/keep-me-{stamp}")
    for repo_type, repo_id in doomed + [kept]:
        api.create_repo(repo_id, repo_type=repo_type)
    resources = tmp_path / "resources.txt"
    lines = [f"{t}:{r}" for t, r in doomed + [kept]] + [f"space:alice/hfdeploy-e2e-{stamp}-never-created", ""]
    resources.write_text("\n".join(lines))
    # Telemetry off: with a fresh HOME the client fetches /api/agent-harnesses for its user agent, which the
    # emulator does not serve in the Hub's shape yet (reported); it has nothing to do with the teardown.
    env = {"PATH": os.environ.get("PATH", ""), "HF_ENDPOINT": emulator.url, "HF_TOKEN": WRITE_TOKEN,
           "HOME": str(tmp_path), "HF_HUB_DISABLE_TELEMETRY": "1"}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / ".github/scripts/delete_test_repos.py"), str(resources)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert WRITE_TOKEN not in proc.stdout + proc.stderr
    for repo_type, repo_id in doomed:
        assert not api.repo_exists(repo_id, repo_type=repo_type), f"{repo_id} should be gone"
    assert api.repo_exists(kept[1], repo_type=kept[0]), "a repo without the test prefix must never be deleted"
    assert "never-created" in proc.stdout  # a 404 counts as done


def test_teardown_without_a_resources_file_is_a_no_op(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HF_TOKEN": "unused", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / ".github/scripts/delete_test_repos.py"),
                           str(tmp_path / "missing.txt")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "no recorded repos" in proc.stdout
