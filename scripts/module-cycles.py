#!/usr/bin/env python3
"""Fails when modules of a crate depend on each other in a cycle.

For every `.rs` file under a crate's `src/`, the module path comes from the file's place (`a/b.rs` and
`a/b/mod.rs` are `a::b`; `lib.rs`/`main.rs` are the root). Its references are `crate::x::y` paths and
`super::` paths, resolved to module paths. A reference from module A to module B counts as an edge between
the two children of their deepest common ancestor (siblings), so `source::walk` using `plan::files` is an
edge `source → plan`. A parent naming its own child is not an edge. Any strongly connected set of siblings
is a cycle.

Usage: python3 scripts/module-cycles.py crates/hub crates/deploy crates/hub-emulator
"""

from __future__ import annotations

import pathlib
import re
import sys

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\}", re.S)


def module_path(src: pathlib.Path, file: pathlib.Path) -> tuple[str, ...]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip(text: str) -> str:
    # Inline test modules sit at the end of a file; their `super` is the file's own module.
    text = re.split(r"#\[cfg\((?:all\()?test[^\n]*\n\s*mod ", text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def resolve(here: tuple[str, ...], head: str, rest: list[str]) -> list[str]:
    if head == "crate":
        return rest
    # `super` from `a/b.rs` (module a::b) is `a`; leading `super::super` climbs further.
    base = list(here)
    base.pop() if base else None
    while rest and rest[0] == "super":
        rest = rest[1:]
        base.pop() if base else None
    return base + rest


def main(crates: list[str]) -> int:
    bad = 0
    for crate in crates:
        src = pathlib.Path(crate) / "src"
        files = sorted(src.rglob("*.rs"))
        modules = {module_path(src, f) for f in files}
        edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for f in files:
            here = module_path(src, f)
            text = strip(f.read_text())
            refs = []
            for m in GROUP.finditer(text):
                prefix = [p for p in m.group(2).split("::") if p]
                for item in m.group(3).split(","):
                    item = item.strip().split(" as ")[0].strip()
                    if item and item != "self":
                        refs.append((m.group(1), prefix + [p for p in item.split("::") if p]))
            for m in PATH.finditer(text):
                refs.append((m.group(1), [p for p in m.group(2).split("::") if p]))
            for head, rest in refs:
                target = resolve(here, head, rest)
                # The longest prefix that is a module of this crate.
                while target and tuple(target) not in modules:
                    target = target[:-1]
                target = tuple(target)
                common = 0
                while common < min(len(here), len(target)) and here[common] == target[common]:
                    common += 1
                if common == len(here) or common == len(target):
                    continue  # an ancestor and its descendant
                a, b = here[: common + 1], target[: common + 1]
                edges.setdefault(a, set()).add(b)
        for cycle in cycles(edges):
            bad += 1
            print(f"{crate}: module cycle: {' → '.join('::'.join(m) for m in cycle)}")
        if not any(True for _ in cycles(edges)):
            print(f"{crate}: {len(modules)} modules, no cycle")
    return 1 if bad else 0


def cycles(edges: dict) -> list[list[tuple[str, ...]]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    out = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp) + [sorted(comp)[0]])

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["crates/hub", "crates/deploy", "crates/hub-emulator"]))
