#!/usr/bin/env bash
# Checks the action's outputs in a workflow (ci.yml, the act workflow) for a first deploy of a Space without a
# proxy. Outputs arrive as REPO_ID, REPO_URL, SPACE_URL, PROXY_ENABLED, PROXY_REPO_ID, PROXY_URL, COMMIT_SHA,
# PR_URL.
# Usage: check-outputs.sh EXPECTED_REPO_ID
set -euo pipefail

expected=$1
problems=0
wrong() {
  echo "::error::output $1 is wrong: $2"
  problems=$((problems + 1))
}
[[ $REPO_ID == "$expected" ]] || wrong repo_id "'$REPO_ID', expected '$expected'"
[[ $REPO_URL == */spaces/"$expected" ]] || wrong repo_url "'$REPO_URL'"
[[ $SPACE_URL == http* ]] || wrong space_url "'$SPACE_URL'"
[[ $PROXY_ENABLED == false ]] || wrong proxy_enabled "'$PROXY_ENABLED', expected false"
[[ -z $PROXY_REPO_ID ]] || wrong proxy_repo_id "'$PROXY_REPO_ID', expected empty"
[[ -z $PROXY_URL ]] || wrong proxy_url "'$PROXY_URL', expected empty"
[[ $COMMIT_SHA =~ ^[0-9a-f]{40}$ ]] || wrong commit_sha "'$COMMIT_SHA', expected the commit made"
[[ -z $PR_URL ]] || wrong pr_url "'$PR_URL', expected empty"
if ((problems)); then
  exit 1
fi
echo "all outputs as the contract says (repo_id=$REPO_ID)"
