"""Issue 16, "only our binary": what an attacker who controls a release, a cache folder or the network can make
the action run. Each test plays the attack; the release host is a local HTTP server (HF_DEPLOY_DOWNLOAD_BASE),
the checksums are pinned in a copy of the action's checkout (pinning.py), cargo is a stand-in on PATH.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import pathlib
import stat
import subprocess
import tarfile
import threading

import pytest

from composite import CompositeAction
from hfdeploy_testing import REPO_ROOT, free_port
from pinning import action_copy, pin
from test_binary_delivery import (  # noqa: F401 (fakes and server are fixtures)
    FAKE_DEPLOY, TOKEN, fakes, job_env, run, server,
)

VERSION = "1.2.3"
LINUX = "x86_64-unknown-linux-musl"
ASSET = f"hf-deploy-{LINUX}.tar.gz"
PROXY_TOKEN = "hf_proxy_never_printed_9876543210"
OIDC_REQUEST_TOKEN = "oidc-request-token-never-in-a-build"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_of(script: str, target: str = LINUX) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = script.encode()
        info = tarfile.TarInfo(f"hf-deploy-{target}/hf-deploy")
        info.size = len(data)
        info.mode = 0o755
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def pinned(tmp_path) -> pathlib.Path:
    """The action's checkout at a release commit: action/checksums/ starts empty, tests pin what they need."""
    return action_copy(tmp_path / "action-checkout")


def publish_and_pin(server, pinned, version=VERSION, target=LINUX) -> tuple[str, str]:
    """A genuine release: the archive on the host and its digest pinned in the checkout."""
    asset = server.publish(version, target)
    digest = sha256((server.root / f"v{version}" / asset).read_bytes())
    pin(pinned, version, asset, digest)
    return asset, digest


def resolve(action_dir: pathlib.Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """action/resolve-binary.sh alone, with exactly `env` (the harness always sets RUNNER_TEMP; these don't)."""
    return subprocess.run(["bash", str(action_dir / "action" / "resolve-binary.sh")], env=env,
                          capture_output=True, text=True, timeout=120)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


class StatusServer:
    """Answers every GET with one HTTP status and an empty body."""

    def __init__(self, status: int):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                outer.requests.append(self.path)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# 1. The checksum comes from the action's git checkout, never from the release it checks.

def test_a_tampered_release_with_a_matching_sha256_asset_is_refused(pinned, runner_dirs, fakes, server):
    """The attacker controls the release: a swapped archive and a .sha256 asset that matches it."""
    genuine = sha256(b"the archive the release workflow built and pinned")
    pinned_file = pin(pinned, VERSION, ASSET, genuine)
    server.publish(VERSION, LINUX)  # the attacker's archive with its own, matching, .sha256
    served = sha256((server.root / f"v{VERSION}" / ASSET).read_bytes())
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)

    result = run(CompositeAction(pinned), runner_dirs, env)

    assert result.returncode != 0
    assert not fakes["marker"].exists(), "the attacker's binary ran"
    assert not fakes["cargo_log"].exists(), "a mismatch is an attack or corruption, not a reason to build"
    errors = [m for m in result.annotations("error") if "sha256 mismatch" in m]
    assert errors, result.log
    assert str(pinned_file) in errors[0] and genuine in errors[0] and served in errors[0], errors[0]
    assert not any(runner_dirs["toolcache"].rglob(ASSET)), "a rejected archive must not be cached"


def test_the_release_sha256_asset_is_neither_needed_nor_trusted(pinned, runner_dirs, fakes, server):
    publish_and_pin(server, pinned)
    (server.root / f"v{VERSION}" / f"{ASSET}.sha256").write_text("<html>anything the release says</html>\n")
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    assert server.requests == [f"/v{VERSION}/{ASSET}"]
    assert fakes["marker"].exists() and not fakes["cargo_log"].exists()


def test_without_a_pinned_checksum_nothing_is_downloaded(pinned, runner_dirs, fakes, server):
    """A version this checkout pins nothing for (a commit that is not a release commit): nothing to verify a
    download against, so the action builds its own source instead of running whatever the release holds."""
    server.publish(VERSION, LINUX)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    assert server.requests == []
    assert any("no sha256 pinned" in n and f"{VERSION}.sha256" in n for n in result.annotations("notice")), result.log
    cwd, *argv = fakes["cargo_log"].read_text().splitlines()
    assert pathlib.Path(cwd) == pinned and argv[:3] == ["build", "--release", "--locked"]


# 2. A cached archive is re-verified against the pin on every run; nothing planted in a cache runs.

