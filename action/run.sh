#!/usr/bin/env bash
# Entry point of the composite action: find (or build) hf-deploy, then run `hf-deploy deploy`.
# Inputs arrive as HF_DEPLOY_* environment variables and tokens as HF_TOKEN / HF_DEPLOY_PROXY_HF_TOKEN
# (see action.yml); nothing here reads, prints or passes a token on a command line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A released binary is extracted, from an archive verified against the pinned sha256, into this folder of
# our own (mktemp -d: random name, owner-only), which goes away with the run.
run_dir=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/hf-deploy-run.XXXXXX")
trap 'rm -rf "$run_dir"' EXIT
bin=$(bash "$here/resolve-binary.sh" "$run_dir")
# Not exec: the trap removes run_dir once the deploy ends; set -e passes its exit code (0-3) on.
"$bin" deploy
