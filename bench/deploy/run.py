"""Deploy benchmark: hf-deploy against huggingface_hub, same emulator build, same data, one run.

    bash bench/deploy/run.sh [--quick] [--keep] [--no-scale]

Workloads (data generated under bench/out/deploy, removed at the end unless --keep):
  1 cold      2,000 small text files in nested folders + 4 files of 64 MiB
  2 no-op     the same folder again
  3 changed   one small file and one 64 MiB file changed
  N1-N3       a real network (emulator link shaping: 40 ms per request, 200 Mbit/s per body): cold
              (2,000 small + 4 × 8 MiB), no-op, one small file changed
  4 many      20,000 small files
  5 huge      one 2 GiB file (multipart)
Each tool gets its own emulator process (release build, --data-dir on disk), started identically: the
emulator's LFS store is content-addressed, so a shared one would let the second tool skip every upload.
For each run: wall time, CPU time (wait4) and peak RSS (GNU time) of the tool's process, bytes sent (sum of the
journal's `bytes_in`), HTTP requests and commits (journal), the emulator's own CPU time, and ours/theirs.
Also: sha256 throughput against sha256sum (one 2 GiB file; many files with all cores busy), start-up time
(`hf-deploy --version` against `python -c "import huggingface_hub"`), and the peak RSS of a no-op deploy of
a 100,000-file repo (hf-deploy only). After every pair the two repos are compared: same paths, same oids.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "deploy"
TOKEN = "hf_bench_write_0123456789"
MIB = 1024 * 1024
# The "real network" rows: the emulator's link shaping (see `hub-emulator --help`).
NET_LINK = ("--latency-ms", "40", "--bandwidth", "200mbit")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- emulator


class Emulator:
    """One `hub-emulator` process with a user `bench` and its data on disk."""

    def __init__(self, binary: str, data_dir: pathlib.Path, extra: tuple[str, ...] = ()) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(data_dir.parent / f"{data_dir.name}.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--user", f"bench:{TOKEN}:write", "--data-dir", str(data_dir),
             *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        match = re.fullmatch(r"listening on (http://\S+)", line)
        if not match:
            self.proc.kill()
            raise SystemExit(f"emulator did not start: {line!r}")
        self.url = match.group(1)

    def cpu(self) -> float:
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def journal(self) -> list[dict]:
        with urllib.request.urlopen(self.url + "/_emulator/journal", timeout=120) as resp:
            return [e for e in json.load(resp) if not e["path"].startswith("/_emulator")]

    def clear_journal(self) -> None:
        req = urllib.request.Request(self.url + "/_emulator/journal", method="DELETE")
        urllib.request.urlopen(req, timeout=60).read()

    def tree(self, repo: str) -> dict[str, str]:
        """path → content oid (LFS sha256, else git blob sha1), `.gitattributes` left out. Listed at the real head
        (the control API): `main` may still read as the previous head right after a commit (--stale-reads-ms)."""
        with urllib.request.urlopen(f"{self.url}/_emulator/repos/model/{repo}/refs/main", timeout=60) as resp:
            head = json.load(resp)["commit"]
        out: dict[str, str] = {}
        url: str | None = f"{self.url}/api/models/{repo}/tree/{head}?recursive=true"
        while url:
            req = urllib.request.Request(url, headers={"authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                for entry in json.load(resp):
                    if entry["type"] == "file" and entry["path"] != ".gitattributes":
                        out[entry["path"]] = (entry.get("lfs") or {}).get("oid") or entry["oid"]
                link = resp.headers.get("link") or ""
            match = re.search(r'<([^>]+)>;\s*rel="next"', link)
            url = match.group(1) if match else None
        return out

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


# ---------------------------------------------------------------- data


def write_big(path: pathlib.Path, size: int, seed: int) -> None:
    """Incompressible bytes; every MiB differs, so no two files or blocks share content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = bytearray(random.Random(seed).randbytes(MIB))
    with open(path, "wb") as handle:
        for index in range(size // MIB):
            block[:8] = index.to_bytes(8, "little")
            handle.write(block)


def write_small_tree(root: pathlib.Path, count: int, seed: int, fanout: int = 20) -> None:
    """`count` text files of ~200 bytes in nested folders (dNN/eN/fNNNNN.txt)."""
    rng = random.Random(seed)
    for index in range(count):
        folder = root / f"d{index % fanout:02d}" / f"e{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:06d}.txt").write_text(f"file {index} {rng.random()}\n" * 8)


