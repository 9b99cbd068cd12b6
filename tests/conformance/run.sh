#!/usr/bin/env bash
# Runs the official-client conformance script against a fresh hub-emulator.
# usage: tests/conformance/run.sh PYTHON EMULATOR_BIN
set -euo pipefail

PY=${1:?usage: run.sh PYTHON EMULATOR_BIN}
BIN=${2:?usage: run.sh PYTHON EMULATOR_BIN}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkfifo "$work/stdout"
"$BIN" --listen 127.0.0.1:0 \
    --user alice:hf_alice_write:write \
    --user alice:hf_alice_read:read \
    --user bob:hf_bob_write:write \
    --user carol:hf_carol_write:write:free \
    --org acme:alice \
    --tree-page-size 5 \
    >"$work/stdout" 2>"$work/stderr" &
pid=$!
exec 3<"$work/stdout"
# Wait for the one line the emulator prints once it accepts connections.
if ! read -r -t 60 line <&3; then
    echo "conformance: the emulator did not start" >&2
    cat "$work/stderr" >&2
    exit 1
fi
url=${line#listening on }
if [[ "$url" != http://* ]]; then
    echo "conformance: unexpected first line: $line" >&2
    exit 1
fi

export HF_ENDPOINT="$url"
export HF_HUB_DISABLE_XET=1
export HF_HOME="$work/hf-home"
export HF_HUB_DISABLE_PROGRESS_BARS=1
export HF_HUB_DISABLE_IMPLICIT_TOKEN=1
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN
export CONFORMANCE_WORKDIR="$work"

"$PY" "$HERE/conformance.py"
