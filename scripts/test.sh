#!/usr/bin/env bash
# Every check CI runs, in one command: `bash scripts/test.sh`.
# `bash scripts/test.sh rust proxy` runs only the named stages (in the order of a full run); `--help` lists them.
# A stage makes sure of what it needs first: the Python venvs (installed when new, reinstalled only when a
# requirements file changed) and the binaries (built, unless HF_DEPLOY_BIN, HUB_EMULATOR_BIN or
# HF_SPACE_PROXY_BIN name one to use instead).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${HF_DEPLOY_VENV:-$root/.venv}
legacy_venv=${HF_DEPLOY_LEGACY_VENV:-$root/.venv-legacy}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# name:what it runs, in the order of a full run.
stages=(
  "venvs:the Python venvs (test peers, linters), refreshed only when a requirements file changed"
  "rust:cargo fmt, clippy, module cycles and the workspace tests"
  "proxy:the proxy crate alone (its own Cargo.lock): fmt, clippy, tests, release build, Space template lint"
  "bins:the binaries the later stages run (debug hf-deploy, hub-emulator and hf-deploy-demo, release hf-space-proxy)"
  "conformance:the official client (newest 2.x and a 0.2x release) against the emulator"
  "lint:actionlint (shellcheck on run: scripts), zizmor, check-jsonschema, shellcheck"
  "demo:the offline demo (the README's first command)"
  "python:pytest: integration suite on the emulator, action harness, README drift"
)
names=("${stages[@]%%:*}")

usage() {
  echo "usage: bash scripts/test.sh [STAGE...]   (no stage: all of them, in this order)"
  echo
  for entry in "${stages[@]}"; do
    printf '  %-12s %s\n' "${entry%%:*}" "${entry#*:}"
  done
}

step() { printf '\n==> %s\n' "$*"; }

digest() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

# A venv is (re)installed only when it is new or its requirements changed: the stamp holds their digest.
ensure_venv() {
  local dir=$1
  shift
  local stamp=$dir/.requirements.sha256 want
  want=$(digest "$@")
  if [[ -x $dir/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
    return
  fi
  step "Python venv $dir (${*})"
  [[ -x $dir/bin/python ]] || python3 -m venv "$dir"
  local args=()
  for file in "$@"; do args+=(-r "$file"); done
  "$dir/bin/pip" install --quiet --disable-pip-version-check "${args[@]}"
  printf '%s\n' "$want" >"$stamp"
}
ensure_venvs() {
  ensure_venv "$venv" tests/requirements.txt
  ensure_venv "$legacy_venv" tests/conformance/requirements-legacy.txt
}

bins_ready=""
workspace_built=""
ensure_bins() {
  [[ -z $bins_ready ]] || return 0
  if [[ -z ${HF_DEPLOY_BIN:-} || -z ${HUB_EMULATOR_BIN:-} ]]; then
    step "Binaries: hf-deploy, hub-emulator and hf-deploy-demo (debug; the workspace, as \`cargo build\` builds it)"
    cargo build --workspace --locked --bins
    workspace_built=1
  fi
  export HF_DEPLOY_BIN=${HF_DEPLOY_BIN:-$root/target/debug/hf-deploy}
  export HUB_EMULATOR_BIN=${HUB_EMULATOR_BIN:-$root/target/debug/hub-emulator}
  if [[ -z ${HF_SPACE_PROXY_BIN:-} ]]; then
    step "Binaries: hf-space-proxy (release, as the proxy Space builds it)"
    (cd crates/proxy && cargo build --release --locked)
  fi
  export HF_SPACE_PROXY_BIN=${HF_SPACE_PROXY_BIN:-$root/crates/proxy/target/release/hf-space-proxy}
  printf 'binaries: %s %s %s\n' "$HF_DEPLOY_BIN" "$HUB_EMULATOR_BIN" "$HF_SPACE_PROXY_BIN"
  bins_ready=1
}

stage_venvs() {
  ensure_venvs
  echo "venvs: $venv, $legacy_venv up to date"
}

stage_rust() {
  step "Rust: format, lints, module cycles"
  cargo fmt --all --check
  python3 scripts/module-cycles.py crates/hub crates/deploy crates/hub-emulator crates/demo
  cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
  step "Rust: workspace tests"
  cargo test --workspace --all-features --locked
}

stage_proxy() {
  step "Proxy crate: standalone build, lints and tests (its own Cargo.lock)"
  (
    cd crates/proxy
    cargo fmt --check
    cargo clippy --all-targets --locked -- -D warnings
    cargo test --locked
    cargo build --release --locked
  )
  bash crates/proxy/scripts/check-template.sh --lint-only
}

stage_bins() {
  ensure_bins
}

stage_conformance() {
  ensure_venvs
  ensure_bins
  step "Conformance: the official client against the emulator (newest 2.x and a 0.2x release)"
  bash tests/conformance/run.sh "$venv/bin/python" "$HUB_EMULATOR_BIN"
  bash tests/conformance/run.sh "$legacy_venv/bin/python" "$HUB_EMULATOR_BIN"
  step "Conformance through Xet: the official client with hf_xet (newest 2.x and a 0.2x release)"
  bash tests/conformance/run.sh "$venv/bin/python" "$HUB_EMULATOR_BIN" xet
  bash tests/conformance/run.sh "$legacy_venv/bin/python" "$HUB_EMULATOR_BIN" xet
}

stage_lint() {
  ensure_venv "$venv" tests/requirements.txt
  step "Action linters: actionlint, zizmor, check-jsonschema, shellcheck"
  LINT_VENV=$venv bash .ci/lint-action.sh
}

stage_demo() {
  ensure_bins
  if [[ -n $workspace_built ]]; then
    # The README's promise: after \`cargo build\` of the workspace, the demo command compiles nothing (the demo
    # resolves the same dependency features as the workspace, so every crate is reused).
    step "Offline demo: building it after the workspace build compiles nothing"
    cargo build --locked -p hf-deploy-demo --message-format=json | python3 scripts/check-fresh-build.py
  else
    step "Binaries: hf-deploy-demo (debug)"
    cargo build --locked -p hf-deploy-demo
  fi
  step "Offline demo (the README's first command, debug build)"
  "$root/target/debug/hf-deploy-demo"
}

stage_python() {
  ensure_venv "$venv" tests/requirements.txt
  ensure_bins
  step "Python suites: integration (emulator), action harness, README drift"
  "$venv/bin/python" -m pytest -q tests/integration tests/action tests/docs
}

# in LIST... NAME: is NAME one of LIST?
in_list() {
  local name=${*: -1} item
  for item in "${@:1:$#-1}"; do
    [[ $item == "$name" ]] && return 0
  done
  return 1
}

for arg in "$@"; do
  case $arg in
    -h | --help)
      usage
      exit 0
      ;;
  esac
  if ! in_list "${names[@]}" "$arg"; then
    echo "unknown stage '$arg'; valid stages: ${names[*]} (or --help)" >&2
    exit 2
  fi
done

for name in "${names[@]}"; do
  if [[ $# -eq 0 ]] || in_list "$@" "$name"; then
    "stage_$name"
  fi
done
