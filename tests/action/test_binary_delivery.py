"""How the action gets its binary: release download (checked against the sha256 pinned in the action's
checkout, cached), or a build from source.

A local HTTP server on 127.0.0.1 plays the release host (HF_DEPLOY_DOWNLOAD_BASE). The archive holds a
stand-in `hf-deploy` (a shell script that writes the six outputs), so these tests need no Rust build.
A stand-in `cargo` on PATH records how it was called: it represents the external tool, not our code.
Downloads verify against action/checksums/<version>.sha256, so those tests run a copy of the action whose pins
match what the server publishes (pinning.py); attacks on that are in test_binary_pinning.py.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pathlib
import shutil
import subprocess
import tarfile
import threading
import zipfile

import pytest

from composite import CompositeAction, base_env
from hfdeploy_testing import REPO_ROOT
from pinning import action_copy, pin

VERSION_FILE = (REPO_ROOT / "action" / "VERSION").read_text(encoding="utf-8").strip()
TOKEN = "hf_never_printed_0123456789"

FAKE_DEPLOY = """#!/usr/bin/env bash
set -euo pipefail
echo "fake hf-deploy $*"
[ "$1" = deploy ]
touch "$FAKE_MARKER"
{
  echo "repo_id=fake/${HF_DEPLOY_HUGGINGFACE_REPO}"
  echo "repo_url=https://hub.example/fake"
  echo "space_url="
  echo "proxy_enabled=false"
  echo "proxy_repo_id="
  echo "proxy_url="
} >> "$GITHUB_OUTPUT"
"""

FAKE_CARGO = """#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$PWD" "$@" > "$FAKE_CARGO_LOG"
# Never write into the real checkout (its target/ holds real builds).
case "${CARGO_TARGET_DIR:-$PWD/target}" in
  "$FAKE_REPO_ROOT"*) echo "fake cargo: refusing to build into $FAKE_REPO_ROOT" >&2; exit 97 ;;
esac
mkdir -p "$CARGO_TARGET_DIR/release"
cp "$FAKE_DEPLOY_SOURCE" "$CARGO_TARGET_DIR/release/hf-deploy"
chmod +x "$CARGO_TARGET_DIR/release/hf-deploy"
echo "   Compiling hf-deploy (fake)" >&2
"""


def tarball(target: str) -> bytes:
    """A cargo-dist style archive: hf-deploy-<target>/hf-deploy."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = FAKE_DEPLOY.encode()
        info = tarfile.TarInfo(f"hf-deploy-{target}/hf-deploy")
        info.size = len(data)
        info.mode = 0o755
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zipball(target: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"hf-deploy-{target}/hf-deploy.exe", FAKE_DEPLOY)
    return buffer.getvalue()


class AssetServer:
    """Serves a release directory on 127.0.0.1 and records every requested path."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        # shutdown() waits for the loop's next look at its flag: 50 ms instead of the default 0.5 s per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def publish(self, version: str, target: str, sha256: str | None = None) -> str:
        ext = "zip" if "windows" in target else "tar.gz"
        payload = zipball(target) if ext == "zip" else tarball(target)
        name = f"hf-deploy-{target}.{ext}"
        folder = self.root / f"v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(payload)
        digest = sha256 or hashlib.sha256(payload).hexdigest()
        (folder / f"{name}.sha256").write_text(f"{digest} *{name}\n")
        return name

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    srv = AssetServer(tmp_path / "releases")
    srv.root.mkdir()
    yield srv
    srv.stop()


@pytest.fixture
def fakes(tmp_path):
    """A stand-in cargo on PATH, the stand-in binary it 'builds', and the files they leave behind."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    deploy = tmp_path / "fake-hf-deploy"
    deploy.write_text(FAKE_DEPLOY)
    deploy.chmod(0o755)
    cargo = bin_dir / "cargo"
    cargo.write_text(FAKE_CARGO)
    cargo.chmod(0o755)
    return {
        "bin_dir": bin_dir,
        "deploy": deploy,
        "cargo_log": tmp_path / "cargo-argv",
        "marker": tmp_path / "deploy-ran",
        "target_dir": tmp_path / "cargo-target",
    }


def job_env(runner_dirs, fakes, *, path_has_cargo=True, **extra):
    path = f"{fakes['bin_dir']}:/usr/bin:/bin" if path_has_cargo else "/usr/bin:/bin"
    return base_env(
        runner_dirs,
        PATH=path,
        FAKE_MARKER=str(fakes["marker"]),
        FAKE_CARGO_LOG=str(fakes["cargo_log"]),
        FAKE_DEPLOY_SOURCE=str(fakes["deploy"]),
        FAKE_REPO_ROOT=str(REPO_ROOT),
        CARGO_TARGET_DIR=str(fakes["target_dir"]),
        **extra,
    )


@pytest.fixture
def pinned(tmp_path):
    """A copy of the action at a release commit; tests pin the digests of what they publish."""
    return action_copy(tmp_path / "action-checkout")


