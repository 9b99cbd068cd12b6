"""The README's command-line examples run, as written, against a local Hub emulator."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import subprocess

import pytest

from hfdeploy_testing import WRITE_TOKEN, MissingBinary, binary, start_emulator
from readme import section

TOKEN = "hf_readme_write"


def cli_lines(title: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", section(title), flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("hf-deploy ") or line.startswith("HF_ENDPOINT="):
                lines.append(line)
    return lines


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    try:
        path = binary("hub-emulator")
        binary("hf-deploy")
    except MissingBinary as err:
        pytest.skip(str(err))
    # The README's examples name `my-user` and `my-org`; the emulator gets exactly those accounts.
    emu = start_emulator(tmp_path_factory.mktemp("readme-emu"), path=path,
                         users=(f"my-user:{TOKEN}:write", f"alice:{WRITE_TOKEN}:write"), orgs=("my-org:my-user",))
    yield emu
    emu.stop()


def run_line(line: str, emulator, cwd: pathlib.Path, token: str = TOKEN) -> subprocess.CompletedProcess:
    argv = shlex.split(line)
    env = {
        "PATH": f"{pathlib.Path(binary('hf-deploy')).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(cwd),
        "HF_TOKEN": token,
        "HF_ENDPOINT": emulator.url,
        "HF_DEPLOY_WAIT_TIMEOUT": "60",
    }
    while argv and "=" in argv[0] and not argv[0].startswith("-"):
        key, value = argv.pop(0).split("=", 1)
        env[key] = value.replace("127.0.0.1:PORT", emulator.url.removeprefix("http://"))
    argv[0] = binary("hf-deploy")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_command_line_examples_run_against_the_emulator(emulator, tmp_path):
    lines = cli_lines("Command line")
    assert len(lines) >= 4, lines
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text("import gradio as gr\n")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "config.json").write_text("{}\n")
    for line in lines:
        result = run_line(line, emulator, tmp_path)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        assert TOKEN not in result.stdout + result.stderr
        if "--json" in line:
            doc = json.loads(result.stdout)
            assert doc["repo_id"] == "my-org/my-model"


def emulator_argv(title: str) -> list[str]:
    """The arguments of the one line in section `title` that starts the emulator (`…/hub-emulator ARGS`)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", section(title), flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line.split("  #", 1)[0], comments=True)
            if words and words[0].endswith("/hub-emulator"):
                found.append(words[1:])
    assert len(found) == 1, f"the {title!r} section starts the emulator once, by its path: {found}"
    return found[0]


def test_emulator_example_deploys(tmp_path):
    """The emulator started as the section shows it (its users and orgs), then the section's deploy against it."""
    try:
        path = binary("hub-emulator")
        binary("hf-deploy")
    except MissingBinary as err:
        pytest.skip(str(err))
    args = emulator_argv("The Hub emulator")
    assert args[:2] == ["--listen", "127.0.0.1:0"], args  # start_emulator listens there and adds a data dir
    started = start_emulator(tmp_path / "emu", path=path, users=(), orgs=(), args=args[2:])
    try:
        lines = cli_lines("The Hub emulator")
        assert lines, "the emulator section shows a deploy against the emulator"
        (tmp_path / "config.json").write_text('{"model_type": "demo"}\n')
        for line in lines:
            result = run_line(line, started, tmp_path, token=WRITE_TOKEN)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    finally:
        started.stop()
