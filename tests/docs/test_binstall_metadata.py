"""`cargo binstall` finds the archives the release workflow publishes.

The crate's `[package.metadata.binstall]` (crates/deploy/Cargo.toml) is rendered the way cargo-binstall renders it,
for every target release.yml builds, and held against the archive .github/scripts/package.sh really makes for that
target: its URL (the one action/resolve-binary.sh downloads too), its format, and the binary's path inside it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile

import pytest
import yaml

from hfdeploy_testing import REPO_ROOT

CRATE = tomllib.loads((REPO_ROOT / "crates" / "deploy" / "Cargo.toml").read_text(encoding="utf-8"))
WORKSPACE = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]
RELEASE = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
RESOLVER = (REPO_ROOT / "action" / "resolve-binary.sh").read_text(encoding="utf-8")
PACKAGE = REPO_ROOT / ".github" / "scripts" / "package.sh"

VERSION = WORKSPACE["package"]["version"]
TARGETS = [entry["target"] for entry in RELEASE["jobs"]["build"]["strategy"]["matrix"]["include"]]
# The file name extensions cargo-binstall tries for a pkg-fmt (binstalk's PkgFmt::extensions); `{ archive-format }`
# is rendered with each in turn. package.sh makes only these two formats.
EXTENSIONS = {"tgz": ("tgz", "tar.gz"), "zip": ("zip",)}


def binstall() -> dict:
    try:
        return CRATE["package"]["metadata"]["binstall"]
    except KeyError:
        pytest.fail("crates/deploy/Cargo.toml has no [package.metadata.binstall]")


def for_target(target: str) -> dict:
    """The metadata binstall uses for `target`: the defaults, then that target's override."""
    meta = {key: value for key, value in binstall().items() if key != "overrides"}
    meta.update(binstall().get("overrides", {}).get(target, {}))
    return meta


def repository() -> str | None:
    """`{ repo }`: the crate's `repository`, or the workspace's when the crate inherits it."""
    repo = CRATE["package"].get("repository")
    if isinstance(repo, dict) and repo.get("workspace"):
        return WORKSPACE["package"].get("repository")
    return repo


def render(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in values, f"binstall template variable {{ {name} }} has no value here (in {template!r})"
        return values[name]

    return re.sub(r"\{\s*([a-z-]+)\s*\}", value, template)


def rendered(target: str, template_key: str, **extra: str) -> set[str]:
    """Every string binstall may derive from `template_key` for `target` (one per archive extension)."""
    meta = for_target(target)
    fmt = meta.get("pkg-fmt", "tgz")
    assert fmt in EXTENSIONS, f"pkg-fmt {fmt!r} for {target}: package.sh makes only .tar.gz and .zip"
    assert template_key in meta, f"no {template_key} for {target}"
    out = set()
    for ext in EXTENSIONS[fmt]:
        values = {"name": CRATE["package"]["name"], "version": VERSION, "target": target,
                  "archive-format": ext, "archive-suffix": f".{ext}",
                  "binary-ext": ".exe" if "windows" in target else "", **extra}
        if repository():
            values["repo"] = repository()
        out.add(render(meta[template_key], values))
    return out


def package(target: str, tmp_path):
    """The archive package.sh makes for `target`, from a stand-in binary."""
    if "windows" in target and not (shutil.which("7z") or shutil.which("zip")):
        pytest.skip("neither 7z nor zip is installed: package.sh cannot make the Windows archive here")
    binary = tmp_path / "hf-deploy-built"
    binary.write_text("#!/bin/sh\necho hf-deploy\n")
    binary.chmod(0o755)
    dist = tmp_path / "dist"
    subprocess.run(["bash", str(PACKAGE), target, str(binary), str(dist)], check=True, capture_output=True, text=True)
    archives = [path for path in dist.iterdir() if not path.name.endswith(".sha256")]
    assert len(archives) == 1, archives
    return archives[0]


def members(archive) -> dict[str, int]:
    """Path inside the archive -> unix mode, for regular files."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            return {info.filename: info.external_attr >> 16 for info in zipped.infolist() if not info.is_dir()}
    with tarfile.open(archive, mode="r:gz") as tarred:
        return {info.name: info.mode for info in tarred.getmembers() if info.isfile()}


def test_release_targets_are_known():
    assert TARGETS and len(set(TARGETS)) == len(TARGETS)
    stale = set(binstall().get("overrides", {})) - set(TARGETS)
    assert not stale, f"binstall overrides for targets release.yml does not build: {sorted(stale)}"


@pytest.mark.parametrize("target", TARGETS)
def test_binstall_finds_the_archive_package_sh_makes(target, tmp_path):
    archive = package(target, tmp_path)
    base = re.search(r'^readonly default_base="([^"]+)"$', RESOLVER, flags=re.M).group(1)
    # release.yml publishes dist/* under the tag v<version>; the action downloads from the same place.
    publish = " ".join(step.get("run", "") for step in RELEASE["jobs"]["publish"]["steps"])
    assert 'gh release create "v$VERSION" dist/*' in publish
    expected = f"{base}/v{VERSION}/{archive.name}"
    assert expected in rendered(target, "pkg-url"), (
        f"binstall's pkg-url for {target} gives {sorted(rendered(target, 'pkg-url'))}, the release has {expected}")


@pytest.mark.parametrize("target", TARGETS)
def test_binstall_format_and_bin_dir_match_the_archive(target, tmp_path):
    archive = package(target, tmp_path)
    fmt = for_target(target).get("pkg-fmt", "tgz")
    if fmt == "zip":
        assert zipfile.is_zipfile(archive), f"pkg-fmt zip for {target}, but {archive.name} is not a zip"
    else:
        assert tarfile.is_tarfile(archive) and archive.read_bytes()[:2] == b"\x1f\x8b", \
            f"pkg-fmt tgz for {target}, but {archive.name} is not a gzipped tar"
    inside = members(archive)
    bins = [entry["name"] for entry in CRATE.get("bin", [])] or [CRATE["package"]["name"]]
    for bin_name in bins:
        paths = rendered(target, "bin-dir", bin=bin_name)
        found = [path for path in paths if path in inside]
        assert found, f"bin-dir gives {sorted(paths)} for {target}; {archive.name} holds {sorted(inside)}"
        assert inside[found[0]] & 0o111, f"{found[0]} is not executable in {archive.name}"


def test_binstall_url_is_this_repository():
    repo = WORKSPACE["package"]["repository"].rstrip("/")
    for target in TARGETS:
        for url in rendered(target, "pkg-url"):
            assert url.startswith(f"{repo}/releases/download/v{VERSION}/"), url