def publish_pinned(server, action_dir, version: str, target: str) -> str:
    """A genuine release: the archive on the host, its digest pinned in the action's checkout."""
    asset = server.publish(version, target)
    digest = hashlib.sha256((server.root / f"v{version}" / asset).read_bytes()).hexdigest()
    pin(action_dir, version, asset, digest)
    return asset


def run(action, runner_dirs, env, **inputs):
    given = {"hf_token": TOKEN, "huggingface_repo": "demo", **inputs}
    result = action.run(given, workspace=runner_dirs["workspace"], env=env, timeout=120)
    assert TOKEN not in result.log and TOKEN not in result.summary
    return result


def test_release_ref_downloads_verifies_and_caches(pinned, runner_dirs, fakes, server):
    asset = publish_pinned(server, pinned, "1.2.3", "x86_64-unknown-linux-musl")
    action = CompositeAction(pinned)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base)

    first = run(action, runner_dirs, env)
    assert first.returncode == 0, first.log
    assert first.outputs["repo_id"] == "fake/demo"
    assert set(first.outputs) == {"repo_id", "repo_url", "space_url", "proxy_enabled", "proxy_repo_id", "proxy_url", "commit_sha", "pr_url"}
    assert fakes["marker"].exists()
    assert server.requests == [f"/v1.2.3/{asset}"], "only the archive: its sha256 is pinned in the checkout"
    assert "sha256 verified" in first.log
    assert (runner_dirs["toolcache"] / "hf-deploy" / "1.2.3" / "x86_64-unknown-linux-musl" / asset).exists()
    assert not fakes["cargo_log"].exists(), "a release download must not build"

    second = run(action, runner_dirs, env)
    assert second.returncode == 0, second.log
    assert len(server.requests) == 1, "the second run should use the tool cache"
    assert "from the cache" in second.log and "sha256 verified" in second.log


def test_checksum_mismatch_fails_hard(pinned, runner_dirs, fakes, server):
    asset = server.publish("1.2.3", "x86_64-unknown-linux-musl")
    pin(pinned, "1.2.3", asset, "0" * 64)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode != 0
    assert any("sha256 mismatch" in message for message in result.annotations("error")), result.log
    assert not fakes["marker"].exists(), "a binary that failed verification must never run"
    assert not fakes["cargo_log"].exists(), "a mismatch is an attack or corruption, not a reason to build"
    assert not any(runner_dirs["toolcache"].rglob(asset)), "a rejected archive must not be cached"


def test_checksum_file_without_a_digest_fails_hard(pinned, runner_dirs, fakes, server):
    name = server.publish("1.2.3", "x86_64-unknown-linux-musl")
    pin(pinned, "1.2.3", name, "<html>not-a-checksum</html>")
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode != 0 and not fakes["marker"].exists()
    assert any("sha256" in message for message in result.annotations("error"))


@pytest.mark.parametrize("ref", ["v1", "0123456789abcdef0123456789abcdef01234567"])
def test_major_tag_or_sha_pin_uses_the_version_file(pinned, runner_dirs, fakes, server, ref):
    asset = publish_pinned(server, pinned, VERSION_FILE, "x86_64-unknown-linux-musl")
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=ref, HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    assert server.requests[-1] == f"/v{VERSION_FILE}/{asset}"


@pytest.mark.parametrize("runner_os, arch, asset", [
    ("Linux", "ARM64", "hf-deploy-aarch64-unknown-linux-musl.tar.gz"),
    ("macOS", "X64", "hf-deploy-x86_64-apple-darwin.tar.gz"),
    ("macOS", "ARM64", "hf-deploy-aarch64-apple-darwin.tar.gz"),
    ("Windows", "X64", "hf-deploy-x86_64-pc-windows-msvc.zip"),
])
def test_asset_name_follows_runner_os_and_arch(pinned, runner_dirs, fakes, server, runner_os, arch, asset):
    # Pinned but not published (404), so after asking for the right name the resolver builds instead.
    pin(pinned, "1.2.3", asset, "ab" * 32)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base,
                  RUNNER_OS=runner_os, RUNNER_ARCH=arch)
    run(CompositeAction(pinned), runner_dirs, env)
    assert server.requests[0] == f"/v1.2.3/{asset}"


def test_windows_zip_is_extracted(pinned, runner_dirs, fakes, server):
    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed (Git for Windows ships it; Debian: apt-get install unzip)")
    asset = publish_pinned(server, pinned, "1.2.3", "x86_64-pc-windows-msvc")
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base,
                  RUNNER_OS="Windows", RUNNER_ARCH="X64")
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    assert fakes["marker"].exists(), "hf-deploy.exe from the zip should have run"
    assert (runner_dirs["toolcache"] / "hf-deploy" / "1.2.3" / "x86_64-pc-windows-msvc" / asset).exists()


