#!/usr/bin/env bash
# bench-compressed.sh -- replay of compressed captures against the decompressor alone
# (issue 17: "close to the decompressor's own speed").
#
# usage: scripts/bench-compressed.sh [PCAP] [RUNS]   (default bench-data/mix.pcap, 3 runs)
#
# The capture is compressed once per format with the usual tools at their default level
# (gzip, zstd, xz, lz4; kept beside it as PCAP.gz ... and remade when PCAP is newer).
# Each row, medians of RUNS runs:
#   decompress s   the tool's own decompressor to /dev/null (zcat, zstdcat, xzcat, lz4cat)
#   c2tap s        c2tap replay --events alerts of the compressed file, output to /dev/null
#   plain s        c2tap replay of the uncompressed file, the same way
#   ×decompress    c2tap s / decompress s (below 1: replaying beats just decompressing with
#                  the command-line tool; the libraries c2tap links can be faster than it)
#   ×floor         c2tap s / max(decompress s, plain s): the replay can be no faster than
#                  the slower of decompressing and replaying; 1.00 means no cost beyond it
#                  (with 2 cores the decoder and the parser workers share the machine, so
#                  expect somewhat more than the floor: their sum is the upper bound)
set -euo pipefail

cd "$(dirname "$0")/.."
PCAP=${1:-bench-data/mix.pcap}
RUNS=${2:-3}
C2TAP=${C2TAP:-${CARGO_TARGET_DIR:-target}/release/c2tap}

die() { echo "bench-compressed.sh: $*" >&2; exit 1; }
[ -f "$PCAP" ] || die "$PCAP not found (make bench-pcap)"
[ -x "$C2TAP" ] || die "$C2TAP not found (cargo build --release)"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# wall CMD...: median wall seconds of RUNS runs of CMD, its stdout to /dev/null.
wall() {
    local i t0 t1 walls=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>/dev/null || die "failed: $*"
        t1=$(date +%s%N)
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')")
    done
    printf '%s\n' "${walls[@]}" | median
}

PLAIN=$(wall "$C2TAP" replay -o /dev/null "$PCAP")
SIZE=$(stat -c %s "$PCAP")

echo
echo "### compressed replay of $(basename "$PCAP") ($((SIZE / 1000000)) MB); medians of $RUNS runs"
echo
echo "| format | size MB | decompress s | c2tap s | plain s | ×decompress | ×floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for spec in "gzip gz zcat" "zstd zst zstdcat" "xz xz xzcat" "lz4 lz4 lz4cat"; do
    read -r tool ext cat <<<"$spec"
    if ! command -v "$tool" >/dev/null || ! command -v "$cat" >/dev/null; then
        echo "| $tool | - | not installed | - | - | - | - |"
        continue
    fi
    packed="$PCAP.$ext"
    if [ ! -f "$packed" ] || [ "$PCAP" -nt "$packed" ]; then
        "$tool" -c -q "$PCAP" >"$packed.tmp" && mv "$packed.tmp" "$packed"
    fi
    dec=$(wall "$cat" "$packed")
    rep=$(wall "$C2TAP" replay -o /dev/null "$packed")
    awk -v t="$tool" -v s="$(stat -c %s "$packed")" -v d="$dec" -v r="$rep" -v p="$PLAIN" 'BEGIN {
        floor = (d > p) ? d : p
        printf "| %s | %.0f | %.3f | %.3f | %.3f | %.2f | %.2f |\n", t, s / 1e6, d, r, p, r / d, r / floor
    }'
done
echo
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: expect noise)."
