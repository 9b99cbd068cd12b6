"""The README's dependency tables list every direct dependency, and nothing else."""

from __future__ import annotations

import re
import tomllib

from readme import ROOT, code, section, table

CRATES = {
    "hub": ROOT / "crates/hub/Cargo.toml",
    "deploy": ROOT / "crates/deploy/Cargo.toml",
    "hub-emulator": ROOT / "crates/hub-emulator/Cargo.toml",
    "demo": ROOT / "crates/demo/Cargo.toml",
    "proxy": ROOT / "crates/proxy/Cargo.toml",
}


def declared_rust() -> set[tuple[str, str]]:
    pairs = set()
    internal = {"hub", "hub-emulator", "hf-deploy", "hf-deploy-demo", "hf-space-proxy"}
    for crate, path in CRATES.items():
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
        for section_name in ("dependencies", "dev-dependencies", "build-dependencies"):
            for dep in manifest.get(section_name, {}):
                if dep not in internal:
                    pairs.add((dep, crate))
    return pairs


def documented(title: str, where_column: str) -> set[tuple[str, str]]:
    pairs = set()
    for row in table(section(title)):
        name = code(row["dependency"])
        assert row.get("purpose", "").strip(), f"{name} has no purpose"
        for where in re.findall(r"`([^`]+)`", row[where_column]):
            pairs.add((name, where))
    return pairs


def requirement_files():
    for path in sorted(ROOT.glob("**/*requirements*.txt")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("target/", ".venv", "crates/proxy/target/")) or "/.venv" in rel:
            continue
        yield rel, path


def declared_python() -> set[tuple[str, str]]:
    pairs = set()
    for rel, path in requirement_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            name = re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower()
            pairs.add((name, rel))
    return pairs


def test_rust_dependency_table_matches_cargo_manifests():
    assert documented("Rust crates", "crates") == declared_rust()


def test_python_dependency_table_matches_requirement_files():
    assert {(n.lower(), w) for n, w in documented("Python packages", "requirements")} == declared_python()


def test_python_requirements_are_pinned():
    for rel, path in requirement_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                assert "==" in line, f"{rel}: {line} is not pinned"
