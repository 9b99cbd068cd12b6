"""Reads the README's tables and code blocks so tests can hold them against the code."""

from __future__ import annotations

import re

from hfdeploy_testing import REPO_ROOT as ROOT

README = ROOT / "README.md"


def text() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The body of the `## title` (or deeper) section, up to the next heading of the same or higher level."""
    lines = text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(#+)\s+(.*)$", line)
        if match and match.group(2).strip() == title:
            level = len(match.group(1))
            body = []
            fenced = False
            for inner in lines[index + 1:]:
                if inner.startswith("```"):
                    fenced = not fenced
                # A `# comment` inside a code block is not a heading.
                heading = None if fenced else re.match(r"^(#+)\s", inner)
                if heading and len(heading.group(1)) <= level:
                    break
                body.append(inner)
            return "\n".join(body)
    raise AssertionError(f"README has no section titled {title!r}")


def table(body: str) -> list[dict[str, str]]:
    """The first markdown table in `body`, as dicts keyed by lower-cased header."""
    rows = [line for line in body.splitlines() if line.strip().startswith("|")]
    if len(rows) < 2:
        raise AssertionError("no table found")
    header = [cell.strip().lower() for cell in rows[0].strip().strip("|").split("|")]
    out = []
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        out.append(dict(zip(header, cells)))
    return out


def code(cell: str) -> str:
    """The text inside the first backticks of a cell, or the cell itself."""
    match = re.search(r"`([^`]*)`", cell)
    return match.group(1) if match else cell


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text(), flags=re.S)
