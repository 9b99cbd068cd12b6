"""Static checks of action.yml: Marketplace metadata, the input/output contract, and the injection rules."""

from __future__ import annotations

import re

import pytest
import yaml

from composite import CompositeAction, Context, ExpressionError
from hfdeploy_testing import REPO_ROOT, parse_github_output

SPEC = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
LEGACY_INPUTS = {"huggingface_repo", "hf_token", "repo_type", "space_sdk", "private"}
OUTPUTS = {"repo_id", "repo_url", "space_url", "proxy_enabled", "proxy_repo_id", "proxy_url", "commit_sha", "pr_url"}
# Tokens have their own variable names (docs/contracts.md); every other input is HF_DEPLOY_<NAME>.
SECRET_ENV = {"hf_token": "HF_TOKEN", "proxy_hf_token": "HF_DEPLOY_PROXY_HF_TOKEN"}
# https://github.com/feathericons/feather, the icon set Marketplace branding accepts (the ones we might use).
FEATHER_SUBSET = {"upload-cloud", "upload", "cloud", "send", "package", "box", "zap"}
COLORS = {"white", "yellow", "blue", "green", "orange", "red", "purple", "gray-dark"}


def steps():
    return SPEC["runs"]["steps"]


def test_marketplace_metadata():
    assert SPEC["name"].strip() and SPEC["name"] != "hf-deploy", "Marketplace needs a unique, descriptive name"
    assert 0 < len(SPEC["description"]) <= 125, len(SPEC["description"])
    assert SPEC["author"].strip()
    assert SPEC["branding"]["icon"] in FEATHER_SUBSET
    assert SPEC["branding"]["color"] in COLORS


def test_every_input_and_output_is_described():
    for name, spec in {**SPEC["inputs"], **SPEC["outputs"]}.items():
        assert str(spec.get("description", "")).strip(), f"{name} has no description"


def test_only_hf_token_is_required_and_defaults_are_strings():
    required = {name for name, spec in SPEC["inputs"].items() if spec.get("required")}
    assert required == {"hf_token"}
    for name, spec in SPEC["inputs"].items():
        if "default" in spec:
            # YAML `false` would reach the binary as "false" anyway, but a string keeps the README
            # table and action.yml comparable without guessing how booleans print.
            assert isinstance(spec["default"], str), f"default of {name} should be a quoted string"


def test_legacy_contract_is_kept():
    assert LEGACY_INPUTS <= set(SPEC["inputs"])
    assert set(SPEC["outputs"]) == OUTPUTS


def test_action_is_composite_and_thin():
    assert SPEC["runs"]["using"] == "composite"
    assert len(steps()) == 1, "one step: logic lives in action/ and the binary"
    for step in steps():
        assert "uses" not in step, "the action must not check out the caller's repo or call other actions"


def test_no_expression_inside_run_scripts():
    for step in steps():
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env: only (script injection)"


def test_every_input_reaches_the_binary_through_env_only():
    env = steps()[0]["env"]
    for name in SPEC["inputs"]:
        variable = SECRET_ENV.get(name, f"HF_DEPLOY_{name.upper()}")
        assert env.get(variable) == f"${{{{ inputs.{name} }}}}", f"{name} should map to {variable}"
    mapped = {re.fullmatch(r"\$\{\{ inputs\.(\w+) \}\}", value).group(1) for value in env.values()}
    assert mapped == set(SPEC["inputs"]), "env maps something that is not an input"
    assert "HF_DEPLOY_HF_TOKEN" not in env


def test_outputs_come_from_the_deploy_step():
    deploy_ids = {step.get("id") for step in steps()}
    for name, spec in SPEC["outputs"].items():
        assert spec["value"] == f"${{{{ steps.deploy.outputs.{name} }}}}"
    assert "deploy" in deploy_ids


def test_scripts_are_strict_bash():
    for script in sorted((REPO_ROOT / "action").glob("*.sh")):
        text = script.read_text(encoding="utf-8")
        assert "set -euo pipefail" in text, script.name


