#!/usr/bin/env bash
# Prints the path of the hf-deploy binary to run on stdout; every log line goes to stderr.
#
# Order:
#   1. HF_DEPLOY_BIN, when set, is used as it is (tests, local runs). It must be an executable file.
#   2. A released binary for this runner: the version comes from the action's own ref (vX.Y.Z) or, for a
#      major tag (v1) or a commit SHA, from action/VERSION. Assets follow cargo-dist's names:
#      hf-deploy-<target>.tar.gz (.zip on Windows) with hf-deploy-<target>.tar.gz.sha256 next to it, under
#      ${HF_DEPLOY_DOWNLOAD_BASE}/v<version>/. The sha256 is checked (a mismatch fails the step) and the
#      binary is kept in the runner's tool cache.
#   3. No release asset (a branch ref, `uses: ./`, an unknown platform, a 404): build it from the action's
#      own source with `cargo build --release --locked`.
set -euo pipefail

readonly default_base="https://github.com/hf-deploy/hf-deploy/releases/download"

log() { printf 'hf-deploy: %s\n' "$*" >&2; }
fail() {
  printf '::error title=hf-deploy::%s\n' "$*" >&2
  exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action_dir=${GITHUB_ACTION_PATH:-$(cd "$here/.." && pwd)}

# The Rust target triple of a released binary for this runner, or nothing when none is published.
target_triple() {
  local os=${RUNNER_OS:-$(uname -s)} arch=${RUNNER_ARCH:-$(uname -m)}
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64) echo aarch64-apple-darwin ;;
    Windows/X64 | MINGW*/x86_64 | MSYS*/x86_64) echo x86_64-pc-windows-msvc ;;
    *) ;;
  esac
}