def test_a_binary_planted_in_the_tool_cache_never_runs(pinned, runner_dirs, fakes, server, tmp_path):
    publish_and_pin(server, pinned)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    action = CompositeAction(pinned)
    first = run(action, runner_dirs, env)
    assert first.returncode == 0, first.log
    fakes["marker"].unlink()

    # Another job on a self-hosted runner shares the tool cache: it replaces whatever the first run cached,
    # and also plants a binary where the resolver used to look for one.
    planted_marker = tmp_path / "planted-binary-ran"
    planted = f"#!/usr/bin/env bash\ntouch '{planted_marker}'\n"
    cache = runner_dirs["toolcache"]
    cached_files = [path for path in cache.rglob("*") if path.is_file()]
    assert cached_files, "the first run cached nothing"
    for path in cached_files:
        if path.name.endswith((".tar.gz", ".zip")):
            path.write_bytes(archive_of(planted))
        else:
            path.write_text(planted)
            path.chmod(0o755)
    legacy = cache / "hf-deploy" / VERSION / LINUX
    legacy.mkdir(parents=True, exist_ok=True)
    (legacy / "hf-deploy").write_text(planted)
    (legacy / "hf-deploy").chmod(0o755)
    legacy.with_name(LINUX + ".complete").touch()

    second = run(action, runner_dirs, env)
    assert not planted_marker.exists(), "a binary planted in the tool cache ran"
    assert second.returncode == 0, second.log
    assert fakes["marker"].exists(), "the genuine release binary should have run"
    assert any("does not match the sha256 pinned" in w for w in second.annotations("warning")), second.log

    # The download replaced the planted archive: the next run is a verified cache hit.
    requests = len(server.requests)
    third = run(action, runner_dirs, env)
    assert third.returncode == 0, third.log
    assert len(server.requests) == requests, "a verified cache hit should not download"
    assert "sha256 verified" in third.log and not planted_marker.exists()


# The binary runs from a folder of its own: where it runs, nobody else can write, and nothing stays behind.
WHERE_DEPLOY = FAKE_DEPLOY.replace(
    'touch "$FAKE_MARKER"',
    'run_dir=$(cd "$(dirname "$0")/../.." && pwd); echo "$run_dir $(stat -c %a "$run_dir")" > "$FAKE_MARKER"')


def test_the_release_binary_runs_from_a_private_folder_removed_afterwards(pinned, runner_dirs, fakes, server):
    folder = server.root / f"v{VERSION}"
    folder.mkdir(parents=True)
    payload = archive_of(WHERE_DEPLOY)
    (folder / ASSET).write_bytes(payload)
    pin(pinned, VERSION, ASSET, sha256(payload))
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    run_dir, run_mode = fakes["marker"].read_text().split()
    assert run_mode == "700" and runner_dirs["toolcache"] not in pathlib.Path(run_dir).parents
    assert not pathlib.Path(run_dir).exists(), "the run folder should be removed once the deploy ends"


# 3. Without the runner's own folders the cache is private to this user.

