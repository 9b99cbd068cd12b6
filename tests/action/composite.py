"""Runs a composite action's steps the way the GitHub runner does, on this machine.

Why this home-made runner exists next to `act` (tests/action/test_act.py) and the real runner (ci.yml's
`action` job). Those two run `uses: ./` on a Linux x64 host, with an empty GITHUB_ACTION_REF, so hf-deploy is
always built from source there. Only here can a test:
- run the action as on macOS, Windows and ARM64 runners (asset names, the Windows zip): act takes RUNNER_OS
  and RUNNER_ARCH from the host and ignores --env for them. The release-ref cases next to them (download,
  pinned sha256, tool cache, build fallback, and the attacks on them in test_binary_pinning.py, each on its
  own copy of the action) would run under act given `--env GITHUB_ACTION_REF=v1.2.3`, at about 3 s per act
  run against about 0.1 s here;
- run the resolver under macOS's bash 3.2 and BSD tools, on a real macOS runner with only a venv (ci.yml's
  `action-scripts-macos` job);
- read the log as the binary printed it: act and the runner replace every secret with `***`, so there a token
  that hf-deploy printed would go unseen; here the tests check that each token was `::add-mask::`ed first and
  appears nowhere else (test_action_deploy.py);
- fail on an unknown input, which the runner only warns about.

What it reproduces (and what a test would miss without it):
- inputs: `with:` values become strings (YAML `false` -> "false"), defaults fill the rest, unknown inputs
  are an error here (the runner only warns), a missing required input is an error;
- composite actions get NO `INPUT_*` variables: a step sees an input only through an `${{ inputs.x }}`
  expression in its `env:` (or `with:`), which is evaluated before the step starts;
- expressions: a tiny evaluator for `${{ inputs.NAME }}`, `${{ github.NAME }}`, `${{ runner.NAME }}`,
  `${{ env.NAME }}` and `${{ steps.ID.outputs.NAME }}`; anything else raises, so a new construct in
  action.yml fails loudly instead of being silently mis-evaluated;
- `shell: bash` runs `bash --noprofile --norc -eo pipefail FILE`, with GITHUB_ACTION_PATH, GITHUB_OUTPUT,
  GITHUB_STEP_SUMMARY, GITHUB_ENV and GITHUB_PATH files, and the workspace as working directory;
- workflow commands: `::add-mask::VALUE` lines are consumed like the runner does (the rest of the log is
  NOT masked here, so a token printed anywhere else stays visible to the tests);
- the action's `outputs:` are evaluated from the steps' outputs after the last step.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import tempfile
import uuid

import yaml

from hfdeploy_testing import REPO_ROOT, parse_github_output, visible

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression this evaluator does not understand."""


@dataclasses.dataclass
class StepResult:
    id: str | None
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    masks: list[str]


@dataclasses.dataclass
class ActionRun:
    returncode: int
    outputs: dict[str, str]
    steps: list[StepResult]
    summary: str
    masks: list[str]

    @property
    def log(self) -> str:
        """Everything the steps printed, minus the `::add-mask::` commands the runner consumes."""
        return "\n".join(visible(text) for step in self.steps for text in (step.stdout, step.stderr))

    def annotations(self, kind: str) -> list[str]:
        """`::notice::`/`::error::` workflow commands, with their properties stripped."""
        found = []
        pattern = re.compile(rf"^::{kind}(?: [^:]*)?::(.*)$")
        for step in self.steps:
            for line in (step.stdout + "\n" + step.stderr).splitlines():
                match = pattern.match(line)
                if match:
                    found.append(match.group(1))
        return found


class Context:
    """The expression contexts a composite step can see."""

    def __init__(self, inputs, github, runner, env, steps):
        self.inputs = inputs
        self.github = github
        self.runner = runner
        self.env = env
        self.steps = steps

    def lookup(self, expression: str) -> str:
        expr = expression.strip()
        literal = re.fullmatch(r"'((?:[^']|'')*)'", expr)
        if literal:
            return literal.group(1).replace("''", "'")
        match = re.fullmatch(r"(inputs|github|runner|env)\.([A-Za-z_][A-Za-z0-9_-]*)", expr)
        if match:
            scope, name = match.groups()
            table = getattr(self, scope)
            if scope == "inputs" and name not in table:
                raise ExpressionError(f"inputs.{name} is not declared in action.yml")
            return str(table.get(name, ""))
        match = re.fullmatch(r"steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)", expr)
        if match:
            step_id, name = match.groups()
            if step_id not in self.steps:
                raise ExpressionError(f"steps.{step_id} does not exist (yet)")
            return self.steps[step_id].get(name, "")
        raise ExpressionError(f"cannot evaluate ${{{{ {expr} }}}}")

    def substitute(self, value) -> str:
        text = _stringify(value)
        return _EXPRESSION.sub(lambda m: self.lookup(m.group(1)), text)


