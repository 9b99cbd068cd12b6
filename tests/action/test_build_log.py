"""Issue 14, "a deploy that tells you what it is doing": the fallback build from source (`uses: ./`, a branch)
puts cargo's output in a collapsed log group, says how long it took and how to avoid it, and a failed build
still closes the group and shows its error outside it.

A stand-in `cargo` on PATH prints about 170 lines as the real one does (it represents the external tool, not
our code); the resolver is run through the composite harness (GITHUB_ACTIONS=true) and on its own, outside
GitHub Actions, where no workflow command may appear.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from composite import CompositeAction
from hfdeploy_testing import REPO_ROOT
from pinning import action_copy, pin
from test_binary_delivery import TOKEN, fakes, job_env, run, server  # noqa: F401 (fakes, server are fixtures)

CARGO_LINES = 170
HINT = ("pin a release (uses: hf-deploy/hf-deploy@vX.Y.Z or its commit SHA) to download a verified binary "
        "instead")

NOISY_CARGO = f"""#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$PWD" "$@" > "$FAKE_CARGO_LOG"
# Never write into the real checkout (its target/ holds real builds).
case "${{CARGO_TARGET_DIR:-$PWD/target}}" in
  "$FAKE_REPO_ROOT"*) echo "fake cargo: refusing to build into $FAKE_REPO_ROOT" >&2; exit 97 ;;
esac
for i in $(seq 1 {CARGO_LINES}); do echo "   Compiling fake-crate-$i v1.0.$i" >&2; done
echo "fake cargo stdout line"
if [ -n "${{FAKE_CARGO_FAIL:-}}" ]; then
  echo 'error[E0425]: cannot find value `oops` in this scope' >&2
  echo "  --> crates/deploy/src/main.rs:3:5" >&2
  echo 'error: could not compile `hf-deploy` (bin "hf-deploy") due to 1 previous error' >&2
  exit 101
