"""Turns the raw files of bench/proxy/run.sh (in bench/out/proxy) into the RESULTS.md table."""

import json
import os
import platform
import re
import subprocess
import sys
import time

out = sys.argv[1]


def read(name, default=""):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(target, conns):
    text = read(f"wrk-{target}-{conns}.txt")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": to_ms(p50.group(1)) if p50 else float("nan"),
        "p99": to_ms(p99.group(1)) if p99 else float("nan"),
        "errors": (errors.group(1) if errors else "0") + (f"; socket {sock.group(1)}" if sock else ""),
    }


hwm = {}
for line in read("runs.tsv").splitlines():
    t, c, kb = line.split("\t")
    hwm[(t, c)] = int(kb) if kb else 0

names = {"direct": "direct to upstream", "proxy": "hf-space-proxy (1 thread)", "nginx": "nginx (1 worker)",
         "fastapi": "FastAPI + httpx"}
targets = [t for t in ("direct", "proxy", "nginx", "fastapi") if read(f"wrk-{t}-1.txt")]
rows = []
res = {}
for conns in ("1", "64"):
    for t in targets:
        r = wrk(t, conns)
        res[(t, conns)] = r
        mem = f"{hwm.get((t, conns), 0) / 1024:.1f}" if t != "direct" else "(upstream)"
        load_at = read(f"load-{t}-{conns}.txt", "?")
        rows.append(f"| {conns} | {names[t]} | {r['rps']:,.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {mem} | {r['errors']} | {load_at} |")

lines = []
lines.append("# Proxy benchmark results\n")
lines.append("Produced by `bash bench/proxy/run.sh` (raw output in `bench/out/proxy/`). Load: `wrk --latency`, "
             f"{os.environ.get('DURATION', '10s')} per run, from its own process, on loopback; `GET /` of a "
             "13-byte body from a Rust/hyper upstream (`crates/proxy/examples/bench_upstream.rs`). The proxy is the "
             "release build with its access log on (to a file); nginx runs one worker with an upstream keepalive pool, "
             "the same token header and its access log on (to a file, buffered, flushed every 200 ms like ours); "
             "FastAPI runs under uvicorn[standard], one worker, access log off.\n")
load = read("clean-build-load.txt", "?")
build_note = f"load before the clean build: {load}" if read("clean-build-secs.txt") else "clean build skipped"
lines.append(f"Machine: {os.cpu_count()} cores, {platform.machine()}, shared with other jobs (load average before "
             f"each run in the last column); {build_note}; run at "
             f"{read('run-at.txt', time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))}.\n")
lines.append("| conns | target | req/s | p50 ms | p99 ms | peak RSS MiB | errors | load avg before (1/5/15 min) |")
lines.append("|---|---|---|---|---|---|---|---|")
lines.extend(rows)
lines.append("")

d64, p64, f64 = res[("direct", "64")], res[("proxy", "64")], res[("fastapi", "64")]
d1, p1, f1 = res[("direct", "1")], res[("proxy", "1")], res[("fastapi", "1")]
def mark(ok):
    return "met" if ok else "**missed**"


lines.append("| figure | value | target |")
lines.append("|---|---|---|")
ratio64 = p64["rps"] / f64["rps"]
lines.append(f"| throughput vs FastAPI, 64 conns | {ratio64:.1f}× | ≥ 10×: {mark(ratio64 >= 10)} |")
lines.append(f"| throughput vs FastAPI, 1 conn | {p1['rps'] / f1['rps']:.1f}× | |")
if "nginx" in targets:
    for c in ("64", "1"):
        n, p = res[("nginx", c)], res[("proxy", c)]
        lines.append(f"| hf-space-proxy / nginx, {c} conn{'s' if c != '1' else ''}: req/s {p['rps']:,.0f} / {n['rps']:,.0f}; "
                     f"p99 {p['p99']:.3f} / {n['p99']:.3f} ms | {p['rps'] / n['rps']:.2f}× req/s, "
                     f"{p['p99'] / n['p99']:.2f}× p99 | |")
