#!/usr/bin/env bash
# Entry point of the composite action: find (or build) hf-deploy, then run `hf-deploy deploy`.
# Inputs arrive as HF_DEPLOY_* environment variables and tokens as HF_TOKEN / HF_DEPLOY_PROXY_HF_TOKEN
# (see action.yml); nothing here reads, prints or passes a token on a command line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(bash "$here/resolve-binary.sh")
exec "$bin" deploy
