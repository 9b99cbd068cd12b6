"""Deletes the repos an integration run recorded (`type:namespace/name` lines), for the workflow's
`if: always()` teardown. Only names with the test prefix are touched; a repo that is already gone (404)
counts as deleted. The token comes from HF_TOKEN and is never printed.

Usage: python delete_test_repos.py RESOURCES_FILE   (env: HF_TOKEN, HF_ENDPOINT, HF_TEST_PREFIX)
"""

from __future__ import annotations

import os
import pathlib
import sys

from huggingface_hub import HfApi

REPO_TYPES = {"space", "model", "dataset"}


def recorded(path: pathlib.Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        repo_type, _, repo_id = line.partition(":")
        entries.append((repo_type, repo_id))
    return list(dict.fromkeys(entries))


def main() -> int:
    prefix = os.environ.get("HF_TEST_PREFIX", "hfdeploy-e2e-")
    entries = recorded(pathlib.Path(sys.argv[1]))
    if not entries:
        print("teardown: no recorded repos")
        return 0
    token = os.environ["HF_TOKEN"]
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT", "https://huggingface.co"), token=token)
    failures = 0
    for repo_type, repo_id in entries:
        name = repo_id.rpartition("/")[2]
        if repo_type not in REPO_TYPES or not name.startswith(prefix):
            print(f"::warning::teardown: skipping {repo_type}:{repo_id} (not a {prefix}* test repo)")
            continue
        try:
            api.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)
            print(f"teardown: deleted (or already gone) {repo_type}:{repo_id}")
        except Exception as err:  # noqa: BLE001 (keep going: every other repo must still be deleted)
            failures += 1
            reason = str(err).replace(token, "***") if token else str(err)
            print(f"::error::teardown: could not delete {repo_type}:{repo_id}: {type(err).__name__}: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
