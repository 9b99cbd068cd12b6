"""One integration suite, two endpoints.

Here it starts the `hub-emulator` binary and deploys to it. In GitHub Actions, with
`HF_TEST_REAL=1`, `HF_ENDPOINT` and `HF_TOKEN` set, the very same tests deploy to the real Hub.

Environment:
  HF_TEST_REAL            1 to run against HF_ENDPOINT with HF_TOKEN instead of a local emulator
  HF_TEST_CASE            run only the tests marked with this case (space-public, space-private-proxy, model, dataset)
  HF_TEST_PREFIX          resource name prefix (default hfdeploy-e2e-); the janitor deletes by it
  HF_TEST_WORKSPACE       local scratch directory (default: pytest's tmp dir)
  HF_TEST_RESOURCES_FILE  every created repo is appended here as `type:ns/name` for teardown
  HF_DEPLOY_BIN, HUB_EMULATOR_BIN, HF_SPACE_PROXY_BIN  binaries (default: the cargo target dirs)
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest

from hfdeploy_testing import WRITE_TOKEN, binary, start_emulator
from support import Deployer, Hub, ProxyRunner

CASES = ("space-public", "space-private-proxy", "model", "dataset")


def pytest_configure(config):
    for case in CASES:
        config.addinivalue_line("markers", f"case_{case.replace('-', '_')}: runs in the `{case}` matrix job")


def pytest_collection_modifyitems(config, items):
    wanted = os.environ.get("HF_TEST_CASE", "").strip()
    if not wanted:
        return
    marker = f"case_{wanted.replace('-', '_')}"
    skip = pytest.mark.skip(reason=f"HF_TEST_CASE={wanted} selects only tests marked {marker}")
    for item in items:
        if marker not in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """The Hub under test: the real one (HF_TEST_REAL=1) or a fresh emulator."""
    resources = os.environ.get("HF_TEST_RESOURCES_FILE")
    if os.environ.get("HF_TEST_REAL") == "1":
        endpoint = os.environ["HF_ENDPOINT"].rstrip("/")
        token = os.environ["HF_TOKEN"]
        h = Hub(endpoint=endpoint, token=token, emulator=None, resources_file=resources)
        yield h
        h.cleanup()
        return
    emu = start_emulator(tmp_path_factory.mktemp("emu"))
    try:
        h = Hub(endpoint=emu.url, token=WRITE_TOKEN, emulator=emu, resources_file=resources)
        yield h
        h.cleanup()
    finally:
        emu.stop()


@pytest.fixture
def workspace(tmp_path):
    root = os.environ.get("HF_TEST_WORKSPACE")
    if not root:
        return tmp_path
    path = pathlib.Path(root) / f"{time.time_ns()}"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def deployer(hub, workspace):
    return Deployer(binary("hf-deploy"), hub, workspace)


@pytest.fixture
def proxy_runner(hub):
    runner = ProxyRunner(hub)
    yield runner
    runner.stop()


@pytest.fixture
def name(hub, request):
    """A unique repo name: prefix + timestamp + run id + case."""
    return hub.unique_name(request.node.name)

