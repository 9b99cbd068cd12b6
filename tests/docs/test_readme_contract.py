"""The README's inputs, outputs and workflow examples must match action.yml."""

from __future__ import annotations

import yaml

from readme import ROOT, code, code_blocks, section, table

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_inputs_table_matches_action_yml():
    rows = {code(row["input"]): row for row in table(section("Inputs"))}
    assert set(rows) == set(ACTION["inputs"]), "README inputs table and action.yml disagree on names"
    for name, spec in ACTION["inputs"].items():
        row = rows[name]
        default = spec.get("default")
        documented = code(row["default"]) if row["default"] not in ("", "—", "-") else None
        assert documented == (None if default in (None, "") else str(default)), f"default of {name}"
        assert (row["required"].lower() == "yes") == bool(spec.get("required", False)), f"required of {name}"


def test_outputs_table_matches_action_yml():
    rows = {code(row["output"]) for row in table(section("Outputs"))}
    assert rows == set(ACTION["outputs"])


def test_legacy_contract_names_are_kept():
    legacy = {"huggingface_repo", "hf_token", "repo_type", "space_sdk", "private"}
    new = {"source_dir", "create_proxy", "proxy_space_suffix", "proxy_hf_token", "proxy_target_url",
           "proxy_allow_origins", "commit_message"}
    assert legacy | new <= set(ACTION["inputs"])
    assert set(ACTION["outputs"]) >= {"repo_id", "repo_url", "space_url", "proxy_enabled", "proxy_repo_id",
                                      "proxy_url"}


def workflow_steps_using_the_action():
    for block in code_blocks("yaml"):
        doc = yaml.safe_load(block)
        if not isinstance(doc, dict):
            continue
        for job in (doc.get("jobs") or {}).values():
            for step in job.get("steps", []):
                uses = str(step.get("uses", ""))
                if "hf-deploy" in uses or uses == "./":
                    yield step


def test_every_readme_workflow_snippet_uses_only_real_inputs():
    steps = list(workflow_steps_using_the_action())
    assert len(steps) >= 3, "README should show a Space, a model and a proxy example"
    required = {name for name, spec in ACTION["inputs"].items() if spec.get("required")}
    for step in steps:
        given = set((step.get("with") or {}).keys())
        assert given <= set(ACTION["inputs"]), f"unknown inputs {given - set(ACTION['inputs'])}"
        assert required <= given, f"missing required inputs {required - given}"
        for value in (step.get("with") or {}).values():
            if "token" in str(value).lower() and "${{" not in str(value):
                raise AssertionError("README examples must pass tokens from secrets")


def test_readme_quick_start_covers_space_model_and_proxy():
    steps = list(workflow_steps_using_the_action())
    kinds = {str((s.get("with") or {}).get("repo_type", "space")) for s in steps}
    assert {"space", "model"} <= kinds
    assert any(str((s.get("with") or {}).get("create_proxy", "")).lower() == "true" for s in steps)
