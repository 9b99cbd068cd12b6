#!/usr/bin/env bash
# Instructions per request in the proxy (user space), under callgrind: two runs of a fixed number of
# requests over CONNS connections (LOW and HIGH per connection), subtracted so start-up and shutdown drop
# out. Counts move by about 1% between runs (how requests batch per wake-up), far less than wall-clock
# figures on a shared machine, and do not depend on what the other core is doing.
# Usage: bash bench/proxy/callgrind.sh   (CONNS=64 LOW=20 HIGH=120)
# Needs valgrind. Builds the release binaries with debug info (for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
# shellcheck source=bench/proxy/lib.sh
. bench/proxy/lib.sh
out="$root/bench/out/proxy/callgrind"
mkdir -p "$out"
CONNS="${CONNS:-64}"; LOW="${LOW:-20}"; HIGH="${HIGH:-120}"

(cd crates/proxy && CARGO_PROFILE_RELEASE_DEBUG=true CARGO_PROFILE_RELEASE_STRIP=false \
  cargo build --release --locked --quiet --bin hf-space-proxy --example bench_upstream)
bin="$root/crates/proxy/target/release"

start_listening "$out/upstream.log" "$bin/examples/bench_upstream" 127.0.0.1:0
set_proxy_env "$addr"

# One proxy run under callgrind for `per` requests per connection; prints its total instruction count.
proxy_run() {
  local per="$1" f="$out/proxy-$1.out"
  rm -f "$f"
  start_listening "$out/proxy-$per.log" "${proxy_env[@]}" \
    valgrind --tool=callgrind --callgrind-out-file="$f" "$bin/hf-space-proxy"
  python3 bench/proxy/fixed_load.py "$addr" "$CONNS" "$per"
  kill -TERM "$pid"; wait "$pid" || true
  awk '/^summary:|^totals:/{print $2; exit}' "$f"
}

if ! { low=$(proxy_run "$LOW") && high=$(proxy_run "$HIGH"); }; then
  echo "a proxy run failed: see $out" >&2; exit 1
fi
reqs=$(( CONNS * (HIGH - LOW) ))
awk -v h="$high" -v l="$low" -v n="$reqs" \
  'BEGIN{printf "hf-space-proxy: %d requests, %.1fk instructions per request (%d - %d)\n", n, (h-l)/n/1000, h, l}' \
  | tee "$out/summary.txt"
echo "profile of the larger run: callgrind_annotate $out/proxy-$HIGH.out" | tee -a "$out/summary.txt"
