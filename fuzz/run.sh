#!/usr/bin/env bash
# run.sh -- build the fuzz targets and run each for a set time (`make fuzz`).
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]      (default: 600 s, every target)
#
# Works on stable Rust: cargo-fuzz's nightly flags are allowed with RUSTC_BOOTSTRAP=1,
# and --sanitizer none (the code under test is safe Rust; AddressSanitizer would only
# halve the speed). Debug assertions and overflow checks are on. Seeds come from
# pcaps/, the shared corpus when present, and the rule sets (fuzz/seeds.py); the
# corpus grows in fuzz/corpus/TARGET, findings land in fuzz/artifacts/TARGET, and a
# summary line per target (executions, corpus size, findings) ends the run.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
shift || true
export RUSTC_BOOTSTRAP=1
FUZZ=(cargo fuzz)
mapfile -t ALL < <("${FUZZ[@]}" list)
TARGETS=("${@:-${ALL[@]}}")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

SHARED=$(for d in ../shared /work/shared; do [ -d "$d/corpus/public" ] && { echo "$d"; break; }; done)
CAPTURES=(pcaps/*.pcap pcaps/*.pcapng)
RULES=(rules/*.yml)
if [ -n "$SHARED" ]; then
    CAPTURES+=("$SHARED"/corpus/public/*.pcap "$SHARED"/corpus/public/*.pcapng)
    mapfile -t -O ${#RULES[@]} RULES < <(find "$SHARED/sigma/rules/network" -name '*.yml' 2>/dev/null | sort | head -100)
fi
python3 fuzz/seeds.py fuzz/corpus "${CAPTURES[@]}" --rules "${RULES[@]}"

"${FUZZ[@]}" build --sanitizer none
LOGS=fuzz/logs
mkdir -p "$LOGS"
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    echo "fuzz: $t for ${SECONDS_EACH}s (log $LOGS/$t.log)"
    # -max_len: the seeds' cap; -rss_limit_mb: a target holding more than this is a
    # finding (the sensor's budget is 256 MiB for everything); -timeout: one input.
    if ! "${FUZZ[@]}" run --sanitizer none "$t" -- -max_total_time="$SECONDS_EACH" \
        -max_len=16384 -rss_limit_mb=512 -timeout=10 -print_final_stats=1 \
        >"$LOGS/$t.log" 2>&1; then
        status=1
    fi
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$LOGS/$t.log" | tail -1)
    corpus=$(ls "fuzz/corpus/$t" | wc -l)
    found=$(ls "fuzz/artifacts/$t" | wc -l)
    echo "fuzz: $t: ${execs:-?} executions in ${SECONDS_EACH}s, corpus $corpus, findings $found"
done
exit $status
