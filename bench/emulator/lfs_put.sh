#!/usr/bin/env bash
# LFS PUT throughput of hub-emulator on loopback, against a peer measured in the same run:
# a plain `cat FILE > DIR/copy` into the same storage directory (the emulator streams, hashes
# and writes the body there, so the copy is the ceiling it is compared with).
#
# usage: bench/emulator/lfs_put.sh [EMULATOR_BIN] [SIZE_MIB] [DATA_DIR]
#   EMULATOR_BIN  default target/release/hub-emulator
#   SIZE_MIB      default 1024
#   DATA_DIR      optional --data-dir for the emulator (default: its temp dir, /dev/shm when present)
set -euo pipefail

BIN=${1:-target/release/hub-emulator}
MIB=${2:-1024}
DATA=${3:-}
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

src="$work/object.bin"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$src"
size=$(stat -c %s "$src")
sha=$(sha256sum "$src" | cut -d' ' -f1)

args=(--listen 127.0.0.1:0 --user bench:hf_bench_write:write)
target_dir=/dev/shm
[[ -d /dev/shm ]] || target_dir=${TMPDIR:-/tmp}
if [[ -n "$DATA" ]]; then
    args+=(--data-dir "$DATA")
    target_dir=$DATA
fi
mkfifo "$work/stdout"
"$BIN" "${args[@]}" >"$work/stdout" 2>"$work/stderr" &
pid=$!
exec 3<"$work/stdout"
read -r -t 60 line <&3
url=${line#listening on }

auth=(-H "authorization: Bearer hf_bench_write")
curl -sf -X POST "${auth[@]}" "$url/api/repos/create" -d '{"name":"bench"}' >/dev/null
href=$(curl -sf -X POST "${auth[@]}" "$url/bench/bench.git/info/lfs/objects/batch" \
    -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$sha\",\"size\":$size}]}" |
    sed -E 's/.*"href":"([^"]*_lfs\/put\/[^"]*)".*/\1/')

speed=$(curl -sf -o /dev/null -w '%{speed_upload}' -T "$src" "$href")

peer_dst="$target_dir/hub-emulator-bench-copy-$$"
start=$(date +%s.%N)
cat "$src" >"$peer_dst"
end=$(date +%s.%N)
rm -f "$peer_dst"
peer=$(awk -v s="$size" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", s / (b - a) }')

awk -v e="$speed" -v p="$peer" -v m="$MIB" -v d="$target_dir" 'BEGIN {
    printf "LFS PUT %d MiB: emulator %.0f MB/s; peer (cat into %s) %.0f MB/s; ratio %.2f\n", m, e / 1e6, d, p / 1e6, e / p
}'
