"""Fixtures for the action harness: the binaries, a hub emulator, a job environment.

Environment:
  HF_DEPLOY_BIN, HUB_EMULATOR_BIN   binaries (default: target/debug, then target/release)
Tests that need the binaries skip, saying which one is missing, when they are not built.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from composite import REPO_ROOT, CompositeAction  # noqa: E402

WRITE_TOKEN = "hf_alice_write"
READ_TOKEN = "hf_bob_read"


def built_binary(env_name: str, name: str) -> str | None:
    explicit = os.environ.get(env_name)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for profile in ("debug", "release"):
        candidate = REPO_ROOT / "target" / profile / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def hf_deploy_bin() -> str:
    path = built_binary("HF_DEPLOY_BIN", "hf-deploy")
    if path is None:
        pytest.skip("hf-deploy is not built: run `cargo build -p hf-deploy` (or set HF_DEPLOY_BIN)")
    return path


@pytest.fixture(scope="session")
def emulator_bin() -> str:
    path = built_binary("HUB_EMULATOR_BIN", "hub-emulator")
    if path is None:
        pytest.skip("hub-emulator is not built: run `cargo build -p hub-emulator` (or set HUB_EMULATOR_BIN)")
    return path


@dataclasses.dataclass
class Emulator:
    process: subprocess.Popen
    url: str


def start_emulator(path: str, data_dir: pathlib.Path) -> Emulator:
    """Starts hub-emulator on a free loopback port; ready once it prints its `listening on` line."""
    process = subprocess.Popen(
        [path, "--listen", "127.0.0.1:0", "--user", f"alice:{WRITE_TOKEN}:write",
         "--user", f"bob:{READ_TOKEN}:read", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    match = re.fullmatch(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        process.wait()
        raise RuntimeError(f"hub-emulator did not start: {line!r}")
    return Emulator(process, match.group(1))


@pytest.fixture(scope="session")
def emulator(emulator_bin, tmp_path_factory):
    emu = start_emulator(emulator_bin, tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.process.terminate()
    emu.process.wait(timeout=10)


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


def base_env(runner_dirs, **extra: str) -> dict[str, str]:
    """A job environment like a hosted runner's, built from scratch (nothing leaks in from the caller's
    environment, in particular no HF_DEPLOY_BIN or token)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(runner_dirs["home"]),
        "GITHUB_WORKSPACE": str(runner_dirs["workspace"]),
        "GITHUB_REPOSITORY": "octo-org/octo-app",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ID": "4242",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": str(runner_dirs["temp"]),
        "RUNNER_TOOL_CACHE": str(runner_dirs["toolcache"]),
    }
    for key in ("CARGO_HOME", "RUSTUP_HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env