# The released version this copy of the action corresponds to, or nothing when it is not a release.
release_version() {
  local ref=${GITHUB_ACTION_REF:-} version=""
  if [[ $ref =~ ^v([0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
    echo "${BASH_REMATCH[1]}"
    return
  fi
  # A major tag (v1, v1.2) or a pinned commit SHA points at a release commit, whose action/VERSION names
  # the release. A branch or a local `uses: ./` runs code that may not be released: build it.
  if [[ $ref =~ ^v[0-9]+(\.[0-9]+)?$ || $ref =~ ^[0-9a-f]{40}$ ]] && [[ -f $action_dir/action/VERSION ]]; then
    version=$(tr -d ' \r\n' <"$action_dir/action/VERSION")
    version=${version#v}
  fi
  if [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "$version"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# Downloads URL to FILE; prints the HTTP status (000 when there was no answer). Never fails the script.
fetch() {
  local url=$1 file=$2
  curl --silent --show-error --location --retry 3 --retry-delay 1 --connect-timeout 20 \
    --output "$file" --write-out '%{http_code}' "$url" 2>/dev/null || true
}

extract() {
  local archive=$1 dest=$2
  case "$archive" in
    *.zip) unzip -q -o "$archive" -d "$dest" >&2 ;;
    *) tar -xzf "$archive" -C "$dest" ;;
  esac
}

# Tries the release asset; prints the cached binary's path, or nothing when there is no asset to use.
# A checksum mismatch ends the script: a tampered or truncated binary must never run.
download_release() {
  local version=$1 target=$2 exe=$3
  local ext=tar.gz
  if [[ $target == *windows* ]]; then ext=zip; fi
  local asset="hf-deploy-$target.$ext"
  local base=${HF_DEPLOY_DOWNLOAD_BASE:-$default_base}
  local url="${base%/}/v$version/$asset"
  local cache_root=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}
  local cache_dir="$cache_root/hf-deploy/$version/$target"

  if [[ -f "$cache_dir.complete" && -x "$cache_dir/$exe" ]]; then
    log "using hf-deploy $version from the tool cache ($cache_dir)"
    echo "$cache_dir/$exe"
    return
  fi

  local tmp status
  tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/hf-deploy-download.XXXXXX")
  log "downloading $url"
  status=$(fetch "$url.sha256" "$tmp/$asset.sha256")
  if [[ $status != 200 ]]; then
    log "no release checksum at $url.sha256 (HTTP $status)"
    rm -rf "$tmp"
    return
  fi
  status=$(fetch "$url" "$tmp/$asset")
  if [[ $status != 200 ]]; then
    log "no release asset at $url (HTTP $status)"
    rm -rf "$tmp"
    return
  fi

  local expected actual
  expected=$(awk 'NR == 1 { print tolower($1) }' "$tmp/$asset.sha256")
  actual=$(sha256_of "$tmp/$asset")
  if [[ ! $expected =~ ^[0-9a-f]{64}$ ]]; then
    rm -rf "$tmp"
    fail "$asset.sha256 does not hold a sha256 digest; refusing to run an unverified binary"
  fi
  if [[ $expected != "$actual" ]]; then
    rm -rf "$tmp"
    fail "sha256 mismatch for $asset: expected $expected, got $actual; refusing to run it"
  fi
  log "sha256 verified: $actual"

  mkdir -p "$tmp/x"
  extract "$tmp/$asset" "$tmp/x"
  # cargo-dist puts the binary in a folder named like the archive; accept a flat archive too.
  local found=""
  for candidate in "$tmp/x/hf-deploy-$target/$exe" "$tmp/x/$exe"; do
    if [[ -f $candidate ]]; then
      found=$candidate
      break
    fi
  done
  if [[ -z $found ]]; then
    rm -rf "$tmp"
    fail "$asset has no $exe inside"
  fi

  mkdir -p "$cache_dir"
  cp "$found" "$cache_dir/$exe.partial"
  chmod +x "$cache_dir/$exe.partial"
  mv -f "$cache_dir/$exe.partial" "$cache_dir/$exe"
  touch "$cache_dir.complete"
  rm -rf "$tmp"
  echo "$cache_dir/$exe"
}

build_from_source() {
  local why=$1 exe=$2
  printf '::notice title=hf-deploy::%s\n' "no release binary ($why): building hf-deploy from source with cargo build --release --locked in $action_dir" >&2
  command -v cargo >/dev/null 2>&1 ||
    fail "cargo is not installed, so hf-deploy cannot be built from source. Pin a released version (uses: hf-deploy/hf-deploy@vX.Y.Z) or install Rust before this step."
  local target_dir=${CARGO_TARGET_DIR:-}
  if [[ -z $target_dir ]]; then
    if [[ -n ${GITHUB_WORKSPACE:-} ]] && [[ "$(cd "$GITHUB_WORKSPACE" && pwd -P)" == "$(cd "$action_dir" && pwd -P)" ]]; then
      # `uses: ./`: the action is the workspace, so a target/ there would be deployed with source_dir: .
      target_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/hf-deploy-target"
      log "building into $target_dir, outside the workspace"
    else
      target_dir=target
    fi
  fi
  if [[ ! $target_dir == /* && ! $target_dir =~ ^[A-Za-z]: ]]; then
    target_dir="$action_dir/$target_dir"
  fi
  # cargo's own output goes to stderr: stdout carries only the path.
  (cd "$action_dir" && CARGO_TARGET_DIR="$target_dir" cargo build --release --locked -p hf-deploy --bin hf-deploy >&2) ||
    fail "cargo build --release --locked failed in $action_dir"
  [[ -x "$target_dir/release/$exe" ]] || fail "cargo build finished but $target_dir/release/$exe is missing"
  echo "$target_dir/release/$exe"
}

main() {
  if [[ -n ${HF_DEPLOY_BIN:-} ]]; then
    [[ -f $HF_DEPLOY_BIN && -x $HF_DEPLOY_BIN ]] || fail "HF_DEPLOY_BIN=$HF_DEPLOY_BIN is not an executable file"
    log "using HF_DEPLOY_BIN=$HF_DEPLOY_BIN"
    echo "$HF_DEPLOY_BIN"
    return
  fi

  local target version exe=hf-deploy
  target=$(target_triple)
  version=$(release_version)
  if [[ $target == *windows* ]]; then exe=hf-deploy.exe; fi

  if [[ -z $target ]]; then
    build_from_source "no published binary for ${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" "$exe"
    return
  fi
  if [[ -z $version ]]; then
    if [[ -z ${GITHUB_ACTION_REF:-} ]]; then
      build_from_source "a local action (uses: ./) runs the source next to it" "$exe"
    else
      build_from_source "action ref '$GITHUB_ACTION_REF' is not a release tag, a major tag or a commit SHA" "$exe"
    fi
    return
  fi
  local path
  path=$(download_release "$version" "$target" "$exe")
  if [[ -n $path ]]; then
    echo "$path"
    return
  fi
  build_from_source "v$version has no asset for $target" "$exe"
}

main "$@"
