"""Helpers for the integration suite only: the Hub under test, the deployer run as the action runs it, and
the proxy. What the suites share (binaries, the emulator, GitHub file commands) is in tests/hfdeploy_testing.py."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import time
import urllib.error
import urllib.request

from huggingface_hub import HfApi  # noqa: E402

from hfdeploy_testing import Emulator, binary, free_port, parse_github_output, visible  # noqa: E402

PREFIX = os.environ.get("HF_TEST_PREFIX", "hfdeploy-e2e-")


class Hub:
    """The Hub under test, seen through the official client."""

    def __init__(self, endpoint: str, token: str, emulator: Emulator | None, resources_file: str | None):
        self.endpoint = endpoint
        self.token = token
        self.emulator = emulator
        self.api = HfApi(endpoint=endpoint, token=token)
        self.resources_file = resources_file
        self.created: list[tuple[str, str]] = []
        self.run_id = os.environ.get("GITHUB_RUN_ID", "local")

    @property
    def is_real(self) -> bool:
        return self.emulator is None

    def unique_name(self, test_name: str) -> str:
        # Truncate before stripping, so the name never gets a "--" (the Hub refuses it).
        case = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return f"{PREFIX}{stamp}-{self.run_id}-{case}-{time.time_ns() % 100000}"[:96].rstrip("-.")

    def owner(self) -> str:
        return self.api.whoami()["name"]

    def register(self, repo_type: str, repo_id: str) -> None:
        """Remember a repo this session created, for teardown here and in the workflow."""
        self.created.append((repo_type, repo_id))
        if self.resources_file:
            with open(self.resources_file, "a", encoding="utf-8") as handle:
                handle.write(f"{repo_type}:{repo_id}\n")

    def sha(self, repo_type: str, repo_id: str) -> str:
        """The head of main. Read from the commit history: repo info and the tree of `main` may still show the
        previous head for a moment after a commit (the Hub's CDN; the emulator's --stale-reads-ms)."""
        return self.api.list_repo_commits(repo_id, repo_type=repo_type)[0].commit_id

    def files(self, repo_type: str, repo_id: str) -> set[str]:
        """The files at the head of main (listed at its commit id, which is never stale)."""
        head = self.sha(repo_type, repo_id)
        return set(self.api.list_repo_files(repo_id, repo_type=repo_type, revision=head))

    def cleanup(self) -> None:
        for repo_type, repo_id in reversed(self.created):
            self.api.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)


@dataclasses.dataclass
class DeployResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


class Deployer:
    """Runs `hf-deploy deploy` the way the action does: inputs as HF_DEPLOY_* env, token in HF_TOKEN."""

    def __init__(self, path: str, hub: Hub, workspace: pathlib.Path):
        self.path = path
        self.hub = hub
        self.workspace = workspace

    def run(self, source: pathlib.Path, repo_id: str, repo_type: str = "space", **inputs: str) -> DeployResult:
        output_file = self.workspace / f"output-{time.time_ns()}"
        summary_file = self.workspace / f"summary-{time.time_ns()}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workspace),
            "HF_ENDPOINT": self.hub.endpoint,
            "HF_TOKEN": self.hub.token,
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "HF_DEPLOY_HUGGINGFACE_REPO": repo_id,
            "HF_DEPLOY_REPO_TYPE": repo_type,
            "HF_DEPLOY_SOURCE_DIR": str(source),
        }
        for key, value in inputs.items():
            env[f"HF_DEPLOY_{key.upper()}"] = value
        if self.hub.emulator is not None:
            env.setdefault("HF_DEPLOY_WAIT_TIMEOUT", "60")
            # The emulator's Spaces build in a poll or two: no need for the real Hub's 2 s interval.
            env.setdefault("HF_DEPLOY_POLL_INTERVAL_MS", "100")
        if repo_type in ("model", "dataset", "space"):  # a bad-input test may pass another type on purpose
            self.hub.register(repo_type, repo_id)
        proc = subprocess.run([self.path, "deploy"], env=env, capture_output=True, text=True, timeout=900)
        summary = summary_file.read_text() if summary_file.exists() else ""
        outputs = parse_github_output(output_file.read_text()) if output_file.exists() else {}
        for text in (visible(proc.stdout), visible(proc.stderr), summary, json.dumps(outputs)):
            assert self.hub.token not in text, "the token leaked into the deploy's output"
        return DeployResult(proc.returncode, proc.stdout, proc.stderr, outputs, summary)


class ProxyRunner:
    """The proxy Space's app. On the real Hub it runs in the Space; here we start the proxy binary
    with the variables and the secret that the deploy stored in the emulator's proxy Space."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.process: subprocess.Popen | None = None

    def base_url(self, outputs: dict[str, str]) -> str:
        if self.hub.is_real:
            return outputs["proxy_url"].rstrip("/")
        assert self.hub.emulator is not None
        repo_id = outputs["proxy_repo_id"]
        env = {"PATH": os.environ.get("PATH", "")}
        for key, variable in self.hub.api.get_space_variables(repo_id).items():
            env[key] = variable.value
        token = self.hub.emulator.secret(repo_id, "PROXY_HF_TOKEN")
        assert token, "the proxy Space has no PROXY_HF_TOKEN secret"
        env["PROXY_HF_TOKEN"] = token
        port = free_port()
        env["PROXY_LISTEN"] = f"127.0.0.1:{port}"
        env["PROXY_PUBLIC_ORIGIN"] = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([binary("hf-space-proxy")], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base + "/.proxy/healthz", self.process)
        return base

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def wait_until_healthy(url: str, process: subprocess.Popen, attempts: int = 200) -> None:
    """Waits for the proxy's liveness path to answer: a readiness condition, bounded in count."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise RuntimeError("proxy did not become healthy")


def http(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    """A plain HTTP call that returns (status, headers, body) for any status."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
