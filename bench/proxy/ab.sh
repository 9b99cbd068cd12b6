#!/usr/bin/env bash
# hf-space-proxy against nginx at 64 connections, interleaved: ROUNDS rounds of (proxy, nginx) or (nginx, proxy),
# the order alternating, DURATION each. On a shared machine the load moves between two 10 s runs by more than
# the difference being measured; interleaved short runs see the same load, and the per-round ratios show the
# spread. Prints one line per round and the median ratio; writes bench/out/proxy/ab.tsv.
# Usage: bash bench/proxy/ab.sh   (ROUNDS=6 DURATION=5s CONNS=64)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
# shellcheck source=bench/proxy/nginx.sh
. bench/proxy/nginx.sh
out="$root/bench/out/proxy"
mkdir -p "$out"
ROUNDS="${ROUNDS:-6}"; DURATION="${DURATION:-5s}"; CONNS="${CONNS:-64}"
TOKEN="hf_benchtoken_not_a_secret"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
nginx_bin="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

(cd crates/proxy && cargo build --release --quiet --bin hf-space-proxy --example bench_upstream)
bin="$root/crates/proxy/target/release"

first_line() { # file -> its first whole line, once written
  for _ in $(seq 1 200); do
    [ -f "$1" ] && [ "$(wc -l < "$1")" -ge 1 ] && { head -n1 "$1"; return; }
    sleep 0.05
  done
  echo "no line in $1" >&2; exit 1
}

"$bin/examples/bench_upstream" 127.0.0.1:0 >"$out/ab-upstream.stdout" 2>/dev/null &
pids+=("$!")
up_addr=$(first_line "$out/ab-upstream.stdout"); up_addr="${up_addr#listening on http://}"
# The same proxy and nginx set-up as run.sh (access logs on, to files).
env -i PROXY_TARGET_URL="http://$up_addr" PROXY_HF_TOKEN="$TOKEN" PROXY_LISTEN=127.0.0.1:0 \
  PROXY_PUBLIC_ORIGIN=https://bench-proxy.hf.space PROXY_MAX_CONNECTIONS_PER_CALLER=0 \
  "$bin/hf-space-proxy" >"$out/ab-proxy.stdout" 2>"$out/ab-proxy.log" &
pids+=("$!")
proxy_addr=$(first_line "$out/ab-proxy.stdout"); proxy_addr="${proxy_addr#listening on http://}"
ng="$out/ab-nginx"
rm -rf "$ng"; mkdir -p "$ng/tmp"
ng_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nginx_conf "$ng" "$ng_port" "$up_addr" "$TOKEN"
"$nginx_bin" -p "$ng" -c "$ng/nginx.conf" >"$ng/stdout.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ng_port/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$ng_port/" >/dev/null
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
