"""What a user of hf-deploy does against a Hub, and the visible result, checked with the official client."""

from __future__ import annotations

import filecmp
import json
import os
import pathlib

import pytest
from huggingface_hub import snapshot_download

from support import http

GRADIO_APP = 'import gradio as gr\n\ngr.Interface(lambda s: s[::-1], "text", "text").launch()\n'


def write_tree(root: pathlib.Path, files: dict[str, bytes | str]) -> pathlib.Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def sample_files(sdk: str | None) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        "data/nested/deep/notes.txt": "hello from a nested folder\n",
        "data/table.csv": "a,b\n1,2\n",
        "weights/model.bin": os.urandom(2 * 1024 * 1024),
    }
    if sdk == "static":
        files["index.html"] = "<!doctype html><title>hf-deploy</title><p>deployed</p>\n"
    elif sdk is not None:
        files["app.py"] = GRADIO_APP
    return files


def assert_same_tree(local: pathlib.Path, downloaded: pathlib.Path, ignore: set[str]) -> None:
    local_files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    remote_files = {
        p.relative_to(downloaded).as_posix()
        for p in downloaded.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(downloaded).parts
    }
    assert local_files - ignore <= remote_files
    for rel in local_files - ignore:
        assert filecmp.cmp(local / rel, downloaded / rel, shallow=False), rel


def deploy_and_compare(hub, deployer, workspace, name, repo_type, sdk=None):
    owner = hub.owner()
    repo_id = f"{owner}/{name}"
    source = write_tree(workspace / "src", sample_files(sdk))
    inputs = {"space_sdk": sdk} if sdk else {}
    result = deployer.run(source, repo_id, repo_type=repo_type, **inputs)
    assert result.returncode == 0, result.stderr
    assert result.outputs["repo_id"] == repo_id
    for key in ("repo_url", "space_url", "proxy_enabled", "proxy_repo_id", "proxy_url"):
        assert key in result.outputs
    assert result.outputs["proxy_enabled"] == "false"
    assert result.outputs["proxy_repo_id"] == "" and result.outputs["proxy_url"] == ""
    # At the commit the deploy reported: right after a commit, `main` may still read as the previous head.
    downloaded = pathlib.Path(
        snapshot_download(repo_id, repo_type=repo_type, revision=result.outputs["commit_sha"], endpoint=hub.endpoint,
                          token=hub.token, cache_dir=workspace / "cache")
    )
    # A Space's README gains front matter; everything else must be byte-equal.
    assert_same_tree(source, downloaded, ignore={"README.md"})
    return repo_id, source, result


@pytest.mark.case_model
def test_model_deploy_is_byte_equal_and_rerun_makes_no_commit(hub, deployer, workspace, name):
    repo_id, source, result = deploy_and_compare(hub, deployer, workspace, name, "model")
    assert result.outputs["space_url"] == ""
    head = hub.sha("model", repo_id)
    again = deployer.run(source, repo_id, repo_type="model")
    assert again.returncode == 0, again.stderr
    assert hub.sha("model", repo_id) == head, "a rerun of an unchanged folder must not commit"


@pytest.mark.case_dataset
def test_dataset_deploy_deletes_stale_files_and_uploads_only_changes(hub, deployer, workspace, name):
    repo_id, source, _ = deploy_and_compare(hub, deployer, workspace, name, "dataset")
    (source / "data" / "table.csv").write_text("a,b\n3,4\n")
    (source / "data" / "nested" / "deep" / "notes.txt").unlink()
    result = deployer.run(source, repo_id, repo_type="dataset")
    assert result.returncode == 0, result.stderr
    files = hub.files("dataset", repo_id)
    assert "data/nested/deep/notes.txt" not in files
    path = hub.api.hf_hub_download(repo_id, "data/table.csv", repo_type="dataset", cache_dir=workspace / "c2")
    assert pathlib.Path(path).read_text() == "a,b\n3,4\n"


@pytest.mark.case_space_public
def test_public_space_deploy(hub, deployer, workspace, name):
    repo_id, _, result = deploy_and_compare(hub, deployer, workspace, name, "space", sdk="static")
    assert result.outputs["space_url"].startswith("http")
    info = hub.api.space_info(repo_id)
    assert info.private is False
    assert info.sdk == "static"


@pytest.mark.case_model
def test_folder_uploaded_by_huggingface_hub_then_deployed_makes_no_commit(hub, deployer, workspace, name):
    """Our hashes agree with the Hub's oids: nothing to upload, nothing to commit."""
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", sample_files(None))
    hub.register("model", repo_id)
    hub.api.create_repo(repo_id, repo_type="model", exist_ok=True)
    hub.api.upload_folder(repo_id=repo_id, folder_path=source, repo_type="model")
    head = hub.sha("model", repo_id)
    result = deployer.run(source, repo_id, repo_type="model")
    assert result.returncode == 0, result.stderr
    assert hub.sha("model", repo_id) == head


