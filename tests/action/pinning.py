"""Copies of the action with chosen pinned checksums (action/checksums/<version>.sha256).

The resolver trusts only the digests in its own checkout, so a test that wants a download to verify needs a
checkout whose pins match what its fake release host serves: a copy of action.yml and action/ in tmp_path.
"""

from __future__ import annotations

import pathlib
import shutil

from hfdeploy_testing import REPO_ROOT


def action_copy(dest: pathlib.Path) -> pathlib.Path:
    """action.yml and action/ (scripts, VERSION) without any checksums: a release commit before pinning."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "action.yml", dest / "action.yml")
    shutil.copytree(REPO_ROOT / "action", dest / "action", ignore=shutil.ignore_patterns("checksums"))
    (dest / "action" / "checksums").mkdir()
    return dest


def pin_file(action_dir: pathlib.Path, version: str) -> pathlib.Path:
    return action_dir / "action" / "checksums" / f"{version}.sha256"


def pin(action_dir: pathlib.Path, version: str, asset: str, digest: str) -> pathlib.Path:
    """Adds `<digest>  <asset>` (sha256sum's format) to the version's pin file, as the release workflow does."""
    path = pin_file(action_dir, version)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{digest}  {asset}\n")
    return path