# ---------------------------------------------------------------- measuring


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(cmd: list[str], env: dict[str, str], emu: Emulator, stderr_path: pathlib.Path) -> dict:
    """Runs one tool to completion; everything the emulator saw in between is attributed to it."""
    # Flush dirty pages first (freshly generated data, the emulators' stored objects): otherwise their write-back
    # lands in whichever run comes next, which is always hf-deploy's.
    os.sync()
    emu.clear_journal()
    cpu_before = emu.cpu()
    # Peak RSS through GNU time: Linux keeps a process's peak RSS from before its exec, so a tool forked straight
    # from this Python process (over 100 MiB after generating data) would report at least that. `time` is small.
    rss_path = stderr_path.with_suffix(".rss")
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *cmd] if GNU_TIME else cmd
    with open(stderr_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, env=env, stdout=err, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    rss_kib = int(rss_path.read_text().split()[-1]) if GNU_TIME and rss_path.exists() else usage.ru_maxrss
    if os.waitstatus_to_exitcode(status) != 0:
        tail = stderr_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd[:2])} failed (exit {os.waitstatus_to_exitcode(status)}):\n{tail}")
    entries = emu.journal()
    lfs = [e for e in entries if e["path"].startswith("/_lfs/") and e["method"] == "PUT"]
    commits = [e for e in entries if e["method"] == "POST" and "/commit/" in e["path"] and e["status"] == 200]
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": rss_kib / 1024,
        "requests": len(entries),
        "bytes": sum(int(e.get("bytes_in", 0)) for e in entries),
        "lfs_bytes": sum(int(e.get("bytes_in", 0)) for e in lfs),
        "lfs_puts": len(lfs),
        "commit_bytes": sum(int(e.get("bytes_in", 0)) for e in commits),
        "commits": len(commits),
        "emu_cpu": emu.cpu() - cpu_before,
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ours_bin = str(ROOT / "target" / "release" / "hf-deploy")
        self.emu_bin = str(ROOT / "target" / "release" / "hub-emulator")
        self.rows: list[tuple[str, dict, dict]] = []
        self.notes: list[str] = []
        self.emu_args: tuple[str, ...] = ()
        self.emu_ours = Emulator(self.emu_bin, OUT / "hub-ours")
        self.emu_theirs = Emulator(self.emu_bin, OUT / "hub-theirs")
        self.base_env = {
            "PATH": os.environ["PATH"], "HOME": str(OUT), "HF_TOKEN": TOKEN,
            "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0", "HF_HOME": str(OUT / "hf-home"), "LC_ALL": "C.UTF-8",
        }
        self.logs = OUT / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.step = 0

    def ours_env(self, repo: str, folder: pathlib.Path, **extra: str) -> dict[str, str]:
        return dict(self.base_env, HF_ENDPOINT=self.emu_ours.url, HF_DEPLOY_HUGGINGFACE_REPO=f"bench/{repo}",
                    HF_DEPLOY_REPO_TYPE="model", HF_DEPLOY_SOURCE_DIR=str(folder), **extra)

    def ours(self, repo: str, folder: pathlib.Path, **extra: str) -> dict:
        self.step += 1
        return measure([self.ours_bin, "deploy"], self.ours_env(repo, folder, **extra), self.emu_ours,
                       self.logs / f"{self.step:02d}-ours-{repo}.log")

    def theirs(self, repo: str, folder: pathlib.Path) -> dict:
        self.step += 1
        script = str(pathlib.Path(__file__).with_name("hf_hub_upload.py"))
        env = dict(self.base_env, HF_ENDPOINT=self.emu_theirs.url)
        return measure([self.args.python, script, self.emu_theirs.url, f"bench/{repo}", str(folder)], env,
                       self.emu_theirs, self.logs / f"{self.step:02d}-theirs-{repo}.log")

    def pair(self, label: str, repo: str, folder: pathlib.Path, **ours_env: str) -> tuple[dict, dict]:
        log(f"{label}: hf-deploy")
        a = self.ours(repo, folder, **ours_env)
        log(f"{label}: hf-deploy {a['wall']:.2f} s; huggingface_hub")
        b = self.theirs(repo, folder)
        log(f"{label}: huggingface_hub {b['wall']:.2f} s")
        ours_tree, theirs_tree = self.emu_ours.tree(f"bench/{repo}"), self.emu_theirs.tree(f"bench/{repo}")
        if ours_tree != theirs_tree:
            diff = sorted(set(ours_tree.items()) ^ set(theirs_tree.items()))[:10]
            raise SystemExit(f"{label}: the two repos differ after the deploy: {diff}")
        return a, b

    def add_row(self, label: str, runs: list[tuple[dict, dict]]) -> None:
        """One table row per workload: each tool's median run by wall time (the runs' walls go in a note)."""
        def median_run(side: int) -> dict:
            ordered = sorted((run[side] for run in runs), key=lambda m: m["wall"])
            return ordered[(len(ordered) - 1) // 2]
        a, b = median_run(0), median_run(1)
        if len(runs) > 1:
            walls = "; ".join(f"{x['wall']:.2f} vs {y['wall']:.2f}" for x, y in runs)
            a = dict(a, runs=walls)
        self.rows.append((label, a, b))

    def close(self) -> None:
        self.emu_ours.stop()
        self.emu_theirs.stop()

    def fresh_emulators(self, *extra: str) -> None:
        """New emulators with empty stores (keeps the disk use of the repeated workloads bounded), started with
        `extra` flags (e.g. link shaping) until the next call."""
        self.close()
        for name in ("hub-ours", "hub-theirs"):
            shutil.rmtree(OUT / name, ignore_errors=True)
        self.emu_args = extra
        self.emu_ours = Emulator(self.emu_bin, OUT / "hub-ours", extra)
        self.emu_theirs = Emulator(self.emu_bin, OUT / "hub-theirs", extra)


# ---------------------------------------------------------------- extra measurements


def hashing(bench: Bench, huge: pathlib.Path, many_big: pathlib.Path) -> dict:
    """sha256 throughput, warm page cache: hf-deploy's walk + hash (a dry run: plan only, nothing sent) against
    `sha256sum` (the issue's reference; coreutils here has no SHA-NI) and `openssl dgst -sha256` (SHA-NI: the
    real bar). Per core = bytes per CPU second of the process; all cores = bytes per wall second over many files."""
    size = huge.stat().st_size
    files = sorted(str(p) for p in many_big.iterdir())
    many_size = sum(os.path.getsize(p) for p in files)
    subprocess.run(["cat", str(huge), *files], check=True, stdout=subprocess.DEVNULL)  # warm the page cache
    cores = os.cpu_count() or 1

    def timed(cmd: list[str], env: dict[str, str] | None = None, runs: int = 2) -> tuple[float, float]:
        best = (float("inf"), 0.0)
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{cmd[0]} failed")
            best = min(best, (wall, usage.ru_utime + usage.ru_stime))
        return best

    def all_cores(tool: str) -> float:
        """`tool` over the files with one process per core (files dealt in equal groups); wall seconds."""
        per = max(1, -(-len(files) // cores))
        script = f"printf '%s\\0' \"$@\" | xargs -0 -n {per} -P {cores} {tool}"
        return timed(["sh", "-c", script, "sh", *files], runs=1)[0]

    out = {"size": size, "many_size": many_size, "many_files": len(files), "cores": cores}
    for name, cmd in (("sha256sum", ["sha256sum"]), ("openssl", ["openssl", "dgst", "-sha256"])):
        wall, cpu = timed([*cmd, str(huge)], runs=1)
        out[name] = {"core": size / cpu / MIB, "wall": size / wall / MIB,
                     "all": many_size / all_cores(" ".join(cmd)) / MIB}
    # The hash cache off: this measures hashing, and the second of the two runs would otherwise read nothing.
    off = {"HF_DEPLOY_DRY_RUN": "true", "HF_DEPLOY_HASH_CACHE": "false"}
    wall, cpu = timed([bench.ours_bin, "deploy"], bench.ours_env("hash-one", huge.parent, **off))
    many_wall, many_cpu = timed([bench.ours_bin, "deploy"], bench.ours_env("hash-many", many_big, **off))
    out["ours"] = {"core": size / cpu / MIB, "wall": size / wall / MIB, "all": many_size / many_wall / MIB,
                   "all_core": many_size / many_cpu / MIB}
    return out


def startup(bench: Bench, runs: int) -> dict:
    """Start-up: `posix_spawn` + `waitpid` around each run (no shell, no subprocess machinery, so the harness adds
    as little as possible to either side); median and minimum over `runs`, after one warm-up run."""
    null = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]

    def times_ms(argv: list[str], n: int) -> tuple[float, float]:
        samples = []
        for index in range(n + 1):
            start = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, bench.base_env, file_actions=null)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{argv} failed")
            if index:
                samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples), min(samples)

    ours = times_ms([bench.ours_bin, "--version"], runs * 3)
    theirs = times_ms([bench.args.python, "-c", "import huggingface_hub"], runs)
    baseline = times_ms(["/bin/true"], runs * 3)
    return {"runs": runs, "ours": ours[0], "ours_min": ours[1], "theirs": theirs[0], "theirs_min": theirs[1],
            "true": baseline[0]}


