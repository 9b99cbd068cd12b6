#!/usr/bin/env bash
# Prints the path of the hf-deploy binary to run on stdout; every log line goes to stderr.
# Usage: resolve-binary.sh [RUN_DIR]   RUN_DIR: an empty private folder to put the binary in (run.sh makes
# and removes it); without it the resolver makes one with mktemp -d.
#
# Order:
#   1. HF_DEPLOY_BIN, when set, is used as it is (tests, local runs). It must be an executable file.
#   2. A released binary for this runner: the version comes from the action's own ref (vX.Y.Z) or, for a
#      major tag (v1) or a commit SHA, from action/VERSION. Assets follow cargo-dist's names:
#      hf-deploy-<target>.tar.gz (.zip on Windows) under ${HF_DEPLOY_DOWNLOAD_BASE}/v<version>/.
#      The archive's sha256 is read from action/checksums/<version>.sha256 in THIS checkout of the action,
#      never from the release: the release workflow commits that file and tags the commit that holds it, so
#      whoever can replace a release's assets still cannot change the digest a tag or SHA pin resolves to.
#      The archive is cached (tool cache, else a private folder) and re-hashed against the pin on every run;
#      the binary is extracted from the verified bytes into RUN_DIR, so nothing planted in a cache runs.
#   3. A build from the action's own source (`cargo build --release --locked`), with the tokens removed
#      from its environment, only when there is no release to use: a branch or `uses: ./`, a platform
#      without a published binary, a version with no pinned checksum, or a release that answers 404. Any
#      other failure to download a pinned release (no answer, 403, 5xx) is an error naming the URL.
#      cargo's output goes into a collapsed log group, followed by how long the build took and, when a
#      release would have avoided it, how to pin one.
# Workflow commands (::error::, ::group::…) are printed only in GitHub Actions (GITHUB_ACTIONS=true); anywhere
# else the same messages are plain lines.
set -euo pipefail

readonly default_base="https://github.com/hf-deploy/hf-deploy/releases/download"