added99 = p64["p99"] - d64["p99"]
lines.append(f"| p99 added over direct, 64 conns, wrk at saturation (closed loop) | {added99:.3f} ms | ≤ 1 ms: {mark(added99 <= 1)} |")
lines.append(f"| p50 / p99 added over direct, 1 conn | {p1['p50'] - d1['p50']:.3f} / {p1['p99'] - d1['p99']:.3f} ms | |")
lines.append(f"| p50 added over direct, 64 conns | {p64['p50'] - d64['p50']:.3f} ms | |")
for rate in sorted({line.split("\t")[1] for line in read("fixed-rate.tsv").splitlines() if "\t" in line}, key=int):
    fixed = {}
    for t in ("direct", "proxy"):
        with open(os.path.join(out, f"oha-{t}-{rate}.json")) as handle:
            doc = json.load(handle)
        fixed[t] = {k: doc["latencyPercentiles"][k] * 1000 for k in ("p50", "p99")}
        fixed[t]["rps"] = doc["summary"]["requestsPerSec"]
    added = fixed["proxy"]["p99"] - fixed["direct"]["p99"]
    lines.append(f"| p99 added over direct, 64 conns at a fixed {int(rate):,} req/s (oha, open loop): direct "
                 f"{fixed['direct']['p99']:.3f} ms, proxy {fixed['proxy']['p99']:.3f} ms | {added:.3f} ms | "
                 f"≤ 1 ms: {mark(added <= 1)} |")
peak = max(hwm.get(("proxy", "1"), 0), hwm.get(("proxy", "64"), 0))
lines.append(f"| proxy peak RSS (VmHWM) after the load runs | {peak / 1024:.1f} MiB | ≤ 20 MiB: {mark(peak <= 20 * 1024)} |")

for line in read("stream.tsv").splitlines():
    parts = line.split("\t")
    if len(parts) != 6:
        continue
    t, size, secs, before, after, peak_kb = parts
    size, secs = int(float(size)), float(secs)
    rate = size / secs / 2**20 if secs else 0
    lines.append(f"| {names[t]}: {size / 2**30:.2f} GiB streamed | {secs:.1f} s, {rate:,.0f} MiB/s; RSS "
                 f"{int(before) / 1024:.1f} → {int(after) / 1024:.1f} MiB, peak {int(peak_kb) / 1024:.1f} MiB | "
                 f"{'constant memory' if t == 'proxy' else ''} |")

build = read("clean-build-secs.txt")
if build:
    size = int(read("binary-bytes.txt", "0"))
    lines.append(f"| clean release build of the Space's files (`cargo build --release --locked`, fresh target dir) | "
                 f"{build} s (load before: {load}); binary {size / 2**20:.1f} MiB | ≤ 90 s: {mark(float(build) <= 90)} |")
