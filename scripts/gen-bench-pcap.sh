#!/usr/bin/env bash
# gen-bench-pcap.sh -- write the benchmark capture (deterministic: same seed, same bytes).
#
# usage: [PROFILE=long|dense] scripts/gen-bench-pcap.sh [OUT=bench-data/mix.pcap] [SIZE_MB=250] [SEED=1]
#
# The generator is examples/gen_bench_pcap (Rust, so QUIC Initials are sealed with the
# real RFC 9001 keys by c2tap::proto::quic::seal_client_initial).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-data/mix.pcap}
mkdir -p "$(dirname "$OUT")"
exec ${CARGO:-cargo} run --quiet --release --example gen_bench_pcap -- \
    --profile "${PROFILE:-long}" "$OUT" "${2:-250}" "${3:-1}"
