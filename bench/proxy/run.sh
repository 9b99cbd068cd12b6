#!/usr/bin/env bash
# Proxy benchmark: direct-to-upstream vs hf-space-proxy (release) vs nginx (one worker) vs a FastAPI + httpx
# proxy, on loopback.
# Load comes from wrk in its own process. Writes bench/out/proxy/* and bench/proxy/RESULTS.md.
# Usage: bash bench/proxy/run.sh        (DURATION=10s, STREAM_BYTES=1073741824, SKIP_CLEAN_BUILD=1 to skip)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
# shellcheck source=bench/proxy/lib.sh
. bench/proxy/lib.sh
out="$root/bench/out/proxy"
mkdir -p "$out"
DURATION="${DURATION:-10s}"
STREAM_BYTES="${STREAM_BYTES:-1073741824}"

need() { command -v "$1" >/dev/null || { echo "missing $1: $2" >&2; exit 1; }; }
need wrk "apt-get install -y wrk"
need curl "apt-get install -y curl"

# 1. Clean release build of exactly the Space's files, in a fresh target dir: the Space's build time.
if [ "${SKIP_CLEAN_BUILD:-0}" != 1 ]; then
  space="$out/space-build"
  rm -rf "$space"; mkdir -p "$space"
  cp crates/proxy/Cargo.toml crates/proxy/Cargo.lock "$space/"; cp -R crates/proxy/src "$space/src"
  start=$(date +%s.%N)
  (cd "$space" && CARGO_TARGET_DIR="$space/target" cargo build --release --locked --quiet)
  end=$(date +%s.%N)
  awk "BEGIN{printf \"%.1f\n\", $end - $start}" > "$out/clean-build-secs.txt"
  stat -c %s "$space/target/release/hf-space-proxy" > "$out/binary-bytes.txt"
  cut -d' ' -f1-3 /proc/loadavg > "$out/clean-build-load.txt"
  rm -rf "$space"
fi

# 2. Our binaries (proxy + the Rust upstream), release.
(cd crates/proxy && cargo build --release --quiet --bin hf-space-proxy --example bench_upstream)
bin="$root/crates/proxy/target/release"

# 3. The FastAPI peer, in its own venv.
venv="$out/venv"
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/proxy/requirements.txt
fi

start_listening "$out/upstream.log" "$bin/examples/bench_upstream" 127.0.0.1:0
up_addr="$addr"; up_pid="$pid"
set_proxy_env "$up_addr"
start_listening "$out/proxy.log" "${proxy_env[@]}" "$bin/hf-space-proxy"
proxy_addr="$addr"; proxy_pid="$pid"
fa_port=$(free_port)
(cd bench/proxy && PROXY_TARGET_URL="http://$up_addr" PROXY_HF_TOKEN="$TOKEN" \
  exec "$venv/bin/uvicorn" fastapi_proxy:app --host 127.0.0.1 --port "$fa_port" --no-access-log --log-level warning \
  >"$out/fastapi.log" 2>&1) &
fa_pid=$!; pids+=("$fa_pid")
# nginx as the mature peer (bench/proxy/lib.sh).
start_nginx "$out/nginx" "$up_addr"
# The worker (the master's only child) does the work; its memory is the figure.
ng_worker=$(pgrep -P "$ng_pid" | head -n1)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$fa_port/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$fa_port/" >/dev/null
curl -fsS "http://$proxy_addr/" >/dev/null

hwm() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# uvicorn runs as the child of the subshell's exec: the same pid.
: > "$out/runs.tsv"
for conns in 1 64; do
  threads=$([ "$conns" = 1 ] && echo 1 || echo 2)
  for target in direct proxy nginx fastapi; do
    case $target in
      direct) url="http://$up_addr/"; p=$up_pid ;;
      proxy) url="http://$proxy_addr/"; p=$proxy_pid ;;
      nginx) url="http://127.0.0.1:$ng_port/"; p=$ng_worker ;;
      fastapi) url="http://127.0.0.1:$fa_port/"; p=$fa_pid ;;
    esac
    cut -d' ' -f1-3 /proc/loadavg > "$out/load-$target-$conns.txt"
    wrk -t"$threads" -c"$conns" -d"$DURATION" --timeout 10s --latency "$url" > "$out/wrk-$target-$conns.txt"
    printf '%s\t%s\t%s\n' "$target" "$conns" "$(hwm "$p")" >> "$out/runs.tsv"
  done
done

# Added latency at a fixed request rate (open loop, corrected for coordinated omission): wrk above runs
# closed-loop at saturation, where p99 is mostly CPU queueing on 2 shared cores. Needs oha
# (`cargo install oha --locked`); OHA=/path/to/oha overrides. Skipped, and said so, without it.
oha_bin="${OHA:-$(command -v oha || true)}"
: > "$out/fixed-rate.tsv"
if [ -n "$oha_bin" ]; then
  for rate in 5000 10000; do
    for target in direct proxy; do
      case $target in direct) url="http://$up_addr/" ;; proxy) url="http://$proxy_addr/" ;; esac
      "$oha_bin" -z "$DURATION" -c 64 -q "$rate" --latency-correction --no-tui --output-format json "$url" \
        > "$out/oha-$target-$rate.json"
      printf '%s\t%s\n' "$target" "$rate" >> "$out/fixed-rate.tsv"
    done
  done
else
  echo "oha not found: skipping the fixed-rate latency runs (cargo install oha --locked)" >&2
fi

# 1 GiB streamed through: throughput, and the proxy's memory before and after.
: > "$out/stream.tsv"
for target in direct proxy nginx fastapi; do
  case $target in
    direct) base="http://$up_addr"; p=$up_pid ;;
    proxy) base="http://$proxy_addr"; p=$proxy_pid ;;
    nginx) base="http://127.0.0.1:$ng_port"; p=$ng_worker ;;
    fastapi) base="http://127.0.0.1:$fa_port"; p=$fa_pid ;;
  esac
  before=$(rss "$p")
  res=$(curl -sS -o /dev/null --max-time 120 -w '%{size_download} %{time_total}' "$base/stream?bytes=$STREAM_BYTES" || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$res" "$before" "$(rss "$p")" "$(hwm "$p")" | tr ' ' '\t' >> "$out/stream.tsv"
done

date -u '+%Y-%m-%d %H:%M UTC' > "$out/run-at.txt"
python3 bench/proxy/summarize.py "$out" > bench/proxy/RESULTS.md
cat bench/proxy/RESULTS.md