log() { printf 'hf-deploy: %s\n' "$*" >&2; }
in_actions() { [[ ${GITHUB_ACTIONS:-} == true ]]; }
# A workflow command's data, escaped as the runner expects (% first, then line breaks).
escape_data() {
  local data=${1//\%/%25}
  data=${data//$'\r'/%0D}
  printf '%s' "${data//$'\n'/%0A}"
}
# annotate KIND MESSAGE: an annotation (notice, warning, error) in GitHub Actions, a plain line elsewhere.
annotate() {
  local kind=$1
  shift
  if in_actions; then
    printf '::%s title=hf-deploy::%s\n' "$kind" "$(escape_data "$*")" >&2
  else
    printf 'hf-deploy: %s: %s\n' "$kind" "$*" >&2
  fi
}
fail() {
  annotate error "$*"
  exit 1
}
warn() { annotate warning "$*"; }
# A collapsed group in the Actions log; outside Actions only its title is printed.
group_start() {
  if in_actions; then
    printf '::group::%s\n' "$(escape_data "$*")" >&2
  else
    log "$*"
  fi
}
group_end() {
  if in_actions; then printf '::endgroup::\n' >&2; fi
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action_dir=${GITHUB_ACTION_PATH:-$(cd "$here/.." && pwd)}
tmp_base=${RUNNER_TEMP:-${TMPDIR:-/tmp}}

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

# The digest pinned for ASSET in FILE (sha256sum's format: "<hex>  <name>" or "<hex> *<name>"), lower-cased,
# or nothing when FILE does not exist or has no line for ASSET.
pinned_digest() {
  local file=$1 asset=$2
  [[ -f $file ]] || return 0
  awk -v asset="$asset" '
    { sub(/\r$/, ""); name = $2; sub(/^\*/, "", name) }
    name == asset { print tolower($1); exit }
  ' "$file"
}

# A folder only this user can use, for the cache and builds when the runner provides none. A fixed path
# under the system temp dir would not do: another user could create it first and plant a binary there.
# hf-deploy keeps its hash cache in the same hf-deploy folder (docs/contracts.md); the action uses action/.
private_dir() {
  local top dir
  if [[ -n ${XDG_CACHE_HOME:-} || -n ${HOME:-} ]]; then
    top="${XDG_CACHE_HOME:-$HOME/.cache}/hf-deploy"
    dir="$top/action"
    if (umask 077 && mkdir -p "$dir") 2>/dev/null && [[ -O $top && -O $dir && ! -L $top && ! -L $dir ]] &&
      chmod 700 "$top" "$dir" 2>/dev/null; then
      echo "$dir"
      return
    fi
    log "$dir cannot be made private to this user; using a fresh folder that is not reused"
  fi
  mktemp -d "${TMPDIR:-/tmp}/hf-deploy-cache.XXXXXX"
}

# Where archives are cached: the runner's tool cache (kept across jobs on self-hosted runners), its per-job
# temp folder, else a private folder. Whatever is found there is verified before use.
cache_root() {
  if [[ -n ${RUNNER_TOOL_CACHE:-} ]]; then
    echo "$RUNNER_TOOL_CACHE/hf-deploy"
  elif [[ -n ${RUNNER_TEMP:-} ]]; then
    echo "$RUNNER_TEMP/hf-deploy"
  else
    private_dir
  fi
}

# Downloads URL to FILE; prints the HTTP status (000 when there was no answer, curl's reason in FILE.err).
fetch() {
  local url=$1 file=$2
  curl --silent --show-error --location --retry 3 --retry-delay 1 --connect-timeout 20 \
    --output "$file" --write-out '%{http_code}' "$url" 2>"$file.err" || true
}

extract() {
  local archive=$1 dest=$2
  case "$archive" in
    *.zip) unzip -q -o "$archive" -d "$dest" >&2 ;;
    *) tar -xzf "$archive" -C "$dest" ;;
  esac
}

# Puts the verified ASSET into the cache for the next run. A cache that cannot be written only costs a
# download next time.
store_in_cache() {
  local file=$1 cache_dir=$2 asset=$3
  if mkdir -p "$cache_dir" 2>/dev/null && cp "$file" "$cache_dir/$asset.partial.$$" 2>/dev/null &&
    mv -f "$cache_dir/$asset.partial.$$" "$cache_dir/$asset" 2>/dev/null; then
    log "cached $asset in $cache_dir"
  else
    rm -f "$cache_dir/$asset.partial.$$" 2>/dev/null || true
    log "could not cache $asset in $cache_dir; the next run downloads it again"
  fi
}

# Sets `resolved` to the binary from the pinned release, or `no_release` to why there is none (a 404).
# Everything that could run something unverified ends the script instead.
from_release() {
  local version=$1 target=$2 exe=$3 asset=$4 expected=$5 pins=$6 run_dir=$7
  local base=${HF_DEPLOY_DOWNLOAD_BASE:-$default_base}
  local url="${base%/}/v$version/$asset"
  local cache_dir
  cache_dir="$(cache_root)/$version/$target"
  local archive="$run_dir/$asset" actual

  # A copy is hashed and extracted, never the cached file itself: it cannot change between check and use.
  if [[ -f $cache_dir/$asset ]] && cp "$cache_dir/$asset" "$archive" 2>/dev/null; then
    actual=$(sha256_of "$archive")
    if [[ $actual == "$expected" ]]; then
      log "using $asset from the cache ($cache_dir), sha256 verified against $pins"
    else
      warn "the cached $cache_dir/$asset does not match the sha256 pinned in $pins (pinned $expected, cached $actual); downloading it again. If nothing else writes there, something planted it."
      rm -f "$archive" "$cache_dir/$asset" 2>/dev/null || true
    fi
  fi

  if [[ ! -f $archive ]]; then
    log "downloading $url"
    local status
    status=$(fetch "$url" "$archive")
    case "$status" in
      200) ;;
      404)
        no_release="$url answered HTTP 404: v$version has no $asset"
        return
        ;;
      000)
        fail "could not download $url (no answer: $(tail -n 1 "$archive.err" 2>/dev/null)). v$version is a release (its sha256 is pinned in $pins), so this is not a reason to build from source: check the runner's network or proxy, or set HF_DEPLOY_DOWNLOAD_BASE to a mirror."
        ;;
      *)
        fail "downloading $url failed with HTTP $status. v$version is a release (its sha256 is pinned in $pins), so this is not a reason to build from source: retry, or set HF_DEPLOY_DOWNLOAD_BASE to a mirror."
        ;;
    esac
    actual=$(sha256_of "$archive")
    if [[ $actual != "$expected" ]]; then
      rm -f "$archive"
      fail "sha256 mismatch for $url: $pins pins $expected, the download has $actual. Refusing to run it: the release asset was replaced or corrupted."
    fi
    log "sha256 verified against $pins: $actual"
    store_in_cache "$archive" "$cache_dir" "$asset"
  fi

  mkdir "$run_dir/x"
  extract "$archive" "$run_dir/x"
  # cargo-dist puts the binary in a folder named like the archive; accept a flat archive too.
  local candidate
  for candidate in "$run_dir/x/hf-deploy-$target/$exe" "$run_dir/x/$exe"; do
    if [[ -f $candidate ]]; then
      chmod +x "$candidate"
      resolved=$candidate
      return
    fi
  done
  fail "$asset has no $exe inside"
}