def _stringify(value) -> str:
    """How the runner turns a YAML scalar from `with:`/`env:` into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CompositeAction:
    def __init__(self, action_dir: pathlib.Path = REPO_ROOT):
        self.action_dir = pathlib.Path(action_dir)
        self.spec = yaml.safe_load((self.action_dir / "action.yml").read_text(encoding="utf-8"))
        if self.spec.get("runs", {}).get("using") != "composite":
            raise ValueError("not a composite action")

    def resolve_inputs(self, given: dict) -> dict[str, str]:
        declared = self.spec.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise ValueError(f"unexpected inputs {sorted(unknown)}; valid inputs are {sorted(declared)}")
        values = {}
        for name, spec in declared.items():
            if name in given:
                values[name] = _stringify(given[name])
            else:
                if spec.get("required") and "default" not in spec:
                    raise ValueError(f"input required and not supplied: {name}")
                values[name] = _stringify(spec.get("default"))
        return values

    def run(self, given: dict, *, workspace: pathlib.Path, env: dict[str, str], github: dict | None = None,
            runner: dict | None = None, timeout: float = 900) -> ActionRun:
        """Runs every step. `env` is the job's environment (what steps inherit); `github`/`runner` add to
        or override the contexts derived from it."""
        inputs = self.resolve_inputs(given)
        files = pathlib.Path(tempfile.mkdtemp(prefix="runner-files-", dir=env.get("RUNNER_TEMP")))
        summary_file = files / "step_summary"
        job_env = dict(env)
        job_env.setdefault("GITHUB_WORKSPACE", str(workspace))
        job_env.setdefault("GITHUB_ACTIONS", "true")
        job_env.setdefault("CI", "true")
        job_env.setdefault("RUNNER_TEMP", str(files))
        github_ctx = {
            "action_path": str(self.action_dir),
            "workspace": job_env["GITHUB_WORKSPACE"],
            "repository": job_env.get("GITHUB_REPOSITORY", ""),
            "sha": job_env.get("GITHUB_SHA", ""),
            "run_id": job_env.get("GITHUB_RUN_ID", ""),
            "action_ref": job_env.get("GITHUB_ACTION_REF", ""),
            **(github or {}),
        }
        runner_ctx = {
            "os": job_env.get("RUNNER_OS", "Linux"),
            "arch": job_env.get("RUNNER_ARCH", "X64"),
            "temp": job_env["RUNNER_TEMP"],
            "tool_cache": job_env.get("RUNNER_TOOL_CACHE", ""),
            **(runner or {}),
        }
        step_outputs: dict[str, dict[str, str]] = {}
        results: list[StepResult] = []
        masks: list[str] = []
        returncode = 0
        for index, step in enumerate(self.spec["runs"]["steps"]):
            if "uses" in step:
                raise NotImplementedError("this harness runs `run:` steps only; the action should stay thin")
            if step.get("shell") != "bash":
                raise ValueError(f"step {index} must say `shell: bash` (composite run steps need a shell)")
            context = Context(inputs, github_ctx, runner_ctx, job_env, step_outputs)
            step_env = dict(job_env)
            # The runner evaluates the step's env block before the step starts; nothing else maps inputs.
            for key, value in (step.get("env") or {}).items():
                step_env[key] = context.substitute(value)
            output_file = files / f"output-{index}"
            env_file = files / f"env-{index}"
            path_file = files / f"path-{index}"
            for handle in (output_file, env_file, path_file):
                handle.write_text("")
            step_env.update({
                "GITHUB_ACTION_PATH": str(self.action_dir),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_STEP_SUMMARY": str(summary_file),
                "GITHUB_ENV": str(env_file),
                "GITHUB_PATH": str(path_file),
                "RUNNER_OS": runner_ctx["os"],
                "RUNNER_ARCH": runner_ctx["arch"],
                "RUNNER_TEMP": runner_ctx["temp"],
                # Empty for a local action (`uses: ./`), the tag, branch or SHA otherwise.
                "GITHUB_ACTION_REF": github_ctx["action_ref"],
            })
            script = files / f"step-{index}-{uuid.uuid4().hex}.sh"
            script.write_text(context.substitute(step["run"]) + "\n", encoding="utf-8")
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace, env=step_env, capture_output=True, text=True, timeout=timeout,
            )
            step_masks = [line[len("::add-mask::"):] for line in (proc.stdout + "\n" + proc.stderr).splitlines()
                          if line.startswith("::add-mask::")]
            masks.extend(step_masks)
            outputs = parse_github_output(output_file.read_text(encoding="utf-8"))
            if step.get("id"):
                step_outputs[step["id"]] = outputs
            results.append(StepResult(step.get("id"), proc.returncode, proc.stdout, proc.stderr, outputs,
                                      step_masks))
            # Later steps see what this one appended to $GITHUB_ENV and $GITHUB_PATH.
            job_env.update(parse_github_output(env_file.read_text(encoding="utf-8")))
            for entry in reversed(path_file.read_text(encoding="utf-8").splitlines()):
                if entry:
                    job_env["PATH"] = entry + os.pathsep + job_env.get("PATH", "")
            if proc.returncode != 0:
                returncode = proc.returncode
                break
        context = Context(inputs, github_ctx, runner_ctx, job_env, step_outputs)
        action_outputs = {name: context.substitute(spec.get("value", ""))
                          for name, spec in (self.spec.get("outputs") or {}).items()}
        summary = summary_file.read_text(encoding="utf-8") if summary_file.exists() else ""
        return ActionRun(returncode, action_outputs, results, summary, masks)


def base_env(runner_dirs, **extra: str) -> dict[str, str]:
    """A job environment like a hosted runner's, built from scratch (nothing leaks in from the caller's
    environment, in particular no HF_DEPLOY_BIN or token)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(runner_dirs["home"]),
        "GITHUB_WORKSPACE": str(runner_dirs["workspace"]),
        "GITHUB_REPOSITORY": "octo-org/octo-app",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ID": "4242",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": str(runner_dirs["temp"]),
        "RUNNER_TOOL_CACHE": str(runner_dirs["toolcache"]),
    }
    for key in ("CARGO_HOME", "RUSTUP_HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env
