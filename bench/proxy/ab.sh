#!/usr/bin/env bash
# hf-space-proxy against nginx at 64 connections, interleaved: ROUNDS rounds of (proxy, nginx) or (nginx, proxy),
# the order alternating, DURATION each. On a shared machine the load moves between two 10 s runs by more than
# the difference being measured; interleaved short runs see the same load, and the per-round ratios show the
# spread. Prints one line per round and the median ratio; writes bench/out/proxy/ab.tsv.
# Usage: bash bench/proxy/ab.sh   (ROUNDS=6 DURATION=5s CONNS=64)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
# shellcheck source=bench/proxy/lib.sh
. bench/proxy/lib.sh
out="$root/bench/out/proxy"
mkdir -p "$out"
ROUNDS="${ROUNDS:-6}"; DURATION="${DURATION:-5s}"; CONNS="${CONNS:-64}"

(cd crates/proxy && cargo build --release --quiet --bin hf-space-proxy --example bench_upstream)
bin="$root/crates/proxy/target/release"

start_listening "$out/ab-upstream.log" "$bin/examples/bench_upstream" 127.0.0.1:0
up_addr="$addr"
# The same proxy and nginx set-up as run.sh (access logs on, to files).
set_proxy_env "$up_addr"
start_listening "$out/ab-proxy.log" "${proxy_env[@]}" "$bin/hf-space-proxy"
proxy_addr="$addr"
start_nginx "$out/ab-nginx" "$up_addr"
curl -fsS "http://$proxy_addr/" >/dev/null

measure() { # url -> "req/s p99_ms"
  wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s --latency "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", t, re.M).groups()
p99 = float(v) / 1000 if unit == "us" else float(v) * 1000 if unit == "s" else float(v)
print(f"{rps:.0f} {p99:.3f}")'
}

printf 'round\tload\tproxy_rps\tproxy_p99_ms\tnginx_rps\tnginx_p99_ms\trps_ratio\tp99_ratio\n' > "$out/ab.tsv"
for i in $(seq 1 "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ $((i % 2)) = 1 ]; then
    p=$(measure "http://$proxy_addr/"); n=$(measure "http://127.0.0.1:$ng_port/")
  else
    n=$(measure "http://127.0.0.1:$ng_port/"); p=$(measure "http://$proxy_addr/")
  fi
  read -r prps pp99 <<<"$p"; read -r nrps np99 <<<"$n"
  awk -v i="$i" -v l="$load" -v a="$prps" -v b="$pp99" -v c="$nrps" -v d="$np99" \
    'BEGIN{printf "%d\t%s\t%d\t%.3f\t%d\t%.3f\t%.2f\t%.2f\n", i, l, a, b, c, d, a/c, b/d}' >> "$out/ab.tsv"
done
column -t "$out/ab.tsv"
python3 - "$out/ab.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()[1:]]
r = sorted(float(x[6]) for x in rows); p = sorted(float(x[7]) for x in rows)
wins = sum(1 for x in rows if float(x[6]) >= 1 and float(x[7]) <= 1)
print(f"req/s ratio: median {statistics.median(r):.2f}, range {r[0]:.2f}-{r[-1]:.2f}; "
      f"p99 ratio: median {statistics.median(p):.2f}, range {p[0]:.2f}-{p[-1]:.2f}; "
      f"rounds with >= 1.0x req/s and p99 <= nginx's: {wins} of {len(rows)}")
PY