# Unsets, in the calling (sub)shell, every variable that may carry a secret: the tokens action.yml passes
# (HF_TOKEN, HF_DEPLOY_PROXY_HF_TOKEN; INPUT_* in case of a wrapper), anything named like a credential
# (ACTIONS_ID_TOKEN_REQUEST_TOKEN, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY…), and any variable holding one of
# our tokens under another name.
drop_secrets() {
  local name value
  local hf=${HF_TOKEN:-} proxy=${HF_DEPLOY_PROXY_HF_TOKEN:-}
  shopt -s nocasematch
  for name in $(compgen -e); do
    value=${!name-}
    case "$name" in
      HF_TOKEN | HF_DEPLOY_PROXY_HF_TOKEN | INPUT_HF_TOKEN | INPUT_PROXY_HF_TOKEN | *TOKEN* | *SECRET* | \
        *PASSWORD* | *PASSWD* | *CREDENTIAL* | *_KEY | *_PAT)
        unset "$name" 2>/dev/null || true
        ;;
      *)
        if [[ (-n $hf && $value == *"$hf"*) || (-n $proxy && $value == *"$proxy"*) ]]; then
          unset "$name" 2>/dev/null || true
        fi
        ;;
    esac
  done
  shopt -u nocasematch
}

# build_from_source WHY EXE FOR [HINT]: builds hf-deploy and prints its path. WHY says why there is no release
# binary (a notice), FOR names what has none (the group's title), HINT says how to avoid the build next time.
build_from_source() {
  local why=$1 exe=$2 for=$3 hint=${4:-}
  annotate notice "no release binary ($why): building hf-deploy from source with cargo build --release --locked in $action_dir"
  command -v cargo >/dev/null 2>&1 ||
    fail "cargo is not installed, so hf-deploy cannot be built from source. Pin a released version (uses: hf-deploy/hf-deploy@vX.Y.Z) or install Rust before this step."
  local target_dir=${CARGO_TARGET_DIR:-}
  if [[ -z $target_dir ]]; then
    if [[ -n ${GITHUB_WORKSPACE:-} ]] && [[ "$(cd "$GITHUB_WORKSPACE" && pwd -P)" == "$(cd "$action_dir" && pwd -P)" ]]; then
      # `uses: ./`: the action is the workspace, so a target/ there would be deployed with source_dir: .
      if [[ -n ${RUNNER_TEMP:-} ]]; then
        target_dir="$RUNNER_TEMP/hf-deploy-target"
      else
        target_dir="$(private_dir)/target"
      fi
      log "building into $target_dir, outside the workspace"
    else
      target_dir=target
    fi
  fi
  if [[ ! $target_dir == /* && ! $target_dir =~ ^[A-Za-z]: ]]; then
    target_dir="$action_dir/$target_dir"
  fi
  # cargo's output (about 170 lines) is kept in a private file too, so that a failed build's errors can be
  # shown again outside the collapsed group.
  local output status=0 started=$SECONDS elapsed
  output=$(mktemp "$tmp_base/hf-deploy-cargo.XXXXXX")
  group_start "Building hf-deploy from source (no release binary for $for)"
  # Every dependency's build script and proc macro runs during the build: none of them gets a secret. The
  # subshell keeps the tokens for the deploy itself. cargo's output goes to stderr: stdout is the path.
  (
    drop_secrets
    cd "$action_dir" &&
      CARGO_TARGET_DIR="$target_dir" cargo build --release --locked -p hf-deploy --bin hf-deploy 2>&1 |
      tee "$output" >&2
  ) || status=$?
  elapsed=$((SECONDS - started))
  group_end
  if [[ $status -ne 0 ]]; then
    # Outside the group: what went wrong, without unfolding 170 lines.
    grep -E '^(error|warning: build failed)' "$output" | head -n 40 >&2 || true
    rm -f "$output"
    fail "cargo build --release --locked failed in $action_dir after $elapsed s (exit code $status); its full output is in the log group above. To download a verified binary instead, pin a release: uses: hf-deploy/hf-deploy@vX.Y.Z or its commit SHA."
  fi
  rm -f "$output"
  [[ -x "$target_dir/release/$exe" ]] || fail "cargo build finished but $target_dir/release/$exe is missing"
  log "Built hf-deploy from source in $elapsed s${hint:+; $hint}"
  echo "$target_dir/release/$exe"
}

main() {
  if [[ -n ${HF_DEPLOY_BIN:-} ]]; then
    [[ -f $HF_DEPLOY_BIN && -x $HF_DEPLOY_BIN ]] || fail "HF_DEPLOY_BIN=$HF_DEPLOY_BIN is not an executable file"
    log "using HF_DEPLOY_BIN=$HF_DEPLOY_BIN"
    echo "$HF_DEPLOY_BIN"
    return
  fi

  local target version exe=hf-deploy ext=tar.gz
  # What avoids a build when the ref is not a release (a 404 or an unsupported platform is not fixed by it).
  local pin_hint="pin a release (uses: hf-deploy/hf-deploy@vX.Y.Z or its commit SHA) to download a verified binary instead"
  target=$(target_triple)
  version=$(release_version)
  if [[ $target == *windows* ]]; then
    exe="hf-deploy.exe"
    ext=zip
  fi

  if [[ -z $target ]]; then
    local platform="${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}"
    build_from_source "no published binary for $platform" "$exe" "$platform"
    return
  fi
  if [[ -z $version ]]; then
    if [[ -z ${GITHUB_ACTION_REF:-} ]]; then
      build_from_source "a local action (uses: ./) runs the source next to it" "$exe" "uses: ./" "$pin_hint"
    else
      build_from_source "action ref '$GITHUB_ACTION_REF' is not a release tag, a major tag or a commit SHA" "$exe" \
        "$GITHUB_ACTION_REF" "$pin_hint"
    fi
    return
  fi

  local asset="hf-deploy-$target.$ext"
  local pins="$action_dir/action/checksums/$version.sha256"
  local expected
  expected=$(pinned_digest "$pins" "$asset")
  if [[ -z $expected ]]; then
    # Nothing to verify a download against (not a release commit, or a release made before pinning).
    build_from_source "no sha256 pinned for $asset in $pins" "$exe" "${GITHUB_ACTION_REF:-v$version}" "$pin_hint"
    return
  fi
  [[ $expected =~ ^[0-9a-f]{64}$ ]] ||
    fail "$pins: the line for $asset does not hold a sha256 digest; refusing to run an unverified binary"

  local run_dir=${1:-}
  if [[ -z $run_dir ]]; then
    run_dir=$(mktemp -d "$tmp_base/hf-deploy-run.XXXXXX")
  fi
  resolved="" no_release=""
  from_release "$version" "$target" "$exe" "$asset" "$expected" "$pins" "$run_dir"
  if [[ -n $resolved ]]; then
    echo "$resolved"
    return
  fi
  build_from_source "$no_release" "$exe" "${GITHUB_ACTION_REF:-v$version}"
}

main "$@"
