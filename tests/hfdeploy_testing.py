"""What every Python test suite here shares: finding the binaries, starting and stopping the hub emulator,
reading GitHub's file commands, and the log the runner shows.

Importable as `hfdeploy_testing` from tests/integration, tests/action and tests/docs (the root pytest.ini puts
tests/ on sys.path). Standard library only: it also runs as a script, with any python3:

    python3 tests/hfdeploy_testing.py start-emulator   # a workflow job's emulator; HF_ENDPOINT to $GITHUB_ENV
    python3 tests/hfdeploy_testing.py with-emulator --workdir DIR [--user U]... -- COMMAND   # run.sh scripts

Environment: HF_DEPLOY_BIN, HUB_EMULATOR_BIN, HF_SPACE_PROXY_BIN name the binaries; without them they are
looked up in the cargo target directories.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# The emulator's test accounts (hub-emulator --user NAME:TOKEN:ROLE). Not secrets: they exist only there.
WRITE_TOKEN = "hf_alice_write"
READ_TOKEN = "hf_bob_read"
DEFAULT_USERS = (f"alice:{WRITE_TOKEN}:write", f"bob:{READ_TOKEN}:read")

# name: (environment variable, cargo target folders in the order tried, how to build it)
BINARIES = {
    "hf-deploy": ("HF_DEPLOY_BIN", ("target/debug", "target/release"), "cargo build -p hf-deploy"),
    "hub-emulator": ("HUB_EMULATOR_BIN", ("target/debug", "target/release"), "cargo build -p hub-emulator"),
    # The proxy crate has its own Cargo.lock and target dir; scripts/test.sh builds it in release.
    "hf-space-proxy": ("HF_SPACE_PROXY_BIN", ("crates/proxy/target/release", "crates/proxy/target/debug"),
                       "cargo build --release --locked in crates/proxy"),
}


class MissingBinary(RuntimeError):
    """A binary is neither named by its environment variable nor built."""


def binary(name: str) -> str:
    """The path of `name`: its environment variable if set, else the first cargo target folder holding it."""
    variable, folders, build = BINARIES[name]
    explicit = os.environ.get(variable)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise MissingBinary(f"{variable}={explicit} is not an executable file")
        return explicit
    for folder in folders:
        candidate = REPO_ROOT / folder / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise MissingBinary(f"{name} is not built: run `{build}` (or set {variable})")


def binary_or_skip(name: str) -> str:
    """For suites that also run where nothing is built (the action scripts on macOS): skip, saying why."""
    try:
        return binary(name)
    except MissingBinary as err:
        import pytest  # only the test suites have it; the workflow script above does not

        pytest.skip(str(err))


@dataclasses.dataclass
class Emulator:
    process: subprocess.Popen
    url: str
    workdir: pathlib.Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)

    def journal(self) -> list[dict]:
        return self.get("/_emulator/journal")

    def mutations(self) -> int:
        return sum(1 for entry in self.journal() if entry["mutating"])

    def secrets(self, repo_id: str) -> dict:
        return self.get(f"/_emulator/spaces/{repo_id}/secrets")

    def secret(self, repo_id: str, key: str) -> str | None:
        return self.secrets(repo_id).get(key)


def start_emulator(workdir: pathlib.Path, *, users=DEFAULT_USERS, orgs=(), args=(), path: str | None = None,
                   detach: bool = False, timeout: float = 60.0) -> Emulator:
    """Starts hub-emulator on a free loopback port with its data, stdout and stderr under `workdir`.

    Ready once it prints its one stdout line, `listening on URL` (it accepts connections by then), within
    `timeout` seconds. Output goes to files, not pipes, so that nobody has to keep reading them and a
    detached emulator (`detach`: a session of its own, for a workflow's later steps) outlives this process.
    """
    workdir = pathlib.Path(workdir)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    argv = [path or binary("hub-emulator"), "--listen", "127.0.0.1:0", "--data-dir", str(workdir / "data")]
    for user in users:
        argv += ["--user", user]
    for org in orgs:
        argv += ["--org", org]
    argv += list(args)
    stdout_file, stderr_file = workdir / "stdout", workdir / "stderr"
    with open(stdout_file, "wb") as stdout, open(stderr_file, "wb") as stderr:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   start_new_session=detach)
    emulator = Emulator(process, "", workdir)
    deadline = time.monotonic() + timeout
    while True:
        line, newline, _ = stdout_file.read_text(encoding="utf-8", errors="replace").partition("\n")
        if newline:
            match = re.fullmatch(r"listening on (http://\S+)", line.strip())
            if match:
                emulator.url = match.group(1)
                return emulator
            emulator.stop()
            raise RuntimeError(f"hub-emulator printed {line!r} instead of `listening on URL`")
        if process.poll() is not None:
            raise RuntimeError(f"hub-emulator exited with {process.returncode}: {stderr_file.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            emulator.stop()
            raise RuntimeError(f"hub-emulator printed no `listening on` line within {timeout:g} s")
        time.sleep(0.02)  # the next look at its stdout; the deadline above bounds the wait


def free_port() -> int:
    """A loopback port that was free a moment ago (nothing listens there until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def visible(text: str) -> str:
    """What a job log shows: the runner consumes `::add-mask::` lines (they register a secret) and never
    prints them, so only the rest must be free of tokens."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))


def parse_github_output(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT / $GITHUB_ENV syntax: `key=value` lines and `key<<DELIMITER` blocks."""
    result: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if not line:
            continue
        eq = line.find("=")
        heredoc = line.find("<<")
        if heredoc != -1 and (eq == -1 or heredoc < eq):
            key, delimiter = line[:heredoc], line[heredoc + 2:]
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise ValueError(f"unterminated heredoc for {key!r} in a GitHub file command")
            result[key] = "\n".join(body)
        elif eq != -1:
            result[line[:eq]] = line[eq + 1:]
        else:
            raise ValueError(f"invalid line in a GitHub file command: {line!r}")
    return result


def _start_emulator_for_job(args) -> int:
    """An emulator for a workflow job (ci.yml, tests/action/act-workflow.yml) that outlives this step:
    HF_ENDPOINT goes to $GITHUB_ENV and its pid to $RUNNER_TEMP/hub-emulator.pid (the job's last step kills it)."""
    temp = pathlib.Path(os.environ["RUNNER_TEMP"])
    try:
        emulator = start_emulator(temp / "hub-emulator", detach=True)
    except RuntimeError as err:  # MissingBinary included
        print(f"::error::{err}")
        return 1
    (temp / "hub-emulator.pid").write_text(f"{emulator.process.pid}\n")
    with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as env:
        env.write(f"HF_ENDPOINT={emulator.url}\n")
    print(f"hub emulator ready at {emulator.url} (pid {emulator.process.pid})")
    return 0


def _with_emulator(args) -> int:
    """COMMAND with HF_ENDPOINT set to a fresh emulator, stopped afterwards (tests/conformance/run.sh)."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        sys.exit("with-emulator: no command given after --")
    try:
        emulator = start_emulator(pathlib.Path(args.workdir), users=args.user or DEFAULT_USERS, orgs=args.org,
                                  args=args.emulator_arg, path=args.path)
    except RuntimeError as err:  # MissingBinary included
        sys.exit(f"with-emulator: {err}")
    try:
        return subprocess.run(command, env={**os.environ, "HF_ENDPOINT": emulator.url}).returncode
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 tests/hfdeploy_testing.py",
                                     description="The hub emulator, for workflows and shell scripts.")
    commands = parser.add_subparsers(dest="name", required=True)
    commands.add_parser("start-emulator", help="start one for this workflow job; HF_ENDPOINT goes to $GITHUB_ENV")
    run = commands.add_parser("with-emulator", help="run COMMAND with HF_ENDPOINT set to a fresh emulator")
    run.add_argument("--workdir", required=True, help="folder for the emulator's data and output")
    run.add_argument("--path", help="hub-emulator binary (default: HUB_EMULATOR_BIN, else the cargo target dir)")
    run.add_argument("--user", action="append", help=f"NAME:TOKEN:ROLE[:PLAN], repeatable (default: {DEFAULT_USERS})")
    run.add_argument("--org", action="append", default=[], help="NAME:MEMBER, repeatable")
    run.add_argument("--emulator-arg", action="append", default=[], help="one more hub-emulator argument")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    args = parser.parse_args(argv)
    return _start_emulator_for_job(args) if args.name == "start-emulator" else _with_emulator(args)


if __name__ == "__main__":
    sys.exit(main())