# The harness itself must fail loudly on what it cannot evaluate, or the checks above prove nothing.

def test_evaluator_substitutes_known_contexts():
    ctx = Context({"a": "x"}, {"action_path": "/p"}, {"os": "Linux"}, {"E": "e"}, {"deploy": {"o": "1"}})
    assert ctx.substitute("${{ inputs.a }}-${{ github.action_path }}-${{ runner.os }}-${{ env.E }}") == "x-/p-Linux-e"
    assert ctx.substitute("${{ steps.deploy.outputs.o }}${{ steps.deploy.outputs.missing }}") == "1"
    assert ctx.substitute(False) == "false"


@pytest.mark.parametrize("expression", [
    "${{ inputs.undeclared }}", "${{ secrets.HF_TOKEN }}", "${{ format('{0}', inputs.a) }}",
    "${{ inputs.a || 'x' }}", "${{ steps.nope.outputs.o }}",
])
def test_evaluator_rejects_what_it_does_not_understand(expression):
    ctx = Context({"a": "x"}, {}, {}, {}, {})
    with pytest.raises(ExpressionError):
        ctx.substitute(expression)


def test_unknown_and_missing_required_inputs_are_errors():
    action = CompositeAction(REPO_ROOT)
    with pytest.raises(ValueError, match="unexpected inputs"):
        action.resolve_inputs({"hf_token": "t", "huggingface_repo_id": "x"})
    with pytest.raises(ValueError, match="required"):
        action.resolve_inputs({})
    values = action.resolve_inputs({"hf_token": "t", "private": False})
    assert values["private"] == "false" and values["repo_type"] == "space" and values["proxy_hf_token"] == ""


def test_github_output_parser_reads_heredocs():
    text = "a=1\nb<<EOF\nline1\nline2\nEOF\nc=\n"
    assert parse_github_output(text) == {"a": "1", "b": "line1\nline2", "c": ""}
    with pytest.raises(ValueError):
        parse_github_output("b<<EOF\nnever closed\n")


def test_harness_carries_env_path_and_outputs_between_steps(tmp_path):
    """The runner emulation itself: $GITHUB_ENV/$GITHUB_PATH reach later steps, step outputs reach the
    action's outputs, inputs reach a step only through its env:, and ::add-mask:: lines are consumed."""
    (tmp_path / "action.yml").write_text(yaml.safe_dump({
        "name": "t", "description": "t",
        "inputs": {"who": {"description": "d", "default": "world"}, "secret": {"description": "d", "required": True}},
        "outputs": {"greeting": {"description": "d", "value": "${{ steps.second.outputs.greeting }}"}},
        "runs": {"using": "composite", "steps": [
            {"id": "first", "shell": "bash", "env": {"WHO": "${{ inputs.who }}", "SECRET": "${{ inputs.secret }}"},
             "run": 'echo "::add-mask::$SECRET"\nmkdir -p "$RUNNER_TEMP/bin"\n'
                    'printf "#!/bin/sh\\necho tool-ran\\n" > "$RUNNER_TEMP/bin/mytool"\n'
                    'chmod +x "$RUNNER_TEMP/bin/mytool"\necho "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"\n'
                    'echo "CARRIED=$WHO" >> "$GITHUB_ENV"\nenv | grep "^INPUT_" || true'},
            {"id": "second", "shell": "bash",
             "run": 'echo "greeting=hello $CARRIED $(mytool) ${WHO:-no-who-here}" >> "$GITHUB_OUTPUT"'},
        ]},
    }))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    result = CompositeAction(tmp_path).run({"who": "act", "secret": "s3cr3t"}, workspace=workspace,
                                           env={"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path)})
    assert result.returncode == 0, result.log
    assert result.outputs == {"greeting": "hello act tool-ran no-who-here"}
    assert "INPUT_" not in result.log, "composite actions get no INPUT_* variables"
    assert result.masks == ["s3cr3t"] and "s3cr3t" not in result.log
