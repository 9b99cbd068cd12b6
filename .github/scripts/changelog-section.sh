#!/usr/bin/env bash
# Prints the CHANGELOG.md section of one version (its body, without the heading), for release notes.
# Headings may be "## [1.2.3] - date", "## 1.2.3" or "## v1.2.3". Fails when the section is missing or empty,
# so a release cannot go out without notes.
# Usage: changelog-section.sh VERSION [CHANGELOG]
set -euo pipefail

version=${1#v}
file=${2:-CHANGELOG.md}

section=$(awk -v version="$version" '
  /^## / {
    heading = $2
    gsub(/^\[|\]$/, "", heading)
    sub(/^v/, "", heading)
    if (found) exit
    if (heading == version) { found = 1; next }
  }
  found { print }
' "$file")

if [[ -z ${section//[[:space:]]/} ]]; then
  echo "CHANGELOG: no notes for $version in $file; add a \"## [$version]\" section" >&2
  exit 1
fi
printf '%s\n' "$section"
