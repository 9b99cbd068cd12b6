"""Xet benchmark: hf-deploy through Xet, hf-deploy through LFS (HF_HUB_DISABLE_XET=1) and huggingface_hub with
hf_xet (its default), each against its own release-build hub-emulator, same data, one run.

    bash bench/deploy/run.sh --xet [--quick] [--keep]

Workloads (fresh random data, generated under bench/out/deploy-xet, removed at the end unless --keep):
  dedup   a 512 MiB file deployed, then again with 1 MiB changed in the middle
  append  the same file with 64 MiB appended
  cold    4 files of 256 MiB of fresh random data
Bytes sent are the emulator journal's `bytes_in` of every request the tool made (xorbs, shards, LFS bodies,
commits). Wall time, CPU time and peak RSS are the tool's process's (wait4). Every workload runs twice: on
loopback, and on a shaped link (`--latency-ms 40 --bandwidth 200mbit`, as the deploy benchmark's real-network
part). Writes bench/deploy/RESULTS-xet.md (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from run import MIB, ROOT, TOKEN, Emulator, log, measure  # noqa: E402

OUT = ROOT / "bench" / "out" / "deploy-xet"
TOOLS = ("ours-xet", "ours-lfs", "theirs-xet")


def random_file(path: pathlib.Path, size: int, seed: int) -> None:
    """Incompressible bytes that never repeat (each MiB drawn afresh), so only real changes look new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        for _ in range(size // MIB):
            handle.write(rng.randbytes(MIB))


class XetBench:
    def __init__(self, python: str, link: tuple[str, ...], name: str) -> None:
        self.python = python
        self.ours_bin = str(ROOT / "target" / "release" / "hf-deploy")
        emu_bin = str(ROOT / "target" / "release" / "hub-emulator")
        self.stores = {tool: OUT / f"hub-{name}-{tool}" for tool in TOOLS}
        self.emus = {tool: Emulator(emu_bin, self.stores[tool], link) for tool in TOOLS}
        self.logs = OUT / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.base_env = {
            "PATH": os.environ["PATH"], "HOME": str(OUT), "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(OUT / "hf-home"), "LC_ALL": "C.UTF-8",
        }

    def run(self, tool: str, repo: str, folder: pathlib.Path) -> dict:
        self.step += 1
        emu = self.emus[tool]
        env = dict(self.base_env, HF_ENDPOINT=emu.url)
        if tool == "ours-lfs":
            env["HF_HUB_DISABLE_XET"] = "1"
        if tool.startswith("ours"):
            env.update(HF_DEPLOY_HUGGINGFACE_REPO=f"bench/{repo}", HF_DEPLOY_REPO_TYPE="model",
                       HF_DEPLOY_SOURCE_DIR=str(folder))
            cmd = [self.ours_bin, "deploy"]
        else:
            cmd = [self.python, str(pathlib.Path(__file__).with_name("hf_hub_upload.py")), emu.url,
                   f"bench/{repo}", str(folder)]
        result = measure(cmd, env, emu, self.logs / f"{id(self)}-{self.step:02d}-{tool}-{repo}.log")
        log(f"{tool} {repo}: {result['wall']:.2f} s, {result['bytes'] / MIB:.1f} MiB sent, "
            f"{result['rss_mib']:.0f} MiB RSS")
        return result

    def all_tools(self, repo: str, folder: pathlib.Path) -> dict[str, dict]:
        out = {tool: self.run(tool, repo, folder) for tool in TOOLS}
        trees = {tool: self.emus[tool].tree(f"bench/{repo}") for tool in TOOLS}
        if len({tuple(sorted(t.items())) for t in trees.values()}) != 1:
            raise SystemExit(f"{repo}: the repos differ after the deploy: {trees}")
        return out

    def close(self) -> None:
        """Stops the emulators and drops their stores: each link's three hold ~4 GiB, more than a second link's
        run can afford beside them."""
        for emu in self.emus.values():
            emu.stop()
        for store in self.stores.values():
            shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True)
    parser.add_argument("--quick", action="store_true", help="1/8 of the data, no RESULTS file")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every workload (fresh emulators each "
                        "time); the table shows each tool's median run")
    args = parser.parse_args()
    scale = 8 if args.quick else 1
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    tables = []
    for key, title, link in LINKS:
        runs = []
        for rep in range(args.repeat):
            log(f"link: {title} (run {rep + 1} of {args.repeat})")
            runs.append(workloads(XetBench(args.python, link, f"{key}-{rep}"), scale))
        tables.append(f"### {title}\n\n" + render(medians(runs)) + "\n" + walls(runs))
    import hf_xet  # noqa: F401  (the peer ran through Xet)
    import huggingface_hub

    text = "\n".join([
        "# Xet benchmark",
        "",
        f"`bash bench/deploy/run.sh --xet` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end; huggingface_hub {huggingface_hub.__version__} with "
        f"hf_xet, Python {platform.python_version()}" + (f"; data scaled 1/{scale}" if scale > 1 else "") + ".",
        f"Each tool against its own release-build hub-emulator; MiB sent counts every request body the tool sent; each "
        f"workload ran {args.repeat} times (fresh emulators each time) and the table shows each tool's median run.",
        "",
        *tables,
    ])
    print(text)
    if not args.quick:
        (ROOT / "bench" / "deploy" / "RESULTS-xet.md").write_text(text)
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)


