"""Fixtures for the action harness: the binaries, a hub emulator, the runner's folders.

Environment:
  HF_DEPLOY_BIN, HUB_EMULATOR_BIN   binaries (default: target/debug, then target/release)
Tests that need the binaries skip, saying which one is missing, when they are not built (the macOS job runs
the resolver tests without them).
"""

from __future__ import annotations

import re
import time

import pytest

from composite import CompositeAction
from hfdeploy_testing import REPO_ROOT, binary_or_skip, start_emulator


@pytest.fixture(scope="session")
def hf_deploy_bin() -> str:
    return binary_or_skip("hf-deploy")


@pytest.fixture(scope="session")
def emulator_bin() -> str:
    return binary_or_skip("hub-emulator")


@pytest.fixture(scope="session")
def emulator(emulator_bin, tmp_path_factory):
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), path=emulator_bin)
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def action() -> CompositeAction:
    return CompositeAction(REPO_ROOT)


@pytest.fixture
def unique(request) -> str:
    """A repo name unique to this test (and this run)."""
    case = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"action-{case}-{time.time_ns() % 10_000_000}"


@pytest.fixture
def runner_dirs(tmp_path):
    """The runner's own folders: workspace, temp, tool cache, home."""
    dirs = {name: tmp_path / name for name in ("workspace", "temp", "toolcache", "home")}
    for path in dirs.values():
        path.mkdir()
    return dirs
