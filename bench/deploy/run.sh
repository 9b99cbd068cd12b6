#!/usr/bin/env bash
# One command: builds release binaries, makes a venv with huggingface_hub, runs the deploy benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p hf-deploy -p hub-emulator
venv=bench/out/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet -r bench/deploy/requirements.txt
"$venv/bin/python" bench/deploy/run.py --python "$venv/bin/python" "$@"