LINKS = (
    ("loopback", "Loopback", ()),
    ("shaped", "Shaped link: 40 ms per request, 200 Mbit/s", ("--latency-ms", "40", "--bandwidth", "200mbit")),
)


def workloads(bench: XetBench, scale: int) -> list[tuple[str, dict[str, dict]]]:
    rows: list[tuple[str, dict[str, dict]]] = []
    try:
        big, changed, appended = 512 * MIB // scale, MIB, 64 * MIB // scale
        model = OUT / "data" / "model"
        random_file(model / "model.bin", big, 1)
        rows.append((f"first deploy of a {big // MIB} MiB file", bench.all_tools("dedup", model)))
        with open(model / "model.bin", "r+b") as handle:
            handle.seek(big // 2)
            handle.write(random.Random(2).randbytes(changed))
        rows.append(("1 MiB changed in the middle", bench.all_tools("dedup", model)))
        with open(model / "model.bin", "ab") as handle:
            handle.write(random.Random(3).randbytes(appended))
        rows.append((f"{appended // MIB} MiB appended", bench.all_tools("dedup", model)))
        cold = OUT / "data" / "cold"
        for index in range(4):
            random_file(cold / f"shard-{index}.bin", 256 * MIB // scale, 10 + index)
        rows.append((f"cold: 4 × {256 // scale} MiB fresh random", bench.all_tools("cold", cold)))
    finally:
        bench.close()
    return rows


def medians(runs: list[list[tuple[str, dict[str, dict]]]]) -> list[tuple[str, dict[str, dict]]]:
    """Per workload and tool, the run with the median wall time (its bytes and RSS with it)."""
    rows = []
    for index, (label, _) in enumerate(runs[0]):
        by_tool = {}
        for tool in TOOLS:
            ordered = sorted((run[index][1][tool] for run in runs), key=lambda m: m["wall"])
            by_tool[tool] = ordered[len(ordered) // 2]
        rows.append((label, by_tool))
    return rows


def walls(runs: list[list[tuple[str, dict[str, dict]]]]) -> str:
    lines = [f"Wall seconds of every run ({len(runs)}), Xet / LFS / hf_xet:", ""]
    for index, (label, _) in enumerate(runs[0]):
        each = "; ".join(" / ".join(f"{run[index][1][tool]['wall']:.2f}" for tool in TOOLS) for run in runs)
        lines.append(f"- {label}: {each}")
    return "\n".join(lines) + "\n"


def render(rows: list[tuple[str, dict[str, dict]]]) -> str:
    lines = [
        "| workload | hf-deploy (Xet) wall s | MiB sent | peak RSS MiB | hf-deploy (LFS) wall s | MiB sent "
        "| huggingface_hub + hf_xet wall s | MiB sent | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        x, l, t = r["ours-xet"], r["ours-lfs"], r["theirs-xet"]
        lines.append(
            f"| {label} | {x['wall']:.2f} | {x['bytes'] / MIB:.1f} | {x['rss_mib']:.0f} | {l['wall']:.2f} | "
            f"{l['bytes'] / MIB:.1f} | {t['wall']:.2f} | {t['bytes'] / MIB:.1f} | {t['rss_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