fi
mkdir -p "$CARGO_TARGET_DIR/release"
cp "$FAKE_DEPLOY_SOURCE" "$CARGO_TARGET_DIR/release/hf-deploy"
chmod +x "$CARGO_TARGET_DIR/release/hf-deploy"
echo "    Finished \\`release\\` profile [optimized] target(s) in 41.07s" >&2
"""


@pytest.fixture
def noisy(fakes):
    (fakes["bin_dir"] / "cargo").write_text(NOISY_CARGO)
    return fakes


def is_cargo_line(line: str) -> bool:
    return line.startswith(("   Compiling fake-crate-", "fake cargo stdout", "    Finished", "error", "  --> "))


def build_log(result) -> list[str]:
    """The resolver's part of the step log: everything goes to stderr, stdout carries only the binary's path."""
    return result.steps[0].stderr.splitlines()


def group_bounds(lines: list[str], title: str) -> tuple[int, int]:
    opened = [i for i, line in enumerate(lines) if line.startswith("::group::")]
    closed = [i for i, line in enumerate(lines) if line == "::endgroup::"]
    assert len(opened) == 1 and len(closed) == 1, "\n".join(lines)
    assert lines[opened[0]] == f"::group::{title}", lines[opened[0]]
    assert opened[0] < closed[0]
    return opened[0], closed[0]


@pytest.mark.parametrize("ref, label", [("", "uses: ./"), ("main", "main")])
def test_the_fallback_build_is_folded_timed_and_says_how_to_avoid_it(action, runner_dirs, noisy, ref, label):
    env = job_env(runner_dirs, noisy, GITHUB_ACTION_REF=ref)
    started = time.monotonic()
    result = run(action, runner_dirs, env)
    wall = time.monotonic() - started
    assert result.returncode == 0, result.log
    assert noisy["marker"].exists(), "the built binary should have run"

    lines = build_log(result)
    start, end = group_bounds(lines, f"Building hf-deploy from source (no release binary for {label})")
    inside = lines[start + 1:end]
    assert sum(line.startswith("   Compiling fake-crate-") for line in inside) == CARGO_LINES
    assert "fake cargo stdout line" in inside, "cargo's stdout belongs in the group too (and not in the path)"
    outside = lines[:start] + lines[end + 1:]
    assert not any(is_cargo_line(line) for line in outside), "cargo output outside the group"

    timing = [line for line in lines[end + 1:] if "Built hf-deploy from source in" in line]
    assert len(timing) == 1, "\n".join(lines[end + 1:])
    match = re.search(r"Built hf-deploy from source in (\d+) s; (.*)$", timing[0])
    assert match, timing[0]
    assert int(match.group(1)) <= wall + 1
    assert match.group(2) == HINT
    # Why it built is still said before the group, where it can be seen without unfolding anything.
    assert any("building hf-deploy from source" in n for n in result.annotations("notice"))
    assert lines.index(next(line for line in lines if line.startswith("::notice"))) < start


def test_a_failed_build_closes_the_group_and_shows_the_error_outside_it(action, runner_dirs, noisy):
    env = job_env(runner_dirs, noisy, GITHUB_ACTION_REF="main", FAKE_CARGO_FAIL="1")
    result = run(action, runner_dirs, env)
    assert result.returncode != 0
    assert not noisy["marker"].exists()

    lines = build_log(result)
    start, end = group_bounds(lines, "Building hf-deploy from source (no release binary for main)")
    assert sum(line.startswith("   Compiling fake-crate-") for line in lines[start + 1:end]) == CARGO_LINES
    after = lines[end + 1:]
    # The compiler's error is repeated outside the folded output, then the step's error annotation.
    assert any(line.startswith("error[E0425]: cannot find value") for line in after), "\n".join(after)
    errors = [i for i, line in enumerate(after) if line.startswith("::error")]
    assert len(errors) == 1, "\n".join(after)
    message = result.annotations("error")[0]
    assert "cargo build --release --locked failed" in message and "exit code 101" in message, message
    assert "hf-deploy/hf-deploy@vX.Y.Z" in message, message
    assert not any(line.startswith("   Compiling fake-crate-") for line in after)
    assert not any("Built hf-deploy from source" in line for line in lines)


def resolve_outside_actions(noisy, tmp_path, **extra) -> subprocess.CompletedProcess:
    """action/resolve-binary.sh on a developer's machine: no GITHUB_ACTIONS, no runner folders."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{noisy['bin_dir']}:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp_path),
        "GITHUB_ACTION_PATH": str(REPO_ROOT), "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
        "FAKE_CARGO_LOG": str(noisy["cargo_log"]), "FAKE_DEPLOY_SOURCE": str(noisy["deploy"]),
        "FAKE_REPO_ROOT": str(REPO_ROOT), "CARGO_TARGET_DIR": str(noisy["target_dir"]), **extra,
    }
    return subprocess.run(["bash", str(REPO_ROOT / "action" / "resolve-binary.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("fails", [False, True], ids=["built", "failed"])
def test_outside_github_actions_there_are_no_workflow_commands(noisy, tmp_path, fails):
    result = resolve_outside_actions(noisy, tmp_path, **({"FAKE_CARGO_FAIL": "1"} if fails else {}))
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("::")], result.stderr
    assert "hf-deploy: Building hf-deploy from source (no release binary for uses: ./)" in lines, result.stderr
    if fails:
        assert result.returncode != 0 and result.stdout == ""
        assert any(line.startswith("hf-deploy: error: cargo build --release --locked failed") for line in lines)
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(noisy["target_dir"] / "release" / "hf-deploy")
        assert any(line.startswith("hf-deploy: Built hf-deploy from source in ") and line.endswith(HINT)
                   for line in lines), result.stderr


def test_a_release_asset_404_build_gives_no_pin_hint(runner_dirs, noisy, server, tmp_path):
    """Pinning a release does not help when the pinned release lacks the asset: the hint is left out."""
    pinned = action_copy(tmp_path / "action-checkout")
    pin(pinned, "9.9.9", "hf-deploy-x86_64-unknown-linux-musl.tar.gz", "ab" * 32)
    env = job_env(runner_dirs, noisy, GITHUB_ACTION_REF="v9.9.9", HF_DEPLOY_DOWNLOAD_BASE=server.base)
    result = run(CompositeAction(pinned), runner_dirs, env)
    assert result.returncode == 0, result.log
    lines = build_log(result)
    group_bounds(lines, "Building hf-deploy from source (no release binary for v9.9.9)")
    timing = [line for line in lines if "Built hf-deploy from source in" in line]
    assert len(timing) == 1 and re.search(r"in \d+ s$", timing[0]), timing
