#!/usr/bin/env bash
# Starts a hub emulator for a workflow job (ci.yml, the act workflow) and exports HF_ENDPOINT through
# $GITHUB_ENV. It keeps running for the job's later steps; its pid is in $RUNNER_TEMP/hub-emulator.pid.
# Env: HUB_EMULATOR_BIN (default target/debug/hub-emulator).
set -euo pipefail

bin=${HUB_EMULATOR_BIN:-target/debug/hub-emulator}
dir=${RUNNER_TEMP:?RUNNER_TEMP is not set}/hub-emulator
mkdir -p "$dir/data"

# setsid: a process group of its own, so the step's end does not take the emulator down with it.
setsid "$bin" --listen 127.0.0.1:0 --user alice:hf_alice_write:write --data-dir "$dir/data" \
  >"$dir/stdout" 2>"$dir/stderr" </dev/null &
pid=$!
echo "$pid" >"$RUNNER_TEMP/hub-emulator.pid"

# Ready when it prints its one `listening on URL` line (bounded: 60 s).
for _ in $(seq 600); do
  line=$(head -n 1 "$dir/stdout" 2>/dev/null || true)
  if [[ $line == "listening on "* ]]; then
    echo "HF_ENDPOINT=${line#listening on }" >>"$GITHUB_ENV"
    echo "hub emulator ready at ${line#listening on } (pid $pid)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "::error::hub-emulator exited: $(cat "$dir/stderr")"
    exit 1
  fi
  sleep 0.1
done
echo "::error::hub-emulator did not print its listening line within 60 s"
exit 1