def assert_built_from_source(result, fakes, action_dir=REPO_ROOT):
    assert result.returncode == 0, result.log
    notices = result.annotations("notice")
    assert any("building hf-deploy from source with cargo build --release --locked" in n for n in notices), result.log
    cwd, *argv = fakes["cargo_log"].read_text().splitlines()
    assert pathlib.Path(cwd) == action_dir, "cargo must run in $GITHUB_ACTION_PATH"
    assert argv[:3] == ["build", "--release", "--locked"], argv
    assert fakes["marker"].exists(), "the built binary should have run"


def test_missing_release_asset_builds_from_source(pinned, runner_dirs, fakes, server):
    # Pinned in the checkout, absent from the host (a 404): the one download failure that builds. Any other
    # (no answer, 403, 5xx) is an error: see test_binary_pinning.py.
    pin(pinned, "9.9.9", "hf-deploy-x86_64-unknown-linux-musl.tar.gz", "ab" * 32)
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v9.9.9", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert_built_from_source(result, fakes, pinned)
    assert "HTTP 404" in result.log


@pytest.mark.parametrize("ref", ["", "main"])
def test_local_action_or_branch_builds_without_downloading(action, runner_dirs, fakes, server, ref):
    server.publish(VERSION_FILE, "x86_64-unknown-linux-musl")
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF=ref, HF_DEPLOY_DOWNLOAD_BASE=server.base)
    assert_built_from_source(run(action, runner_dirs, env), fakes)
    assert server.requests == [], "a local action or a branch runs its own source, not a release"


def test_local_action_builds_outside_the_workspace(action, runner_dirs, fakes):
    """With `uses: ./` the action directory is the workspace; target/ must not land where source_dir: . reads."""
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="", GITHUB_WORKSPACE=str(REPO_ROOT))
    del env["CARGO_TARGET_DIR"]
    result = run(action, runner_dirs, env)
    assert_built_from_source(result, fakes)
    assert (runner_dirs["temp"] / "hf-deploy-target" / "release" / "hf-deploy").exists()


def test_no_asset_and_no_cargo_fails_with_a_clear_message(action, runner_dirs, fakes, server):
    if shutil.which("cargo", path="/usr/bin:/bin"):
        pytest.skip("cargo is installed in /usr/bin here, so PATH cannot be made to lack it")
    env = job_env(runner_dirs, fakes, path_has_cargo=False, GITHUB_ACTION_REF="v9.9.9",
                  HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(action, runner_dirs, env)
    assert result.returncode != 0
    assert any("cargo is not installed" in m and "@vX.Y.Z" in m for m in result.annotations("error")), result.log


def test_hf_deploy_bin_is_used_as_is(action, runner_dirs, fakes, server):
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base,
                  HF_DEPLOY_BIN=str(fakes["deploy"]))
    result = run(action, runner_dirs, env)
    assert result.returncode == 0, result.log
    assert server.requests == [] and not fakes["cargo_log"].exists()
    assert fakes["marker"].exists()


def test_hf_deploy_bin_that_is_not_executable_fails(action, runner_dirs, fakes, tmp_path):
    plain = tmp_path / "not-executable"
    plain.write_text("echo hi\n")
    env = job_env(runner_dirs, fakes, HF_DEPLOY_BIN=str(plain))
    result = run(action, runner_dirs, env)
    assert result.returncode != 0
    assert any("HF_DEPLOY_BIN" in m for m in result.annotations("error"))
    assert not fakes["cargo_log"].exists()


@pytest.mark.parametrize("target", ["x86_64-unknown-linux-musl", "x86_64-pc-windows-msvc"])
def test_release_packaging_matches_what_the_action_downloads(pinned, runner_dirs, fakes, server, tmp_path, target):
    """.github/scripts/package.sh and pin-checksums.sh (release.yml) and action/resolve-binary.sh agree on names,
    layout and the pinned checksum file."""
    if "windows" in target and not (shutil.which("unzip") and (shutil.which("7z") or shutil.which("zip"))):
        pytest.skip("zip/unzip are not installed")
    folder = server.root / "v1.2.3"
    folder.mkdir(parents=True)
    subprocess.run(["bash", str(REPO_ROOT / ".github/scripts/package.sh"), target, str(fakes["deploy"]), str(folder)],
                   check=True, capture_output=True, text=True)
    subprocess.run(["bash", str(REPO_ROOT / ".github/scripts/pin-checksums.sh"), str(folder),
                    str(pinned / "action" / "checksums" / "1.2.3.sha256"), target],
                   check=True, capture_output=True, text=True)
    runner_os = "Windows" if "windows" in target else "Linux"
    env = job_env(runner_dirs, fakes, GITHUB_ACTION_REF="v1.2.3", HF_DEPLOY_DOWNLOAD_BASE=server.base,
                  RUNNER_OS=runner_os, RUNNER_ARCH="X64")
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    assert "sha256 verified" in result.log and fakes["marker"].exists()
    assert not fakes["cargo_log"].exists()
