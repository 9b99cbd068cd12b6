"""Deploy benchmark: hf-deploy against huggingface_hub on the same emulator, same data, one run.

    python bench/deploy/run.py [--quick] [--out bench/deploy/RESULTS.md]

Workloads (generated under bench/out/deploy):
  1 cold      2,000 small text files in nested folders + 4 files of 64 MiB
  2 no-op     the same folder again
  3 changed   one small file and one 64 MiB file changed
  4 many      20,000 small files
  5 huge      one 2 GiB file (multipart)
For each: wall time, CPU time, peak RSS (wait4 of the tool's process), bytes sent and HTTP requests
(the emulator's journal), commits made, and the ratio ours/theirs. Also sha256 throughput against sha256sum.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "deploy"
TOKEN = "hf_bench_write"
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def start_emulator(binary: str, data_dir: pathlib.Path):
    proc = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--user", f"bench:{TOKEN}:write", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    match = re.fullmatch(r"listening on (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, match.group(1)


def journal(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "/_emulator/journal", timeout=60) as resp:
        return json.load(resp)


def clear_journal(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url + "/_emulator/journal", method="DELETE"), timeout=60).read()


def random_bytes(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return rng.randbytes(size)


def write_big(path: pathlib.Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = random_bytes(MIB, seed)
    with open(path, "wb") as handle:
        for index in range(size // MIB):
            # Vary each MiB so no two blocks (or files) share content.
            handle.write(index.to_bytes(8, "little") + block[8:])


def write_small_tree(root: pathlib.Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for index in range(count):
        folder = root / f"d{index % 20:02d}" / f"e{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05d}.txt").write_text(f"file {index} {rng.random()}\n" * 8)


def measure(cmd: list[str], env: dict[str, str], url: str) -> dict:
    clear_journal(url)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{stderr[-3000:]}")
    entries = [e for e in journal(url) if not e["path"].startswith("/_emulator")]
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "requests": len(entries),
        "bytes": sum(int(e.get("bytes_in", 0)) for e in entries),
        "commits": sum(1 for e in entries if "/commit/" in e["path"] and e["status"] == 200),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "deploy" / "RESULTS.md"))
    parser.add_argument("--python", default=sys.executable, help="python with huggingface_hub installed")
    args = parser.parse_args()

    ours_bin = str(ROOT / "target" / "release" / "hf-deploy")
    emu_bin = str(ROOT / "target" / "release" / "hub-emulator")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    emu, url = start_emulator(emu_bin, OUT / "hub")
    base_env = {"PATH": os.environ["PATH"], "HOME": str(OUT), "HF_TOKEN": TOKEN, "HF_ENDPOINT": url,
                "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HOME": str(OUT / "hf-home")}
    scale = 8 if args.quick else 1
    big = 64 * MIB // scale
    rows = []

    def ours(repo: str, folder: pathlib.Path) -> dict:
        env = dict(base_env, HF_DEPLOY_HUGGINGFACE_REPO=f"bench/{repo}", HF_DEPLOY_REPO_TYPE="model",
                   HF_DEPLOY_SOURCE_DIR=str(folder))
        return measure([ours_bin, "deploy"], env, url)

    def theirs(repo: str, folder: pathlib.Path) -> dict:
        return measure([args.python, str(pathlib.Path(__file__).with_name("hf_hub_upload.py")), url,
                        f"bench/{repo}", str(folder)], base_env, url)

    def run(label: str, repo: str, folder: pathlib.Path) -> None:
        log(f"{label}: hf-deploy")
        a = ours(repo + "-ours", folder)
        log(f"{label}: huggingface_hub")
        b = theirs(repo + "-theirs", folder)
        rows.append((label, a, b))

    mixed = OUT / "mixed"
    write_small_tree(mixed, 2000 // (4 if args.quick else 1), 1)
    for index in range(4):
        write_big(mixed / "weights" / f"shard-{index}.bin", big, 10 + index)
    run("1 cold: 2,000 small + 4 x 64 MiB", "mixed", mixed)
    run("2 no-op: same again", "mixed", mixed)
    (mixed / "d00" / "e0" / "f00000.txt").write_text("changed\n")
    write_big(mixed / "weights" / "shard-0.bin", big, 99)
    run("3 one small + one 64 MiB changed", "mixed", mixed)

    many = OUT / "many"
    write_small_tree(many, 20000 // (10 if args.quick else 1), 2)
    run("4 cold: 20,000 small files", "many", many)

    huge = OUT / "huge"
    write_big(huge / "model.bin", 2048 * MIB // scale, 3)
    run("5 cold: one 2 GiB file", "huge", huge)

    hashing = hash_throughput(ours_bin, huge / "model.bin", base_env, url)
    emu.terminate()
    emu.wait()
    report = render(rows, hashing, args.quick)
    print(report)
    if not args.quick:
        pathlib.Path(args.out).write_text(report)


def hash_throughput(ours_bin: str, path: pathlib.Path, env: dict[str, str], url: str) -> dict:
    size = path.stat().st_size
    start = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
    theirs = size / (time.perf_counter() - start) / MIB
    dry = dict(env, HF_DEPLOY_HUGGINGFACE_REPO="bench/huge-ours", HF_DEPLOY_REPO_TYPE="model",
               HF_DEPLOY_SOURCE_DIR=str(path.parent), HF_DEPLOY_DRY_RUN="true")
    result = measure([ours_bin, "deploy"], dry, url)
    return {"sha256sum_mib_s": theirs, "ours_mib_s": size / result["cpu"] / MIB if result["cpu"] else 0.0}


def render(rows, hashing, quick: bool) -> str:
    lines = [
        "# Deploy benchmark" + (" (quick, reduced data)" if quick else ""),
        "",
        f"Machine: {os.cpu_count()} cores, `{platform_line()}`. Command: `python bench/deploy/run.py`.",
        "",
        "| workload | tool | wall s | CPU s | peak RSS MiB | bytes sent | HTTP requests | commits |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, a, b in rows:
        for tool, m in (("hf-deploy", a), ("huggingface_hub", b)):
            lines.append(f"| {label} | {tool} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['rss_mib']:.0f} | "
                         f"{m['bytes']:,} | {m['requests']} | {m['commits']} |")
        lines.append(f"| {label} | **ratio ours/theirs** | **{ratio(a['wall'], b['wall'])}** | "
                     f"{ratio(a['cpu'], b['cpu'])} | {ratio(a['rss_mib'], b['rss_mib'])} | "
                     f"{ratio(a['bytes'], b['bytes'])} | {ratio(a['requests'], b['requests'])} | |")
    lines += ["", "| hashing (2 GiB file) | MiB/s |", "|---|---:|",
              f"| sha256sum | {hashing['sha256sum_mib_s']:.0f} |",
              f"| hf-deploy dry run (bytes / CPU second, sha256 + sha1) | {hashing['ours_mib_s']:.0f} |", ""]
    return "\n".join(lines)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def platform_line() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


if __name__ == "__main__":
    main()