def bare_env(pinned, tmp_path, **extra) -> dict[str, str]:
    """A machine that is not a GitHub runner: no RUNNER_TOOL_CACHE, no RUNNER_TEMP, a shared TMPDIR."""
    systmp, home = tmp_path / "systmp", tmp_path / "home"
    systmp.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(systmp), "GITHUB_ACTION_PATH": str(pinned),
           "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64"}
    env.update(extra)
    return env


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_without_runner_folders_the_cache_is_private(pinned, server, tmp_path):
    publish_and_pin(server, pinned)
    env = bare_env(pinned, tmp_path, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    first = resolve(pinned, env)
    assert first.returncode == 0, first.stderr
    assert os.access(first.stdout.strip(), os.X_OK)

    systmp = tmp_path / "systmp"
    assert not (systmp / "hf-deploy").exists(), "a fixed folder under the system temp dir can be planted"
    for entry in systmp.iterdir():  # only mktemp's folders: random names, owner-only
        assert entry.is_dir() and mode(entry) == 0o700, entry
    cache = tmp_path / "home" / ".cache" / "hf-deploy"
    assert cache.is_dir() and mode(cache) == 0o700
    assert any(cache.rglob(ASSET))

    second = resolve(pinned, env)
    assert second.returncode == 0, second.stderr
    assert len(server.requests) == 1, "the private cache should be reused"


def test_an_existing_cache_folder_is_made_private(pinned, server, tmp_path):
    publish_and_pin(server, pinned)
    xdg = tmp_path / "xdg"
    (xdg / "hf-deploy").mkdir(parents=True)
    (xdg / "hf-deploy").chmod(0o777)
    env = bare_env(pinned, tmp_path, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=server.base,
                   XDG_CACHE_HOME=str(xdg))
    result = resolve(pinned, env)
    assert result.returncode == 0, result.stderr
    assert mode(xdg / "hf-deploy") == 0o700
    assert any((xdg / "hf-deploy").rglob(ASSET))


def test_a_local_build_without_runner_temp_stays_out_of_the_system_temp_dir(pinned, fakes, tmp_path):
    """`uses: ./` (the action is the workspace) outside a runner: cargo's target/ goes to a private folder."""
    env = bare_env(pinned, tmp_path, GITHUB_ACTION_REF="", GITHUB_WORKSPACE=str(pinned),
                   PATH=f"{fakes['bin_dir']}:/usr/bin:/bin", FAKE_MARKER=str(fakes["marker"]),
                   FAKE_CARGO_LOG=str(fakes["cargo_log"]), FAKE_DEPLOY_SOURCE=str(fakes["deploy"]),
                   FAKE_REPO_ROOT=str(REPO_ROOT))
    result = resolve(pinned, env)
    assert result.returncode == 0, result.stderr
    built = pathlib.Path(result.stdout.strip())
    assert not (tmp_path / "systmp" / "hf-deploy-target").exists()
    assert pathlib.Path(env["HOME"], ".cache", "hf-deploy") in built.parents, built
    assert mode(pathlib.Path(env["HOME"], ".cache", "hf-deploy")) == 0o700


# 4. Build from source only when there is no release, and never with a secret in the build's environment.

ENV_CARGO = """#!/usr/bin/env bash
env > "$FAKE_CARGO_ENV"
exec "$FAKE_CARGO" "$@"
"""

# Records how long the tokens it got are: proves the deploy still gets them without printing them.
TOKEN_DEPLOY = FAKE_DEPLOY.replace('touch "$FAKE_MARKER"',
                                   'echo "${#HF_TOKEN} ${#HF_DEPLOY_PROXY_HF_TOKEN}" > "$FAKE_MARKER"')


@pytest.mark.parametrize("case", ["local action", "release answering 404"])
def test_the_fallback_build_gets_no_secrets(pinned, runner_dirs, fakes, server, tmp_path, case):
    bin_dir = tmp_path / "env-bin"
    bin_dir.mkdir()
    (bin_dir / "cargo").write_text(ENV_CARGO)
    (bin_dir / "cargo").chmod(0o755)
    fakes["deploy"].write_text(TOKEN_DEPLOY)
    cargo_env = tmp_path / "cargo-env"
    if case == "local action":
        action, ref = CompositeAction(REPO_ROOT), ""
    else:
        pin(pinned, VERSION, ASSET, "ab" * 32)  # pinned, but the host has no such release
        action, ref = CompositeAction(pinned), f"v{VERSION}"
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=ref, HF_DEPLOY_DOWNLOAD_BASE=server.base,
                  FAKE_CARGO=str(fakes["bin_dir"] / "cargo"), FAKE_CARGO_ENV=str(cargo_env),
                  # What a job may also carry: an OIDC request token (id-token: write), the token under a
                  # job-level name of its own.
                  ACTIONS_ID_TOKEN_REQUEST_TOKEN=OIDC_REQUEST_TOKEN, DEPLOY_TOKEN_COPY=TOKEN)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"  # the env-recording cargo first

    result = run(action, runner_dirs, env, proxy_hf_token=PROXY_TOKEN)

    assert result.returncode == 0, result.log
    assert PROXY_TOKEN not in result.log
    build_env = cargo_env.read_text()
    # Names only in the message: pytest would print the values.
    leaked = [line.split("=", 1)[0] for line in build_env.splitlines()
              if any(secret in line for secret in (TOKEN, PROXY_TOKEN, OIDC_REQUEST_TOKEN))]
    assert leaked == [], f"secrets reached cargo, whose build scripts and proc macros all see them: {leaked}"
    assert "HF_TOKEN=" not in build_env and "HF_DEPLOY_PROXY_HF_TOKEN=" not in build_env
    assert "HF_DEPLOY_HUGGINGFACE_REPO=demo" in build_env, "only secrets are removed"
    assert fakes["marker"].read_text().split() == [str(len(TOKEN)), str(len(PROXY_TOKEN))], \
        "the deploy itself must still get both tokens"
    if case == "release answering 404":
        assert any("HTTP 404" in n and f"{server.base}/v{VERSION}/{ASSET}" in n
                   for n in result.annotations("notice")), result.log


def assert_download_error(result, fakes, url: str, detail: str):
    assert result.returncode != 0
    assert not fakes["cargo_log"].exists(), "an existing release that fails to download must not be built instead"
    assert not fakes["marker"].exists()
    assert any(url in m and detail in m for m in result.annotations("error")), result.log


def test_an_unreachable_release_host_is_an_error_naming_the_url(pinned, runner_dirs, fakes):
    pin(pinned, VERSION, ASSET, "ab" * 32)
    base = closed_port_url()
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert_download_error(result, fakes, f"{base}/v{VERSION}/{ASSET}", "no answer")


@pytest.mark.parametrize("status", [403, 500])
def test_a_release_host_error_is_an_error_naming_the_url(pinned, runner_dirs, fakes, status):
    pin(pinned, VERSION, ASSET, "ab" * 32)
    host = StatusServer(status)
    try:
        env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=f"v{VERSION}", HF_DEPLOY_DOWNLOAD_BASE=host.base)
        result = run(CompositeAction(pinned), runner_dirs, env)
    finally:
        host.stop()
    assert_download_error(result, fakes, f"{host.base}/v{VERSION}/{ASSET}", f"HTTP {status}")
