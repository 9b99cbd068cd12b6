#!/usr/bin/env bash
# The deploy benchmark in one command: builds the release binaries, makes a venv with the pinned
# huggingface_hub, generates the data, runs every workload with both tools, prints the table and
# writes bench/deploy/RESULTS.md (not with --quick). Options: --quick (smoke run, reduced data),
# --keep (keep bench/out/deploy), --no-scale (skip the 100,000-file repo).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p hf-deploy -p hub-emulator
venv=bench/out/venv-deploy
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/deploy/requirements.txt
exec "$venv/bin/python" bench/deploy/run.py --python "$venv/bin/python" "$@"