lines.append("")
lines.append("""## Notes

- nginx is the mature peer: same upstream, same token header, access log on, one worker process. Since
  2026-12-07 the proxy runs one thread too (tokio's current-thread runtime): like for like with nginx's one
  worker. Until then it ran tokio's multi-threaded runtime on both cores and served 0.53× to 0.61× nginx's
  req/s at 64 connections. First pass (one thread, 38.0k instructions per request), three runs: 64 connections
  0.89×, 0.81×, 1.26× nginx's req/s (p99 1.24×, 1.71×, 0.47×); 1 connection 1.22×, 1.14×, 1.23×.
  Second pass (36.3k instructions per request), full runs of this script on 2026-12-07 at the second pass's
  code (load average 5.8 to 6.8 for the first two, another engineer's builds on the same 2 cores; 3.6 to 3.9
  for the third), in order: 64 connections 1.14×, 0.75×, 0.98× nginx's req/s with p99 1.14×, 1.02×, 1.06×
  nginx's; 1 connection 1.00×, 1.72×, 0.81×. (One more run, at the mimalloc commit since reverted: 0.84×,
  p99 0.71×; 1 connection 1.18×.) The table is the last run. Interleaved runs see the same load for both
  (`bash bench/proxy/ab.sh`: 6 rounds of 5 s at 64 connections, proxy and nginx in alternating order, load
  4.1 to 4.7): req/s 0.68× to 0.96× nginx's, median 0.85×; p99 1.01× to 1.70×, median 1.23×; no round met
  both. So the ≥ 1.0× target at 64 connections with p99 ≤ nginx's is not met: the proxy serves about 0.85×
  nginx's req/s, and single 10 s runs move by ±25% around that on this machine (hence the 1.26× and 1.14×
  single runs). 5% fewer instructions per request did not change that; nginx still runs on 43% fewer.
- Where the time goes (callgrind, instructions per request counted in user space at 64 connections:
  `bash bench/proxy/callgrind.sh`, a fixed number of requests, two counts subtracted to drop start-up; counts
  move by about 1% between runs): nginx 20.6k; hf-space-proxy 51.1k before the first pass, 50.3k with one
  thread (what that removed is cross-thread wake-ups, an eventfd write or futex every other request, which
  callgrind does not count), 48.4k with the pool taking the newest idle connection instead of scanning all of
  them, 39.8k with the access-log line written straight into its buffer (no `format!`), no copies for paths
  without `%` or for query-less targets, and `X-Forwarded-*` built once, 38.0k with body timers armed only when
  a body has to wait. Second pass, from 38.1k: 37.7k with the access log's timestamp formatted once per second
  and its numbers printed in u64 (a u128 division is a library call), 37.1k with the request path borrowed
  rather than copied, 36.3k with one reusable timer per client connection for hyper's header read timeout and
  the wait for the response head (no timer-wheel insert and removal, no boxed sleep per request); 35.7k at the
  head of the pass, after the retry change below (that path is not hit here: within run-to-run noise). mimalloc
  took it to 35.2k, but raised the proxy's peak RSS from 7.0 to 13.4 MiB under load and to 21.0 MiB while
  streaming 1 GiB (target ≤ 20 MiB), so it was reverted. What remains is mostly hyper (its server and client
  state machines, parsing and encoding: about half), header-map hashing (~3k), two 8 KiB read buffers
  allocated per request (hyper reserves before every read while the previous head's bytes are still
  referenced), `memcpy` of large futures (~2.4k) and malloc/free (~3.8k, twelve allocations per request). The
  wake-up retry's copy of the headers (~1k) stays: a retry needs the whole request, hyper consumes it when it
  sends it, and a waking Space's 502/503 comes after that; the copy is skipped only for an attempt that no
  retry can follow (all of them with `PROXY_WAKE_RETRY_SECS=0`). Syscalls per request (`strace -c`, 6,400
  requests over 64 connections): 2 `writev`, 2 `recvfrom`, 0.1 `epoll_wait`, as nginx: the gap is user space.
- A negative "p99 added over direct" means the upstream alone, driven at saturation by wrk, queued more than
  it does behind the proxy (which paces it): the closed-loop p99 says little on a loaded machine.
- All targets, the load generator and the upstream share this machine's 2 cores, so wrk's closed-loop
  latencies at 64 connections (every connection sends again as soon as it gets an answer: saturation) are mostly
  CPU queueing, and p99s move by milliseconds between runs. The fixed-rate rows (oha `-q`, open loop with latency
  correction) measure the latency the proxy adds at a given load instead; that is the figure the ≤ 1 ms target
  is about, and they say at which rate it holds.
  The proxy does twice the socket work of the upstream (one connection each way), and its per-request CPU is
  dominated by the kernel's loopback TCP path (`perf`: about half the samples in the kernel, most of it in
  `writev`). Treat the p99 figures as an upper bound, and compare the columns within one run only.
- At saturation the p99 added at 64 connections moved between 0.8 and 2.0 ms across runs on this machine; at a
  fixed 5,000 req/s it stays under 1 ms, at 10,000 req/s it is just over (oha was not installed for the
  2026-12-07 runs, so those rows were not rerun).
- "constant memory": the proxy's RSS after 1 GiB streamed through is within a few MiB of its RSS before (the
  body is passed frame by frame; nothing is buffered beyond socket buffers).
- The build time is `cargo build --release --locked` of exactly the Space's files in a fresh target directory
  on this machine, i.e. the Rust part of the Space's Docker build; the image pull and layer export on HF's
  builders come on top. It depends on the machine's load more than on the code: 49.4 s at load 5.3 in the
  first pass, 90.9 s at load 6.7 in the second with the same dependencies (Cargo.lock unchanged). The Docker build itself was not run here (no Docker daemon, no registry access).
""")
print("\n".join(lines))