@pytest.mark.case_space_private_proxy
def test_private_space_with_proxy_forwards_and_hides_the_token(hub, deployer, workspace, name, proxy_runner):
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", sample_files("gradio"))
    result = deployer.run(source, repo_id, repo_type="space", space_sdk="gradio", private="true",
                          create_proxy="true")
    assert result.returncode == 0, result.stderr
    proxy_repo = f"{repo_id}-proxy"
    hub.register("space", proxy_repo)
    assert result.outputs["proxy_enabled"] == "true"
    assert result.outputs["proxy_repo_id"] == proxy_repo
    assert result.outputs["proxy_url"].startswith("http")
    assert hub.api.space_info(repo_id).private is True
    assert hub.api.space_info(proxy_repo).private is False

    target = hub.api.space_info(repo_id).host
    status, _, _ = http("GET", f"{target}/")
    assert status in (401, 403, 404), "the private Space must refuse a call without a token"

    base = proxy_runner.base_url(result.outputs)
    probe = "/echo" if not hub.is_real else "/"
    status, headers, body = http("GET", base + probe, headers={"Authorization": "Bearer not-a-real-token"})
    assert status == 200, body[:500]
    assert hub.token.encode() not in body
    assert all(hub.token not in value for value in headers.values())
    if not hub.is_real:
        # The emulator's app echoes what reached it: no caller credentials, no Hub token header.
        assert b"not-a-real-token" not in body
        assert b"x-hf-authorization" not in body.lower()

    # Redeploying unchanged must not touch the proxy Space.
    proxy_head = hub.sha("space", proxy_repo)
    again = deployer.run(source, repo_id, repo_type="space", space_sdk="gradio", private="true",
                         create_proxy="true")
    assert again.returncode == 0, again.stderr
    assert hub.sha("space", proxy_repo) == proxy_head


@pytest.mark.case_space_public
def test_create_proxy_false_touches_no_proxy_repo(hub, deployer, workspace, name):
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", sample_files("static"))
    result = deployer.run(source, repo_id, repo_type="space", space_sdk="static", create_proxy="false")
    assert result.returncode == 0, result.stderr
    assert not hub.api.repo_exists(f"{repo_id}-proxy", repo_type="space")
    assert result.outputs["proxy_enabled"] == "false"


@pytest.mark.case_model
def test_dry_run_creates_nothing_and_reports_the_plan_as_json(hub, deployer, workspace, name):
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", sample_files(None))
    before = hub.emulator.mutations() if hub.emulator else None
    result = deployer.run(source, repo_id, repo_type="model", dry_run="true", json="true")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["changed"] is False and report["commit_sha"] is None
    assert report["added"] == 3 and report["repo_id"] == repo_id
    assert not hub.api.repo_exists(repo_id, repo_type="model")
    if hub.emulator:
        assert hub.emulator.mutations() == before


@pytest.mark.case_model
def test_bad_input_exits_2_and_changes_nothing(hub, deployer, workspace, name):
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", {"a.txt": "a\n"})
    before = hub.emulator.mutations() if hub.emulator else None
    result = deployer.run(source, repo_id, repo_type="kernel")
    assert result.returncode == 2
    # In a workflow the error is printed once, as an annotation.
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "repo_type" in errors[0], result.stdout
    assert "error:" not in result.stderr, result.stderr
    assert set(result.outputs) == {"repo_id", "repo_url", "space_url", "proxy_enabled", "proxy_repo_id", "proxy_url", "commit_sha", "pr_url"}
    if hub.emulator:
        assert hub.emulator.mutations() == before


@pytest.mark.case_space_public
def test_gradio_space_runs_and_the_summary_shows_the_plan(hub, deployer, workspace, name):
    repo_id = f"{hub.owner()}/{name}"
    source = write_tree(workspace / "src", {"app.py": GRADIO_APP, "requirements.txt": "gradio\n"})
    result = deployer.run(source, repo_id, repo_type="space", space_sdk="gradio")
    assert result.returncode == 0, result.stderr
    assert "| added |" in result.summary
    assert "RUNNING" in result.stdout
    info = hub.api.space_info(repo_id)
    assert info.sdk == "gradio"
    readme = pathlib.Path(hub.api.hf_hub_download(repo_id, "README.md", repo_type="space",
                                                  cache_dir=workspace / "c")).read_text()
    assert readme.startswith("---\n") and "sdk: gradio" in readme
