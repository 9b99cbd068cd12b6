#!/usr/bin/env bash
# Runs the official-client conformance script against a fresh hub-emulator (started and stopped by the
# shared test support module, as every suite here does).
# usage: tests/conformance/run.sh PYTHON EMULATOR_BIN [lfs|xet]
#   lfs (default): conformance.py with HF_HUB_DISABLE_XET=1, so large files take the LFS transfers;
#   xet: xet.py with the client's default (hf_xet installed, Xet on).
set -euo pipefail

PY=${1:?usage: run.sh PYTHON EMULATOR_BIN}
BIN=${2:?usage: run.sh PYTHON EMULATOR_BIN}
MODE=${3:-lfs}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

script=conformance.py
if [[ $MODE == xet ]]; then
  unset HF_HUB_DISABLE_XET
  script=xet.py
  "$PY" -c 'import hf_xet' || { echo "run.sh xet: hf_xet is not installed in $PY's environment" >&2; exit 1; }
else
  export HF_HUB_DISABLE_XET=1
fi
export HF_HOME="$work/hf-home"
export HF_HUB_DISABLE_PROGRESS_BARS=1
export HF_HUB_DISABLE_IMPLICIT_TOKEN=1
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN
export CONFORMANCE_WORKDIR="$work"

# The accounts conformance.py expects (its docstring lists them); a page size of 5 exercises pagination.
# No stale reads: the official client itself reads `main` right after its own commits (model_info, and the tree
# that upload_folder's delete_patterns plan against), so on a stale read it plans against the previous head, as it
# would on the Hub. This run checks the wire protocol step by step; hf-deploy's own suites run with stale reads.
"$PY" "$HERE/../hfdeploy_testing.py" with-emulator --path "$BIN" --workdir "$work/emulator" \
    --user alice:hf_alice_write:write \
    --user alice:hf_alice_read:read \
    --user bob:hf_bob_write:write \
    --user carol:hf_carol_write:write:free \
    --org acme:alice \
    --emulator-arg=--tree-page-size --emulator-arg=5 \
    --emulator-arg=--stale-reads-ms --emulator-arg=0 \
    -- "$PY" "$HERE/$script"
