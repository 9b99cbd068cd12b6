#!/usr/bin/env bash
# The deploy benchmark in one command: builds the release binaries, makes a venv with the pinned
# huggingface_hub, generates the data, runs every workload with both tools, prints the table and
# writes bench/deploy/RESULTS.md (not with --quick). Options: --quick (smoke run, reduced data),
# --keep (keep bench/out/deploy), --no-scale (skip the 100,000-file repo).
# --xet runs the Xet benchmark instead (bench/deploy/xet.py: dedup, append and cold, against
# huggingface_hub with hf_xet; writes bench/deploy/RESULTS-xet.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p hf-deploy -p hub-emulator
venv=bench/out/venv-deploy
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/deploy/requirements.txt
if [[ ${1:-} == --xet ]]; then
  shift
  exec "$venv/bin/python" bench/deploy/xet.py --python "$venv/bin/python" "$@"
fi
exec "$venv/bin/python" bench/deploy/run.py --python "$venv/bin/python" "$@"
