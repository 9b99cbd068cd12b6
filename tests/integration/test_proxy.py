"""The proxy Space that `create_proxy: true` provisions, seen from outside: its settings, calls through it,
and an unchanged redeploy that writes nothing. Same tests against the emulator and the real Hub; one deploy
for the module (a proxy Space build on the Hub takes a while)."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

from hfdeploy_testing import binary
from support import Deployer, DeployResult, ProxyRunner, http

pytestmark = pytest.mark.case_space_private_proxy

GRADIO_APP = 'import gradio as gr\n\ngr.Interface(lambda s: s[::-1], "text", "text").launch()\n'
ALLOWED_ORIGIN = "https://site.example"


@dataclasses.dataclass
class Deployed:
    repo_id: str
    proxy_repo: str
    source: pathlib.Path
    result: DeployResult
    deployer: Deployer


def inputs() -> dict[str, str]:
    return {"space_sdk": "gradio", "private": "true", "create_proxy": "true", "proxy_allow_origins": ALLOWED_ORIGIN}


@pytest.fixture(scope="module")
def deployed(hub, tmp_path_factory) -> Deployed:
    workspace = tmp_path_factory.mktemp("proxy")
    source = workspace / "src"
    source.mkdir()
    (source / "app.py").write_text(GRADIO_APP)
    repo_id = f"{hub.owner()}/{hub.unique_name('proxy-module')}"
    proxy_repo = f"{repo_id}-proxy"
    deployer = Deployer(binary("hf-deploy"), hub, workspace)
    hub.register("space", proxy_repo)
    result = deployer.run(source, repo_id, repo_type="space", **inputs())
    assert result.returncode == 0, result.stderr
    return Deployed(repo_id, proxy_repo, source, result, deployer)


@pytest.fixture(scope="module")
def proxy_base(hub, deployed):
    runner = ProxyRunner(hub)
    try:
        yield runner.base_url(deployed.result.outputs)
    finally:
        runner.stop()


def test_outputs_name_a_public_docker_proxy_space(hub, deployed):
    outputs = deployed.result.outputs
    assert outputs["proxy_enabled"] == "true"
    assert outputs["proxy_repo_id"] == deployed.proxy_repo
    proxy = hub.api.space_info(deployed.proxy_repo)
    assert proxy.private is False
    assert proxy.sdk == "docker"
    assert outputs["proxy_url"].rstrip("/") == proxy.host.rstrip("/")
    files = hub.files("space", deployed.proxy_repo)
    for required in ("Dockerfile", "README.md", "Cargo.toml", "Cargo.lock", "src/main.rs"):
        assert required in files, f"{required} missing from the proxy Space"


def test_proxy_settings_point_at_the_private_space_and_hold_no_token(hub, deployed):
    variables = {key: var.value for key, var in hub.api.get_space_variables(deployed.proxy_repo).items()}
    target_host = hub.api.space_info(deployed.repo_id).host.rstrip("/")
    assert variables["PROXY_TARGET_URL"] == target_host
    assert variables["PROXY_ALLOW_ORIGINS"] == ALLOWED_ORIGIN
    assert all(hub.token not in value for value in variables.values()), "a token in a public variable"
    assert "PROXY_HF_TOKEN" in hub.api.get_space_secrets(deployed.proxy_repo)
    if hub.emulator is not None:
        # The emulator lets a test read the secret back; the Hub never does.
        assert hub.emulator.secret(deployed.proxy_repo, "PROXY_HF_TOKEN") == hub.token


def test_calls_through_the_proxy_strip_caller_credentials_and_hide_the_token(hub, deployed, proxy_base):
    private_host = hub.api.space_info(deployed.repo_id).host.rstrip("/")
    status, _, _ = http("GET", f"{private_host}/")
    assert status in (401, 403, 404), "the private Space must refuse a call without a token"

    path = "/echo" if not hub.is_real else "/config"
    status, headers, body = http("GET", proxy_base + path, headers={
        "Authorization": "Bearer hf_not_the_proxy_token",
        "Cookie": "spaces-jwt=forged",
    })
    assert status == 200, body[:500]
    assert hub.token.encode() not in body
    assert all(hub.token not in value for value in headers.values())
    assert b"hf_not_the_proxy_token" not in body and b"forged" not in body
    if not hub.is_real:
        assert b"x-hf-authorization" not in body.lower(), "the token header must not reach the app"


def test_absolute_urls_of_the_private_origin_are_rewritten(hub, deployed, proxy_base):
    """Gradio's /config names its own origin; through the proxy it must name the proxy's."""
    private_host = hub.api.space_info(deployed.repo_id).host.rstrip("/")
    status, _, body = http("GET", proxy_base + "/config")
    assert status == 200, body[:500]
    assert private_host.encode() not in body, "the private origin leaked through /config"


def test_cors_preflight_allows_only_the_configured_origin(deployed, proxy_base):
    allowed_status, allowed, _ = http("OPTIONS", proxy_base + "/config", headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert allowed_status in (200, 204)
    lower = {k.lower(): v for k, v in allowed.items()}
    assert lower.get("access-control-allow-origin") == ALLOWED_ORIGIN
    _, other, _ = http("OPTIONS", proxy_base + "/config", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    lower = {k.lower(): v for k, v in other.items()}
    assert lower.get("access-control-allow-origin") in (None, ""), "a foreign origin was allowed"


def test_liveness_path_answers_without_calling_upstream(proxy_base):
    status, _, body = http("GET", proxy_base + "/.proxy/healthz")
    assert status == 200, body[:200]


def test_unchanged_redeploy_touches_neither_space(hub, deployed):
    """Last in the module: it re-runs the deploy on top of the shared one."""
    proxy_head = hub.sha("space", deployed.proxy_repo)
    target_head = hub.sha("space", deployed.repo_id)
    before_vars = {k: v.updated_at for k, v in hub.api.get_space_variables(deployed.proxy_repo).items()}
    before_secrets = {k: v.updated_at for k, v in hub.api.get_space_secrets(deployed.proxy_repo).items()}
    writes_before = hub.emulator.mutations() if hub.emulator is not None else 0
    again = deployed.deployer.run(deployed.source, deployed.repo_id, repo_type="space", **inputs())
    assert again.returncode == 0, again.stderr
    assert hub.sha("space", deployed.proxy_repo) == proxy_head, "the template was committed again"
    assert hub.sha("space", deployed.repo_id) == target_head
    after_vars = {k: v.updated_at for k, v in hub.api.get_space_variables(deployed.proxy_repo).items()}
    assert after_vars == before_vars, "a variable was rewritten"
    after_secrets = {k: v.updated_at for k, v in hub.api.get_space_secrets(deployed.proxy_repo).items()}
    assert after_secrets == before_secrets, "the token secret was rewritten"
    if hub.emulator is not None:
        assert hub.emulator.mutations() == writes_before, "an unchanged redeploy wrote to the Hub"
