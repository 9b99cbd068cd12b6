"""Conformance of hub-emulator with the official huggingface_hub client.

Run through run.sh, which starts a fresh emulator with these users:
alice (write token hf_alice_write, read token hf_alice_read, member of org acme),
bob (hf_bob_write), carol (hf_carol_write, free plan), and a tree page size of 5.
Every step asserts its result; the last line is "conformance: N passed, M failed".
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time
import traceback
import urllib.request

import huggingface_hub
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

ENDPOINT = os.environ["HF_ENDPOINT"].rstrip("/")
WORK = pathlib.Path(os.environ.get("CONFORMANCE_WORKDIR", "/tmp")) / "conformance"
ALICE, ALICE_READ, BOB, CAROL = "hf_alice_write", "hf_alice_read", "hf_bob_write", "hf_carol_write"
TOKENS = (ALICE, ALICE_READ, BOB, CAROL)
MODEL = "alice/conf-model"
SPACE = "alice/conf-space"

alice = HfApi(endpoint=ENDPOINT, token=ALICE)
bob = HfApi(endpoint=ENDPOINT, token=BOB)
carol = HfApi(endpoint=ENDPOINT, token=CAROL)

results: list[tuple[str, bool]] = []


def control(method: str, path: str):
    req = urllib.request.Request(ENDPOINT + path, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def journal():
    return control("GET", "/_emulator/journal")


def clear_journal():
    control("DELETE", "/_emulator/journal")


def status_of(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def step(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, True))
            print(f"ok   {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
            results.append((name, False))
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def expect_error(fn, cls, status=None):
    try:
        fn()
    except cls as e:  # noqa: PERF203
        if status is not None:
            assert status_of(e) == status, f"expected HTTP {status}, got {status_of(e)}: {e}"
        return e
    raise AssertionError(f"expected {cls.__name__}")


# --- local files -------------------------------------------------------------------------
SRC = WORK / "src"
FILES = {
    "README.md": b"---\nlicense: mit\n---\n# conformance model\n",
    "a.txt": b"alpha\n",
    "stale.txt": b"to be deleted\n",
    "sub/b.txt": b"bravo\n",
    "sub/deep/c.txt": b"charlie\n",
    "sub/deep/d.json": b'{"d": 1}\n',
    "weights.bin": os.urandom(1000),
    "big.safetensors": os.urandom(12 * 1024 * 1024 + 12345),
}


def write_tree(root: pathlib.Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


print(f"huggingface_hub {huggingface_hub.__version__} against {ENDPOINT}", flush=True)
write_tree(SRC, FILES)


@step("whoami reports the user, its org, plan and token role")
def _():
    me = alice.whoami()
    assert me["name"] == "alice", me
    assert [o["name"] for o in me["orgs"]] == ["acme"], me["orgs"]
    assert me["auth"]["accessToken"]["role"] == "write"
    assert me["isPro"] is True
    ro = HfApi(endpoint=ENDPOINT, token=ALICE_READ).whoami()
    assert ro["auth"]["accessToken"]["role"] == "read"
    assert carol.whoami()["isPro"] is False


@step("create_repo twice (exist_ok) returns the same URL")
def _():
    url = alice.create_repo(MODEL)
    again = alice.create_repo(MODEL, exist_ok=True)
    assert str(url) == str(again) == f"{ENDPOINT}/{MODEL}", (url, again)
    assert url.repo_id == MODEL
    expect_error(lambda: alice.create_repo(MODEL), HfHubHTTPError, 409)
    assert alice.repo_exists(MODEL)


@step("upload_folder with nested files and a 12 MiB LFS file (multipart)")
def _():
    clear_journal()
    info = alice.upload_folder(repo_id=MODEL, folder_path=SRC, commit_message="first upload")
    assert len(info.oid) == 40, info
    j = journal()
    parts = [e for e in j if e["method"] == "PUT" and e["path"].startswith("/_lfs/part/")]
    completes = [e for e in j if e["method"] == "POST" and e["path"].startswith("/_lfs/complete/")]
    basic = [e for e in j if e["method"] == "PUT" and e["path"].startswith("/_lfs/put/")]
    assert len(parts) == 3 and all(e["status"] == 200 for e in parts), parts
    assert len(completes) == 1 and completes[0]["status"] == 200, completes
    assert len(basic) == 1, basic  # weights.bin (LFS by .gitattributes), basic transfer
    commits = [e for e in j if e["method"] == "POST" and "/commit/" in e["path"]]
    assert len(commits) == 1 and commits[0]["mutating"], commits
    assert alice.model_info(MODEL).sha == info.oid


@step("list_repo_files and paginated list_repo_tree")
def _():
    files = set(alice.list_repo_files(MODEL))
    assert files == set(FILES) | {".gitattributes"}, files
    clear_journal()
    entries = list(alice.list_repo_tree(MODEL, recursive=True))
    paths = {e.path for e in entries}
    assert paths == files | {"sub", "sub/deep"}, paths
    pages = [e for e in journal() if e["path"] == f"/api/models/{MODEL}/tree/main"]
    assert len(pages) >= 2, f"expected a paginated listing, saw {len(pages)} page(s)"
    lfs = {e.path: e for e in entries if getattr(e, "lfs", None)}
    assert set(lfs) == {"weights.bin", "big.safetensors"}, set(lfs)
    assert lfs["big.safetensors"].size == len(FILES["big.safetensors"])
    sub = {e.path for e in alice.list_repo_tree(MODEL, path_in_repo="sub")}
    assert sub == {"sub/b.txt", "sub/deep"}, sub


@step("hf_hub_download and snapshot_download are byte-equal")
def _():
    cache = WORK / "cache"
    for rel, data in FILES.items():
        p = hf_hub_download(MODEL, rel, endpoint=ENDPOINT, token=ALICE, cache_dir=cache)
        assert pathlib.Path(p).read_bytes() == data, rel
    snap = pathlib.Path(snapshot_download(MODEL, endpoint=ENDPOINT, token=ALICE, cache_dir=WORK / "snap"))
    for rel, data in FILES.items():
        assert (snap / rel).read_bytes() == data, rel


@step("HfFileSystem reads byte ranges (206 + Content-Range) of LFS and regular files")
def _():
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem(endpoint=ENDPOINT, token=ALICE)
    big = FILES["big.safetensors"]
    with fs.open(f"{MODEL}/big.safetensors", "rb", block_size=4096) as handle:
        handle.seek(5 * 1024 * 1024 + 7)
        assert handle.read(100) == big[5 * 1024 * 1024 + 7 : 5 * 1024 * 1024 + 107]
    with fs.open(f"{MODEL}/sub/deep/d.json", "rb", block_size=4) as handle:
        handle.seek(2)
        assert handle.read(3) == FILES["sub/deep/d.json"][2:5]
    clear_journal()
    fs.read_block(f"{MODEL}/weights.bin", 10, 20)
    ranged = [e for e in journal() if e["method"] == "GET" and "/resolve/" in e["path"]]
    assert ranged and all(e["status"] == 206 for e in ranged), ranged


@step("re-upload with delete_patterns: unchanged files skipped, stale ones deleted")
def _():
    before = len(alice.list_repo_commits(MODEL))
    (SRC / "stale.txt").unlink()
    (SRC / "a.txt").write_bytes(b"alpha v2\n")
    clear_journal()
    alice.upload_folder(repo_id=MODEL, folder_path=SRC, delete_patterns=["*.txt"], commit_message="second")
    j = journal()
    assert not [e for e in j if e["path"].startswith("/_lfs/")], "unchanged LFS files were re-uploaded"
    assert sum(1 for e in j if e["mutating"]) == 1, [e for e in j if e["mutating"]]
    assert len(alice.list_repo_commits(MODEL)) == before + 1
    files = set(alice.list_repo_files(MODEL))
    assert "stale.txt" not in files and "sub/b.txt" in files and "big.safetensors" in files, files
    p = hf_hub_download(MODEL, "a.txt", endpoint=ENDPOINT, token=ALICE, cache_dir=WORK / "cache2")
    assert pathlib.Path(p).read_bytes() == b"alpha v2\n"
    # Same folder again: nothing changed, so no commit at all.
    clear_journal()
    alice.upload_folder(repo_id=MODEL, folder_path=SRC, commit_message="third")
    assert not [e for e in journal() if e["mutating"]], "a no-op upload changed state"


@step("create_commit(create_pr=True) opens refs/pr/N and leaves main alone")
def _():
    head = alice.model_info(MODEL).sha
    info = alice.create_commit(
        MODEL, operations=[CommitOperationAdd("pr.txt", b"from a PR\n")], commit_message="pr", create_pr=True
    )
    assert info.pr_url and info.pr_url.endswith("/discussions/1"), info.pr_url
    assert info.pr_revision == "refs/pr/1", info.pr_revision
    assert alice.model_info(MODEL).sha == head
    p = hf_hub_download(MODEL, "pr.txt", revision="refs/pr/1", endpoint=ENDPOINT, token=ALICE, cache_dir=WORK / "c-pr")
    assert pathlib.Path(p).read_bytes() == b"from a PR\n"
    assert "pr.txt" in alice.list_repo_files(MODEL, revision="refs/pr/1")
    assert "pr.txt" not in alice.list_repo_files(MODEL)


@step("create a private docker Space, secrets, variables, runtime until RUNNING")
def _():
    url = alice.create_repo(SPACE, repo_type="space", space_sdk="docker", private=True)
    assert str(url) == f"{ENDPOINT}/spaces/{SPACE}", url
    alice.add_space_secret(SPACE, "PROXY_HF_TOKEN", "s3cr3t-value")
    alice.add_space_variable(SPACE, "MODE", "test")
    assert control("GET", f"/_emulator/spaces/{SPACE}/secrets") == {"PROXY_HF_TOKEN": "s3cr3t-value"}
    variables = alice.get_space_variables(SPACE)
    assert variables["MODE"].value == "test", variables
    alice.create_commit(
        SPACE,
        repo_type="space",
        commit_message="app",
        operations=[
            CommitOperationAdd("Dockerfile", b"FROM python:3.12-slim\nCMD python -m http.server 7860\n"),
            CommitOperationAdd("README.md", b"---\ntitle: t\nsdk: docker\napp_port: 7860\n---\n"),
        ],
    )
    # As on the Hub, the previous stage (NO_APP_FILE of this fresh Space) may show for a moment before BUILDING.
    stages = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stage = str(alice.get_space_runtime(SPACE).stage)
        if not stages or stages[-1] != stage:
            stages.append(stage)
        if stage.endswith("RUNNING"):
            break
        time.sleep(0.02)
    assert any(s.endswith("BUILDING") for s in stages) and stages[-1].endswith("RUNNING"), stages
    assert all(s.endswith(("NO_APP_FILE", "BUILDING", "RUNNING")) for s in stages), stages
    info = alice.space_info(SPACE)
    assert info.sdk == "docker" and info.private is True, info
    host = getattr(info, "host", None) or alice.space_info(SPACE).__dict__.get("host")
    assert host and host.startswith("http://127.0.0.1:"), host
    req = urllib.request.Request(host + "/echo", headers={"X-HF-Authorization": f"Bearer {ALICE}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        echo = json.load(resp)
    assert "x-hf-authorization" not in echo["headers"], echo["headers"]
    assert echo["headers"]["x-forwarded-for"].endswith("127.0.0.1"), echo["headers"]
    try:
        urllib.request.urlopen(host + "/echo", timeout=30)
        raise AssertionError("a private Space answered without a token")
    except urllib.error.HTTPError as e:
        assert e.code in (401, 404), e.code


@step("list_spaces and list_models by author and search")
def _():
    spaces = [s.id for s in alice.list_spaces(author="alice", search="conf-")]
    assert spaces == [SPACE], spaces
    assert [m.id for m in alice.list_models(author="alice", search="conf-model")] == [MODEL]
    assert list(bob.list_spaces(author="alice")) == [], "bob sees alice's private Space"
    assert list(alice.list_models(author="nobody")) == []


@step("wrong token is a 401")
def _():
    bad = HfApi(endpoint=ENDPOINT, token="hf_not_a_token")
    # 0.x re-raises whoami errors as a plain requests.HTTPError; the status is what matters.
    expect_error(bad.whoami, Exception, 401)
    expect_error(lambda: bad.model_info(MODEL), HfHubHTTPError, 401)


@step("a private repo of another user is RepositoryNotFoundError")
def _():
    alice.create_repo("alice/conf-private", private=True)
    expect_error(lambda: bob.model_info("alice/conf-private"), RepositoryNotFoundError)
    expect_error(lambda: bob.list_repo_files("alice/conf-private"), RepositoryNotFoundError)
    expect_error(
        lambda: hf_hub_download("alice/conf-private", ".gitattributes", endpoint=ENDPOINT, token=BOB, cache_dir=WORK / "c3"),
        RepositoryNotFoundError,
    )
    assert alice.repo_exists("alice/conf-private") and not bob.repo_exists("alice/conf-private")


@step("a read token cannot write (403)")
def _():
    ro = HfApi(endpoint=ENDPOINT, token=ALICE_READ)
    expect_error(lambda: ro.create_repo("alice/conf-ro"), HfHubHTTPError, 403)
    expect_error(
        lambda: ro.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=MODEL),
        HfHubHTTPError,
        403,
    )


@step("create_commit with a stale parent_commit is a 412")
def _():
    old = alice.model_info(MODEL).sha
    alice.upload_file(path_or_fileobj=b"new\n", path_in_repo="new.txt", repo_id=MODEL)
    head = alice.model_info(MODEL).sha
    e = expect_error(
        lambda: alice.create_commit(
            MODEL,
            operations=[CommitOperationAdd("late.txt", b"late\n")],
            commit_message="late",
            parent_commit=old,
        ),
        HfHubHTTPError,
        412,
    )
    assert alice.model_info(MODEL).sha == head, "a rejected commit changed the repo"
    assert "late.txt" not in alice.list_repo_files(MODEL), e


@step("free plan may only create static Spaces (402)")
def _():
    e = expect_error(
        lambda: carol.create_repo("carol/paid", repo_type="space", space_sdk="gradio"), HfHubHTTPError, 402
    )
    assert "paid plan" in str(e), str(e)
    carol.create_repo("carol/free-static", repo_type="space", space_sdk="static")
    assert carol.space_info("carol/free-static").sdk == "static"


@step("delete_repo (missing_ok) and repo_exists")
def _():
    alice.delete_repo(MODEL)
    alice.delete_repo(MODEL, missing_ok=True)
    expect_error(lambda: alice.delete_repo(MODEL), RepositoryNotFoundError)
    assert not alice.repo_exists(MODEL)
    alice.delete_repo(SPACE, repo_type="space")


@step("no token ever appeared in a URL")
def _():
    assert control("GET", "/_emulator/token-leaks")["count"] == 0
    for e in journal():
        assert not any(t in e["path"] for t in TOKENS), e


passed = sum(1 for _, ok in results if ok)
failed = len(results) - passed
print(f"conformance: {passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
