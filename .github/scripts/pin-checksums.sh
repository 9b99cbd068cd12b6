#!/usr/bin/env bash
# Writes the pinned checksums of a release: one "<sha256>  <archive>" line (sha256sum's format) per archive
# in DIST_DIR, sorted by name. release.yml commits the file as action/checksums/<version>.sha256 and tags the
# commit that holds it; action/resolve-binary.sh verifies downloads against it and ignores the release's own
# .sha256 assets, which whoever can edit the release could replace together with the archive.
# Usage: pin-checksums.sh DIST_DIR OUT_FILE TARGET...
# Every TARGET must have exactly one archive (hf-deploy-<target>.tar.gz or .zip), and each archive must match
# the .sha256 its build job wrote (a mismatch means the artifact changed between jobs).
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: pin-checksums.sh DIST_DIR OUT_FILE TARGET..." >&2
  exit 2
fi
dist=$1
out=$2
shift 2

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

lines=()
for target in "$@"; do
  found=()
  for ext in tar.gz zip; do
    if [[ -f $dist/hf-deploy-$target.$ext ]]; then found+=("hf-deploy-$target.$ext"); fi
  done
  if [[ ${#found[@]} -ne 1 ]]; then
    echo "pin-checksums: expected one archive for $target in $dist, found ${#found[@]}" >&2
    exit 1
  fi
  archive=${found[0]}
  digest=$(sha256_of "$dist/$archive")
  built=$(awk 'NR == 1 { print tolower($1) }' "$dist/$archive.sha256" 2>/dev/null || true)
  if [[ $built != "$digest" ]]; then
    echo "pin-checksums: $dist/$archive has sha256 $digest but its build job recorded '${built:-nothing}'" >&2
    exit 1
  fi
  lines+=("$digest  $archive")
done

mkdir -p "$(dirname "$out")"
printf '%s\n' "${lines[@]}" | LC_ALL=C sort -k2 >"$out"
echo "$out"
