#!/usr/bin/env python3
"""Reads `cargo build --message-format=json` on stdin; fails if cargo compiled anything.

Used after a workspace build to check that building the demo on its own reuses every crate: the demo resolves
the same dependency features as the workspace (a demo feature on hf-deploy, or a dependency feature only the
demo turns on, would make cargo compile the shared crates again).
"""
import json
import sys

compiled = []
artifacts = 0
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        continue
    if msg.get("reason") == "compiler-artifact":
        artifacts += 1
        if not msg.get("fresh", False):
            compiled.append(msg.get("package_id", "?"))
    elif msg.get("reason") == "build-finished" and not msg.get("success", False):
        sys.exit("check-fresh-build: cargo build failed")
if artifacts == 0:
    sys.exit("check-fresh-build: cargo reported no artifacts (was --message-format=json passed?)")
if compiled:
    sys.exit(f"check-fresh-build: {len(compiled)} of {artifacts} crates compiled again, e.g. " + ", ".join(compiled[:5]))
print(f"check-fresh-build: all {artifacts} crates reused")
