#!/usr/bin/env bash
# Packages a release build the way cargo-dist names it, which is what action/resolve-binary.sh downloads (and
# cargo binstall, per crates/deploy/Cargo.toml's [package.metadata.binstall]):
#   dist/hf-deploy-<target>.tar.gz (.zip for Windows) holding hf-deploy-<target>/{hf-deploy[.exe],README.md,LICENSE}
#   dist/hf-deploy-<target>.tar.gz.sha256 holding "<sha256> *<archive name>"
# Usage: package.sh TARGET BINARY [OUT_DIR]
set -euo pipefail

target=$1
binary=$2
out=${3:-dist}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

name="hf-deploy-$target"
exe=hf-deploy
ext=tar.gz
if [[ $target == *windows* ]]; then
  exe=hf-deploy.exe
  ext=zip
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
cp "$binary" "$stage/$name/$exe"
chmod +x "$stage/$name/$exe"
for doc in README.md LICENSE CHANGELOG.md; do
  if [[ -f $root/$doc ]]; then cp "$root/$doc" "$stage/$name/"; fi
done

archive="$name.$ext"
out_abs=$(cd "$out" && pwd)
if [[ $ext == zip ]]; then
  if command -v 7z >/dev/null 2>&1; then
    (cd "$stage" && 7z a -tzip -bd "$out_abs/$archive" "$name" >/dev/null)
  else
    (cd "$stage" && zip -qr "$out_abs/$archive" "$name")
  fi
else
  tar -czf "$out_abs/$archive" -C "$stage" "$name"
fi

if command -v sha256sum >/dev/null 2>&1; then
  digest=$(sha256sum "$out_abs/$archive" | cut -d' ' -f1)
else
  digest=$(shasum -a 256 "$out_abs/$archive" | cut -d' ' -f1)
fi
printf '%s *%s\n' "$digest" "$archive" >"$out_abs/$archive.sha256"
echo "$out_abs/$archive"