def scale(bench: Bench, count: int) -> dict:
    """A repo with `count` files: cold deploy, then the no-op deploy whose memory must stay bounded."""
    folder = OUT / "scale"
    log(f"scale: writing {count:,} files")
    write_small_tree(folder, count, 5, fanout=100)
    log("scale: cold deploy")
    cold = bench.ours("scale", folder)
    log(f"scale: cold {cold['wall']:.1f} s; no-op deploy")
    noop = bench.ours("scale", folder)
    log(f"scale: no-op {noop['wall']:.1f} s; no-op with the hash cache off")
    noop_uncached = bench.ours("scale", folder, HF_DEPLOY_HASH_CACHE="false")
    remote = bench.emu_ours.tree("bench/scale")
    if len(remote) != count:
        raise SystemExit(f"scale: the repo holds {len(remote)} files, not {count}")
    return {"count": count, "cold": cold, "noop": noop, "noop_uncached": noop_uncached}


# ---------------------------------------------------------------- report


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else ("0" if not a else "n/a")


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def versions(bench: Bench) -> str:
    ours = subprocess.run([bench.ours_bin, "--version"], capture_output=True, text=True).stdout.strip()
    theirs = subprocess.run([bench.args.python, "-c", "import huggingface_hub as h; print(h.__version__)"],
                            capture_output=True, text=True).stdout.strip()
    return f"{ours}; huggingface_hub {theirs} (HF_HUB_DISABLE_XET=1), Python {platform.python_version()}"


