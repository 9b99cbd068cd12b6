"""The README's ways to get hf-deploy work, and every command it shows exists after the commands before it.

- The release-archive commands run as written (bash, curl, sha256sum, tar) against a local stand-in for GitHub that
  serves what .github/scripts/package.sh and pin-checksums.sh make; a replaced archive must fail the check.
- `cargo install` and `cargo binstall` name this repository, the released version and the package with the binary.
- A path under target/ that the README runs was built, with that profile and package, by an earlier command the
  README shows; `.venv/` likewise. A bare `hf-deploy` command comes after the install instructions.
"""

from __future__ import annotations

import functools
import http.server
import re
import shlex
import shutil
import subprocess
import threading
import tomllib

import pytest
import yaml

from hfdeploy_testing import REPO_ROOT
from readme import section, text

WORKSPACE = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]
VERSION = WORKSPACE["package"]["version"]
REPOSITORY = WORKSPACE["package"]["repository"].rstrip("/")
RAW = "https://raw.githubusercontent.com/" + REPOSITORY.removeprefix("https://github.com/")
SCRIPTS = REPO_ROOT / ".github" / "scripts"


def sh_blocks(body: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", body, flags=re.S)


def commands_at(block: str) -> list[tuple[int, str]]:
    """A block's commands with their offsets, comments dropped, continued lines (`|`, `\\`, `&&`) joined."""
    out, pending, start, offset = [], "", 0, 0
    for raw in block.splitlines(keepends=True):
        line = raw.split("  #", 1)[0].rstrip()
        here, offset = offset, offset + len(raw)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not pending:
            start = here
        pending = f"{pending} {line.strip()}" if pending else line.strip()
        if pending.endswith(("|", "\\", "&&")):
            continue
        out.append((start, pending))
        pending = ""
    return out


def command_lines(block: str) -> list[str]:
    return [line for _, line in commands_at(block)]


def program(line: str) -> str:
    """The command a line runs, after `VAR=value` assignments."""
    words = shlex.split(line, comments=True)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return words[0] if words else ""


def workspace_packages() -> dict[str, set[str]]:
    """package name -> the binaries it builds, for the workspace members."""
    packages = {}
    for member in WORKSPACE["members"]:
        manifest = tomllib.loads((REPO_ROOT / member / "Cargo.toml").read_text(encoding="utf-8"))
        name = manifest["package"]["name"]
        bins = {entry["name"] for entry in manifest.get("bin", [])}
        if (REPO_ROOT / member / "src" / "main.rs").exists():
            bins.add(name)
        packages[name] = bins
    return packages


# 1. The release archive, as the README downloads, checks and installs it.

class FakeGitHub:
    """github.com/<repo>/releases/download/… and raw.githubusercontent.com/<repo>/<tag>/… on 127.0.0.1."""

    def __init__(self, root):
        self.root = root
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def archive_blocks() -> tuple[str, str]:
    """The block that downloads and installs an archive, and the one that checks it against the pinned file."""
    blocks = sh_blocks(section("Command line"))
    install = [block for block in blocks if "tar -xzf" in block]
    pinned = [block for block in blocks if "action/checksums/" in block]
    assert len(install) == 1 and len(pinned) == 1, "the Command line section shows one archive install and one " \
                                                     "check against action/checksums/<version>.sha256"
    return install[0], pinned[0]


def assigned(block: str, name: str) -> str:
    match = re.search(rf"(?:^|\s){name}=(\S+)", block)
    assert match, f"the block sets no {name}=:\n{block}"
    return match.group(1)


@pytest.fixture
def release_host(tmp_path):
    for tool in ("curl", "sha256sum", "tar"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    install, _ = archive_blocks()
    target = assigned(install, "target")
    root = tmp_path / "github"
    downloads = root / "gh" / REPOSITORY.removeprefix("https://github.com/") / "releases" / "download" / f"v{VERSION}"
    downloads.mkdir(parents=True)
    binary = tmp_path / "built-hf-deploy"
    binary.write_text(f"#!/bin/sh\necho 'hf-deploy {VERSION} (from the release archive)'\n")
    binary.chmod(0o755)
    subprocess.run(["bash", str(SCRIPTS / "package.sh"), target, str(binary), str(downloads)],
                   check=True, capture_output=True, text=True)
    pins = root / "raw" / RAW.removeprefix("https://raw.githubusercontent.com/") / f"v{VERSION}" / "action" / \
        "checksums" / f"{VERSION}.sha256"
    subprocess.run(["bash", str(SCRIPTS / "pin-checksums.sh"), str(downloads), str(pins), target],
                   check=True, capture_output=True, text=True)
    host = FakeGitHub(root)
    yield host, target, downloads
    host.stop()


def run_blocks(host, tmp_path, *blocks: str) -> subprocess.CompletedProcess:
    script = "\n".join(blocks)
    script = script.replace("https://github.com/", f"{host.base}/gh/")
    script = script.replace("https://raw.githubusercontent.com/", f"{host.base}/raw/")
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir(exist_ok=True)
    cwd.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/bin:/bin"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_archive_commands_install_a_working_binary(release_host, tmp_path):
    host, target, _ = release_host
    install, pinned = archive_blocks()
    assert assigned(install, "version") == VERSION, "the README installs the current version"
    result = run_blocks(host, tmp_path, install, pinned)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert f"hf-deploy {VERSION} (from the release archive)" in result.stdout
    assert result.stdout.count(": OK") == 2, "both checks (the .sha256 asset and the pinned file) ran"
    assert (tmp_path / "home" / ".local" / "bin" / "hf-deploy").exists()


def test_a_replaced_archive_fails_the_pinned_check(release_host, tmp_path):
    """The release's own .sha256 is replaced with the archive; the file pinned in the tagged commit is not."""
    host, target, downloads = release_host
    install, pinned = archive_blocks()
    archive = downloads / f"hf-deploy-{target}.tar.gz"
    binary = tmp_path / "evil"
    binary.write_text("#!/bin/sh\necho evil\n")
    binary.chmod(0o755)
    evil = tmp_path / "evil-dist"
    subprocess.run(["bash", str(SCRIPTS / "package.sh"), target, str(binary), str(evil)], check=True,
                   capture_output=True, text=True)
    for name in (archive.name, f"{archive.name}.sha256"):
        shutil.copy(evil / name, downloads / name)
    result = run_blocks(host, tmp_path, install.replace("hf-deploy --version", "true"), pinned)
    assert result.returncode != 0, "the check against the pinned sha256 must reject a replaced archive"
    assert "FAILED" in result.stdout + result.stderr


def test_the_readme_lists_every_released_target():
    release = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    targets = {entry["target"] for entry in release["jobs"]["build"]["strategy"]["matrix"]["include"]}
    body = section("Command line")
    assert {t for t in targets if f"`{t}`" in body or f"hf-deploy-{t}" in body} == targets


# 2. cargo install and cargo binstall.

def cargo_commands(subcommand: str) -> list[list[str]]:
    found = []
    for block in sh_blocks(section("Command line")):
        for line in command_lines(block):
            words = shlex.split(line, comments=True)
            if words[:2] == ["cargo", subcommand]:
                found.append(words)
    assert found, f"the Command line section shows no `cargo {subcommand}`"
    return found


def option(words: list[str], name: str) -> str | None:
    return words[words.index(name) + 1] if name in words else None


def test_cargo_install_names_this_repository_the_release_and_the_package():
    packages = workspace_packages()
    for words in cargo_commands("install"):
        assert "--locked" in words, words
        assert option(words, "--git") == REPOSITORY, words
        assert option(words, "--tag") == f"v{VERSION}", words
        assert words[-1] in packages and "hf-deploy" in packages[words[-1]], words


def test_cargo_binstall_uses_the_repository_and_the_crate_with_metadata():
    manifest = tomllib.loads((REPO_ROOT / "crates" / "deploy" / "Cargo.toml").read_text(encoding="utf-8"))
    for words in cargo_commands("binstall"):
        # hf-deploy is not on crates.io (publish = false): without --git binstall would look there.
        assert option(words, "--git") == REPOSITORY, words
        assert words[-1] == manifest["package"]["name"], words
    assert "binstall" in manifest["package"].get("metadata", {})


# 3. Every command exists after the commands before it.

def readme_commands() -> list[tuple[int, str, bool]]:
    """(position, command, from an sh block) for every sh-block line and inline code span, in reading order."""
    doc = text()
    found = []
    for block in re.finditer(r"```sh\n(.*?)```", doc, flags=re.S):
        for offset, line in commands_at(block.group(1)):
            found.append((block.start(1) + offset, line, True))
    prose = re.sub(r"```.*?```", lambda m: " " * len(m.group(0)), doc, flags=re.S)
    for span in re.finditer(r"`([^`\n]+)`", prose):
        found.append((span.start(1), span.group(1), False))
    return sorted(found)


def builds(line: str, profile: str, binary: str, packages: dict[str, set[str]]) -> bool:
    """Whether `line` (cargo build/run) leaves target/<profile>/<binary> behind."""
    words = shlex.split(line, comments=True)
    if words[:1] != ["cargo"] or len(words) < 2 or words[1] not in ("build", "run"):
        return False
    if ("--release" in words) != (profile == "release"):
        return False
    named = [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-p", "--package")]
    if words[1] == "run" and "--" in words:
        named = [words[i + 1] for i, word in enumerate(words[:words.index("--")]) if word in ("-p", "--package")]
    chosen = named or (list(packages) if words[1] == "build" else [])
    return any(binary in packages.get(name, set()) for name in chosen)


def test_every_target_path_is_built_by_an_earlier_command():
    packages = workspace_packages()
    commands = readme_commands()
    missing = []
    for index, (_, line, _) in enumerate(commands):
        for profile, binary in re.findall(r"(?<![\w/])target/(debug|release)/([a-z0-9_-]+)", line):
            if not any(from_block and builds(earlier, profile, binary, packages)
                       for _, earlier, from_block in commands[:index]):
                missing.append(f"target/{profile}/{binary} in `{line}`")
    assert not missing, "no earlier command in the README builds these:\n" + "\n".join(missing)


def test_every_venv_path_is_made_by_an_earlier_command():
    commands = readme_commands()
    for index, (_, line, _) in enumerate(commands):
        if re.search(r"(?<![\w/])\.venv(-legacy)?/bin/", line):
            assert any(from_block and re.search(r"scripts/test\.sh(\s+venvs|\s*$)", earlier)
                       for _, earlier, from_block in commands[:index]), f"nothing before `{line}` makes the venv"


def test_hf_deploy_is_installed_before_the_readme_runs_it():
    installs = ("cargo install", "cargo binstall", "tar -xzf")
    seen_install = False
    for _, line, from_block in readme_commands():
        if not from_block:
            continue
        if any(marker in line for marker in installs):
            seen_install = True
        if program(line) == "hf-deploy":
            assert seen_install, f"`{line}` runs hf-deploy before the README says how to install it"
