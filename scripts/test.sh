#!/usr/bin/env bash
# Every check CI runs, in one command: `bash scripts/test.sh`.
# On a fresh machine it installs what it needs first: Python venvs (test peers and linters).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${HF_DEPLOY_VENV:-$root/.venv}
legacy_venv=${HF_DEPLOY_LEGACY_VENV:-$root/.venv-legacy}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "Python venvs (test peers, linters)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r tests/requirements.txt
[ -x "$legacy_venv/bin/python" ] || python3 -m venv "$legacy_venv"
"$legacy_venv/bin/pip" install --quiet -r tests/conformance/requirements-legacy.txt

step "Rust: format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "Rust: workspace tests"
cargo test --workspace --all-features --locked

step "Proxy crate: standalone build, lints and tests (its own Cargo.lock)"
(
  cd crates/proxy
  cargo fmt --check
  cargo clippy --all-targets --locked -- -D warnings
  cargo test --locked
  cargo build --release --locked
)
bash crates/proxy/scripts/check-template.sh --lint-only

step "Binaries for the Python suites"
cargo build --workspace --all-features --locked --bins
export HF_DEPLOY_BIN=$root/target/debug/hf-deploy
export HUB_EMULATOR_BIN=$root/target/debug/hub-emulator
export HF_SPACE_PROXY_BIN=$root/crates/proxy/target/release/hf-space-proxy

step "Conformance: the official client against the emulator (newest 2.x and a 0.2x release)"
bash tests/conformance/run.sh "$venv/bin/python" "$HUB_EMULATOR_BIN"
bash tests/conformance/run.sh "$legacy_venv/bin/python" "$HUB_EMULATOR_BIN"

step "Action linters: actionlint, zizmor, check-jsonschema, shellcheck"
LINT_VENV=$venv bash .ci/lint-action.sh

step "Offline demo (the README's first command, debug build)"
"$HF_DEPLOY_BIN" demo

step "Python suites: integration (emulator), action harness, README drift"
"$venv/bin/python" -m pytest -q tests/integration tests/action tests/docs