def render(bench: Bench, hashes: dict | None, start: dict | None, big: dict | None, sizes: dict,
           command: str) -> str:
    by = {label.split(" ", 1)[0]: (a, b) for label, a, b in bench.rows}
    lines = [
        "# Deploy benchmark: hf-deploy vs huggingface_hub" + (" (QUICK smoke run, reduced data)" if bench.args.quick else ""),
        "",
        f"- Machine: {os.cpu_count()} cores (`nproc`), {cpu_model()}, Linux {platform.release()}; "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"- Tools: {versions(bench)}.",
        "- Emulator: `target/release/hub-emulator --data-dir` (one process per tool, identical start, LFS on disk; "
        "its defaults, stale reads and build lag included); rows N1-N3 add `" + " ".join(NET_LINK) + "`.",
        f"- Command: `{command}`",
    ]
    if bench.rows:
        lines += [
            "",
            "Bytes sent = request bodies the emulator received (journal `bytes_in`). Emu CPU = the emulator's own",
            "CPU seconds during the run. Ratio = hf-deploy / huggingface_hub (lower is better).",
            "",
            "| workload | tool | wall s | CPU s | peak RSS MiB | bytes sent | HTTP requests | commits | emu CPU s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
    for label, a, b in bench.rows:
        for tool, m in (("hf-deploy", a), ("huggingface_hub", b)):
            lines.append(f"| {label} | {tool} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['rss_mib']:.0f} | "
                         f"{m['bytes']:,} | {m['requests']:,} | {m['commits']} | {m['emu_cpu']:.2f} |")
        lines.append(f"| {label} | **ours/theirs** | **{ratio(a['wall'], b['wall'])}** | {ratio(a['cpu'], b['cpu'])} | "
                     f"{ratio(a['rss_mib'], b['rss_mib'])} | {ratio(a['bytes'], b['bytes'])} | "
                     f"{ratio(a['requests'], b['requests'])} | {ratio(a['commits'], b['commits'])} | |")
    repeated = [(label, a["runs"]) for label, a, _ in bench.rows if "runs" in a]
    if repeated:
        lines += ["", f"Workloads 1-3 and N1-N3 ran {bench.args.repeat} times each on fresh data; the rows above are "
                  "each tool's median run. Wall seconds of every run (hf-deploy vs huggingface_hub):", ""]
        lines += [f"- {label.split(':', 1)[0]}: {walls}" for label, walls in repeated]
    if hashes:
        lines += [
            "",
            "| hashing, sha256 (warm page cache), MiB/s | per CPU second, one "
            f"{hashes['size'] // MIB} MiB file | wall, same file | all {hashes['cores']} cores busy: "
            f"{hashes['many_files']} files, {hashes['many_size'] // MIB} MiB (wall) |",
            "|---|---:|---:|---:|",
            *[f"| {label} | {hashes[key]['core']:.0f} | {hashes[key]['wall']:.0f} | {hashes[key]['all']:.0f} |"
              for key, label in (("sha256sum", "`sha256sum` (one process per core for the last column)"),
                                 ("openssl", "`openssl dgst -sha256` (SHA-NI; same)"),
                                 ("ours", "hf-deploy: walk + hash, dry run (sha256 only above 10 MiB)"))],
        ]
    if start:
        lines += [
            "",
            "| start-up (posix_spawn → exit) | median ms | min ms |",
            "|---|---:|---:|",
            f"| `hf-deploy --version` ({start['runs'] * 3} runs) | {start['ours']:.2f} | {start['ours_min']:.2f} |",
            f"| `python -c \"import huggingface_hub\"` ({start['runs']} runs) | {start['theirs']:.1f} | "
            f"{start['theirs_min']:.1f} |",
            f"| (`/bin/true`, the spawn floor) | {start['true']:.2f} | |",
            f"| ratio theirs/ours | {start['theirs'] / start['ours']:.0f}× | "
            f"{start['theirs_min'] / start['ours_min']:.0f}× |",
        ]
    if big:
        lines += [
            "",
            f"| {big['count']:,}-file repo (hf-deploy only) | wall s | CPU s | peak RSS MiB | HTTP requests | "
            "bytes sent | commits | emu CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, shown in (("cold", "cold"), ("noop", "no-op"), ("noop_uncached", "no-op, hash cache off")):
            m = big[name]
            lines.append(f"| {shown} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['rss_mib']:.0f} | {m['requests']:,} | "
                         f"{m['bytes']:,} | {m['commits']} | {m['emu_cpu']:.2f} |")

    # Targets (issue 7), for the parts that ran.
    checks = []
    if "1" in by:
        cold = by["1"]
        checks.append(("cold wall ≤ 1/3 of huggingface_hub", cold[0]["wall"] <= cold[1]["wall"] / 3,
                       ratio(cold[0]["wall"], cold[1]["wall"])))
    if "2" in by:
        noop = by["2"]
        checks.append(("no-op wall ≤ 1/10, zero bytes, zero commits",
                       noop[0]["wall"] <= noop[1]["wall"] / 10 and noop[0]["bytes"] == 0 and noop[0]["commits"] == 0,
                       f"{ratio(noop[0]['wall'], noop[1]['wall'])}, {noop[0]['bytes']} bytes, "
                       f"{noop[0]['commits']} commits"))
    if "2b" in by:
        noop = by["2b"]
        checks.append(("(reference, not a target) no-op with the hash cache off, every file read again as in a "
                       "fresh CI checkout; zero bytes, zero commits",
                       None if noop[0]["bytes"] == 0 and noop[0]["commits"] == 0 else False,
                       f"{ratio(noop[0]['wall'], noop[1]['wall'])}, {noop[0]['bytes']} bytes, "
                       f"{noop[0]['commits']} commits"))
    if "N1" in by:
        cold = by["N1"]
        checks.append(("real network (40 ms per request, 200 Mbit/s): cold wall ≤ 1/3 of huggingface_hub",
                       cold[0]["wall"] <= cold[1]["wall"] / 3, ratio(cold[0]["wall"], cold[1]["wall"])))
    if "N2" in by:
        noop = by["N2"]
        checks.append(("real network: no-op wall ≤ 1/10", noop[0]["wall"] <= noop[1]["wall"] / 10,
                       f"{ratio(noop[0]['wall'], noop[1]['wall'])} ({noop[0]['requests']} vs "
                       f"{noop[1]['requests']} requests)"))
    if "N2b" in by:
        noop = by["N2b"]
        checks.append(("(reference) real network: no-op with the hash and tree caches off (a fresh CI runner)", None,
                       f"{ratio(noop[0]['wall'], noop[1]['wall'])} ({noop[0]['requests']} vs "
                       f"{noop[1]['requests']} requests)"))
    if "N3" in by:
        one = by["N3"]
        checks.append(("(reference) real network: one small file changed", None,
                       f"{ratio(one[0]['wall'], one[1]['wall'])} ({one[0]['requests']} vs {one[1]['requests']} "
                       "requests)"))
    if "3" in by:
        changed = by["3"][0]
        checks.append(("one changed file: only its bytes (LFS = the changed file, the commit carries the small one)",
                       changed["lfs_bytes"] == sizes["big"] and changed["commits"] == 1
                       and changed["commit_bytes"] < 64 * 1024,
                       f"LFS {changed['lfs_bytes']:,} bytes (file {sizes['big']:,}), "
                       f"commit body {changed['commit_bytes']:,} bytes"))
    if hashes:
        ours, s256, ossl = hashes["ours"], hashes["sha256sum"], hashes["openssl"]
        checks.append(("hashing ≥ 0.9× sha256sum per core (and vs openssl)", ours["core"] >= 0.9 * s256["core"],
                       f"{ours['core'] / s256['core']:.2f}× sha256sum, {ours['core'] / ossl['core']:.2f}× openssl"))
        checks.append(("hashing ≥ 0.9× sha256sum, all cores busy on many files (and vs openssl)",
                       ours["all"] >= 0.9 * s256["all"],
                       f"{ours['all'] / s256['all']:.2f}× sha256sum, {ours['all'] / ossl['all']:.2f}× openssl"))
    if "4" in by or "5" in by:
        rss = [by[k][0]["rss_mib"] for k in ("5", "4") if k in by]
        checks.append(("peak RSS ≤ 100 MiB: 2 GiB file and 20,000 files", max(rss) <= 100,
                       " / ".join(f"{r:.0f} MiB" for r in rss)))
    if start:
        checks.append(("start-up ≥ 20× quicker than importing huggingface_hub", start["theirs"] >= 20 * start["ours"],
                       f"{start['theirs'] / start['ours']:.0f}×"))
    if big:
        worst = max(big[k]["rss_mib"] for k in ("cold", "noop", "noop_uncached"))
        sent = big["noop"]["bytes"] + big["noop_uncached"]["bytes"]
        checks.append((f"{big['count']:,}-file repo: no-op sends nothing; memory bounded (≤ 100 MiB, as for 20,000)",
                       worst <= 100 and sent == 0, f"peak {worst:.0f} MiB (cold, no-op, no-op uncached), {sent} bytes"))
    lines += ["", "| target (issue 7) | met | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'—' if ok is None else 'yes' if ok else '**no**'} | {value} |" for name, ok, value in checks]
    lines += ["", *bench.notes, "", "What limits the missed targets: [README.md](README.md) (\"Where the time goes\")."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run (no RESULTS.md)")
    parser.add_argument("--keep", action="store_true", help="keep bench/out/deploy (data, emulator stores, logs)")
    parser.add_argument("--no-scale", action="store_true", help="skip the 100,000-file repo")
    parser.add_argument("--only", default="", help="comma list of parts to run (1-5, net, hash, startup, scale); "
                        "for profiling a single part — the report then lists only those, and no RESULTS.md")
    parser.add_argument("--repeat", type=int, default=3, help="runs of workloads 1-3, each on fresh data; the "
                        "table shows each tool's median run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "deploy" / "RESULTS.md"))
    parser.add_argument("--python", default=sys.executable, help="python with huggingface_hub installed")
    parser.add_argument("--command", default="bash bench/deploy/run.sh", help="command shown in the report")
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    started = time.perf_counter()
    q = args.quick
    sizes = {
        "small": 500 if q else 2000, "big": (8 if q else 64) * MIB, "many": 2000 if q else 20000,
        "huge": (256 if q else 2048) * MIB, "scale": 10000 if q else 100000, "net_big": (2 if q else 8) * MIB,
    }
    bench = Bench(args)
    parts = set(filter(None, args.only.split(",")))

    def want(part: str) -> bool:
        return not parts or part in parts

    hashes = start = big = None
    try:
        n_small, big_mib = f"{sizes['small']:,}", sizes["big"] // MIB
        labels = {"1": f"1 cold: {n_small} small + 4 × {big_mib} MiB", "2": "2 no-op: the same again",
                  "2b": "2b no-op, hash cache off (a fresh CI checkout)",
                  "3": f"3 changed: 1 small + 1 × {big_mib} MiB"}
        runs: dict[str, list] = {key: [] for key in labels}
        # Workloads 1-3 are short, so each is run `--repeat` times on fresh data (new content, so every cold run
        # really uploads) and reported by its median run.
        for rep in range(args.repeat if any(want(k) for k in "123") else 0):
            mixed = OUT / "data" / f"mixed-{rep}"
            repo = f"mixed-{rep}"
            log(f"writing the mixed folder (run {rep + 1} of {args.repeat})")
            write_small_tree(mixed, sizes["small"], 1 + 100 * rep)
            for index in range(4):
                write_big(mixed / "weights" / f"shard-{index}.bin", sizes["big"], 10 + index + 100 * rep)
            runs["1"].append(bench.pair(labels["1"], repo, mixed))
            if want("2"):
                runs["2"].append(bench.pair(labels["2"], repo, mixed))
                runs["2b"].append(bench.pair(labels["2b"], repo, mixed, HF_DEPLOY_HASH_CACHE="false"))
            if want("3"):
                with open(mixed / "d00" / "e0" / "f000000.txt", "a") as handle:
                    handle.write("changed\n")
                write_big(mixed / "weights" / "shard-0.bin", sizes["big"], 99 + 100 * rep)
                runs["3"].append(bench.pair(labels["3"], repo, mixed))
            shutil.rmtree(mixed, ignore_errors=True)
            bench.fresh_emulators()
        for key, label in labels.items():
            if runs[key] and (want(key) or key == "1" or (key == "2b" and want("2"))):
                bench.add_row(label, runs[key])

        if want("net"):
            # A real link: 40 ms added to every request (one round trip of a 40 ms RTT path; connection set-up is
            # not modelled) and each body capped at 200 Mbit/s. LFS files stay under the multipart threshold, so
            # parallel parts (paced per body by the emulator, not by a shared link) do not flatter either tool.
            bench.fresh_emulators(*NET_LINK)
            net_labels = {
                "N1": f"N1 real network, cold: {sizes['small']:,} small + 4 × {sizes['net_big'] // MIB} MiB",
                "N2": "N2 real network, no-op: the same again",
                "N2b": "N2b real network, no-op, caches off (a fresh CI runner)",
                "N3": "N3 real network, one small file changed",
            }
            net_runs: dict[str, list] = {key: [] for key in net_labels}
            for rep in range(args.repeat):
                folder = OUT / "data" / f"net-{rep}"
                repo = f"net-{rep}"
                log(f"writing the real-network folder (run {rep + 1} of {args.repeat})")
                write_small_tree(folder, sizes["small"], 500 + 100 * rep)
                for index in range(4):
                    write_big(folder / "weights" / f"shard-{index}.bin", sizes["net_big"], 510 + index + 100 * rep)
                net_runs["N1"].append(bench.pair(net_labels["N1"], repo, folder))
                net_runs["N2"].append(bench.pair(net_labels["N2"], repo, folder))
                # Without the hash and tree caches: every file read again and the tree listed, as on a new runner.
                net_runs["N2b"].append(bench.pair(net_labels["N2b"], repo, folder, HF_DEPLOY_HASH_CACHE="false"))
                with open(folder / "d00" / "e0" / "f000000.txt", "a") as handle:
                    handle.write("changed\n")
                net_runs["N3"].append(bench.pair(net_labels["N3"], repo, folder))
                shutil.rmtree(folder, ignore_errors=True)
                bench.fresh_emulators(*NET_LINK)
            for key, label in net_labels.items():
                bench.add_row(label, net_runs[key])
            bench.fresh_emulators()

        if want("4"):
            many = OUT / "data" / "many"
            log("writing the many-files folder")
            write_small_tree(many, sizes["many"], 2)
            bench.add_row(f"4 cold: {sizes['many']:,} small files", [bench.pair("4 cold", "many", many)])
            shutil.rmtree(many, ignore_errors=True)
            bench.fresh_emulators()

        huge = OUT / "data" / "huge"
        if want("5") or want("hash"):
            log("writing the huge file")
            write_big(huge / "model.bin", sizes["huge"], 3)
        if want("5"):
            bench.add_row(f"5 cold: one {sizes['huge'] // MIB} MiB file", [bench.pair("5 cold", "huge", huge)])

        if want("hash"):
            many_big = OUT / "data" / "many-big"
            for index in range(16):
                write_big(many_big / f"part-{index:02d}.bin", sizes["huge"] // 16, 40 + index)
            log("hashing")
            hashes = hashing(bench, huge / "model.bin", many_big)
        shutil.rmtree(OUT / "data", ignore_errors=True)
        if want("startup"):
            log("start-up")
            start = startup(bench, 10 if q else 30)
        if want("scale") and not args.no_scale:
            big = scale(bench, sizes["scale"])
        bench.notes.append(f"Whole run: {time.perf_counter() - started:.0f} s.")
        report = render(bench, hashes, start, big, sizes, args.command + (" --quick" if q else ""))
    finally:
        bench.close()
        if not args.keep:
            shutil.rmtree(OUT, ignore_errors=True)
    print(report)
    if not q and not parts:
        pathlib.Path(args.out).write_text(report)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
