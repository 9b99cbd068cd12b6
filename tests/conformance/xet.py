"""Xet conformance: the official client with hf_xet (its default) uploads to and downloads from the emulator
through Xet, and a changed file sends only its new chunks.

Run through run.sh with `xet` as its third argument (a fresh emulator, Xet on, HF_HUB_DISABLE_XET unset).
The last line is "conformance (xet): N passed, M failed".
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import sys
import traceback
import urllib.request

import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download

ENDPOINT = os.environ["HF_ENDPOINT"].rstrip("/")
WORK = pathlib.Path(os.environ.get("CONFORMANCE_WORKDIR", "/tmp")) / "conformance-xet"
ALICE = "hf_alice_write"
REPO = "alice/conf-xet"
MIB = 1024 * 1024

alice = HfApi(endpoint=ENDPOINT, token=ALICE)
results: list[tuple[str, bool]] = []


def journal():
    with urllib.request.urlopen(ENDPOINT + "/_emulator/journal", timeout=30) as resp:
        return json.load(resp)


def clear_journal():
    urllib.request.urlopen(urllib.request.Request(ENDPOINT + "/_emulator/journal", method="DELETE"), timeout=30)


def xorb_bytes(entries) -> int:
    """Bytes the CAS received for xorbs (direct POSTs or pre-signed PUTs)."""
    return sum(
        e.get("bytes_in", 0)
        for e in entries
        if 200 <= e["status"] < 300
        and ("/v1/xorbs/" in e["path"] or e["path"].startswith("/simulation/xorb-uploads/"))
    )


def step(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, True))
            print(f"ok    {name}")
        except Exception:
            results.append((name, False))
            print(f"FAIL  {name}")
            traceback.print_exc()
        return fn

    return wrap


SRC = WORK / "src"
SRC.mkdir(parents=True, exist_ok=True)
rng = random.Random(7)
WEIGHTS = bytearray(rng.randbytes(24 * MIB))
(SRC / "weights.safetensors").write_bytes(WEIGHTS)
(SRC / "README.md").write_bytes(b"# xet\n")


@step("upload_folder goes through Xet: xorbs and a shard, no LFS transfer")
def _():
    alice.create_repo(REPO)
    clear_journal()
    alice.upload_folder(repo_id=REPO, folder_path=SRC, commit_message="xet upload")
    j = journal()
    assert not [e for e in j if e["path"].startswith("/_lfs/")], "an LFS transfer ran"
    assert [e for e in j if e["path"].endswith("/shards") and e["status"] == 200], "no shard was uploaded"
    sent = xorb_bytes(j)
    assert sent >= 20 * MIB, f"only {sent} bytes of xorbs for 24 MiB of random data"
    assert sum(1 for e in j if e["mutating"]) == 1


@step("hf_hub_download reconstructs the file through Xet, byte-equal")
def _():
    clear_journal()
    p = hf_hub_download(REPO, "weights.safetensors", endpoint=ENDPOINT, token=ALICE, cache_dir=WORK / "c1")
    assert pathlib.Path(p).read_bytes() == bytes(WEIGHTS)
    paths = [e["path"] for e in journal()]
    assert any("/xet-read-token/" in x for x in paths), paths
    assert any("/reconstructions/" in x for x in paths), paths


@step("1 MiB changed in the middle: only the new chunks are sent")
def _():
    WEIGHTS[12 * MIB : 13 * MIB] = rng.randbytes(MIB)
    (SRC / "weights.safetensors").write_bytes(WEIGHTS)
    clear_journal()
    alice.upload_folder(repo_id=REPO, folder_path=SRC, commit_message="one MiB changed")
    sent = xorb_bytes(journal())
    assert sent <= 4 * MIB, f"{sent} bytes of xorbs for a 1 MiB change"
    p = hf_hub_download(REPO, "weights.safetensors", endpoint=ENDPOINT, token=ALICE, cache_dir=WORK / "c2")
    assert pathlib.Path(p).read_bytes() == bytes(WEIGHTS)


passed = sum(ok for _, ok in results)
print(f"huggingface_hub {huggingface_hub.__version__}")
print(f"conformance (xet): {passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
