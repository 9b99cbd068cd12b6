"""The release side of pinned checksums: .github/scripts/pin-checksums.sh and the shape of release.yml.

The resolver trusts action/checksums/<version>.sha256 in its own checkout; these tests hold the workflow to
producing that file for every published target and tagging the commit that contains it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess

import pytest
import yaml

from hfdeploy_testing import REPO_ROOT

SCRIPT = REPO_ROOT / ".github" / "scripts" / "pin-checksums.sh"
RELEASE = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
RESOLVER = (REPO_ROOT / "action" / "resolve-binary.sh").read_text(encoding="utf-8")


def resolver_targets() -> set[str]:
    body = RESOLVER[RESOLVER.index("target_triple() {"):]
    body = body[:body.index("\n}\n")]
    return set(re.findall(r"echo ([a-z0-9_]+-[a-z0-9_-]+)", body))


def archive(dist, target: str, payload: bytes, recorded: str | None = None) -> str:
    """What a build job uploads: the archive and the .sha256 it wrote (package.sh's format)."""
    name = f"hf-deploy-{target}.{'zip' if 'windows' in target else 'tar.gz'}"
    (dist / name).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    (dist / f"{name}.sha256").write_text(f"{recorded or digest} *{name}\n")
    return name


def pin_checksums(dist, out, *targets) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), str(dist), str(out), *targets], capture_output=True, text=True)


def test_pin_file_lists_every_target_in_sha256sum_format(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    linux = archive(dist, "x86_64-unknown-linux-musl", b"linux")
    windows = archive(dist, "x86_64-pc-windows-msvc", b"windows")
    out = tmp_path / "action" / "checksums" / "1.2.3.sha256"
    proc = pin_checksums(dist, out, "x86_64-unknown-linux-musl", "x86_64-pc-windows-msvc")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines() == sorted([
        f"{hashlib.sha256(b'linux').hexdigest()}  {linux}",
        f"{hashlib.sha256(b'windows').hexdigest()}  {windows}",
    ], key=lambda line: line.split()[1])
    check = subprocess.run(["sha256sum", "--check", "--strict", str(out)], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_missing_target_fails(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    archive(dist, "x86_64-unknown-linux-musl", b"linux")
    out = tmp_path / "pins"
    proc = pin_checksums(dist, out, "x86_64-unknown-linux-musl", "aarch64-apple-darwin")
    assert proc.returncode != 0 and "aarch64-apple-darwin" in proc.stderr
    assert not out.exists()


def test_an_archive_changed_after_its_build_fails(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    archive(dist, "x86_64-unknown-linux-musl", b"swapped between jobs", recorded="0" * 64)
    proc = pin_checksums(dist, tmp_path / "pins", "x86_64-unknown-linux-musl")
    assert proc.returncode != 0 and "0" * 64 in proc.stderr


def steps(job: str) -> list[dict]:
    return RELEASE["jobs"][job]["steps"]


def step_index(job: str, needle: str) -> int:
    found = [i for i, step in enumerate(steps(job)) if needle in step.get("run", "")]
    assert len(found) == 1, f"expected one step of {job} running {needle!r}, found {len(found)}"
    return found[0]


def test_release_targets_match_what_the_resolver_downloads():
    built = {entry["target"] for entry in RELEASE["jobs"]["build"]["strategy"]["matrix"]["include"]}
    pin_step = steps("publish")[step_index("publish", "pin-checksums.sh")]["run"]
    pinned = set(re.findall(r"\b[a-z0-9_]+-(?:unknown-linux-musl|apple-darwin|pc-windows-msvc)\b", pin_step))
    assert built == pinned == resolver_targets()


def test_the_tag_is_made_by_the_workflow_on_the_commit_holding_the_checksums():
    # A tag pushed by a person would point at a commit without the checksums: the workflow is started by hand
    # and creates the tag itself, after pinning and before publishing.
    triggers = RELEASE[True] if True in RELEASE else RELEASE["on"]  # PyYAML reads the key `on` as True
    assert set(triggers) == {"workflow_dispatch"}
    pin_at = step_index("publish", "pin-checksums.sh")
    tag_at = step_index("publish", 'ref="refs/tags/v$VERSION"')
    release_at = step_index("publish", "gh release create")
    assert pin_at < tag_at < release_at
    tag_step = steps("publish")[tag_at]["run"]
    assert '"action/checksums/$VERSION.sha256"' in tag_step and "parents: [$parent]" in tag_step
    assert '-f sha="$commit"' in tag_step, "the tag must point at the commit that adds the checksums"
    assert '"$RELEASE_SHA"' in steps("publish")[-1]["run"], "the major tag moves to the same commit"


@pytest.mark.parametrize("job", ["prepare", "build", "publish"])
def test_release_jobs_keep_least_privilege(job):
    expected = "write" if job == "publish" else "read"
    assert RELEASE["jobs"][job]["permissions"] == {"contents": expected}
    for step in steps(job):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
