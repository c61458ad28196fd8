#!/usr/bin/env bash
# run.sh -- self-tests of scripts/conformance, with scripts/tests/fake-c2tap standing in for c2tap.
#
# usage: scripts/tests/run.sh        (needs python3 and tshark, and shared/corpus for some cases)
# Ends with "N passed, M failed"; exits 1 when a case failed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CONF=$REPO/scripts/conformance
FAKE=$HERE/fake-c2tap
SHARED=""
for d in "${C2TAP_SHARED:-}" "$REPO/../shared" /work/shared; do
    if [ -n "$d" ] && [ -f "$d/corpus/oracle.sh" ]; then SHARED=$(cd "$d" && pwd); break; fi
done
[ -n "$SHARED" ] || { echo "run.sh: shared/corpus/oracle.sh not found"; exit 1; }
command -v tshark >/dev/null || { echo "run.sh: tshark not found (scripts/install-deps.sh test)"; exit 1; }

TMP=$(mktemp -d /tmp/c2tap-conformance-tests.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

# Four of the project's pcaps with the oracle's output beside them, made once: most cases then
# read NAME.expected.jsonl (fast) and one case goes through the oracle itself. A fixed set (28
# observations), so that the counts and percentages below do not move when pcaps/ grows.
mkdir -p "$TMP/own"
for p in "$REPO"/pcaps/{dns-benign,dns-tcp,dns-tunnels,http-curl}.pcap; do
    cp "$p" "$TMP/own/"
    bash "$SHARED/corpus/oracle.sh" "$p" "$TMP/own/$(basename "${p%.pcap}").expected.jsonl" 2>/dev/null
done

# check NAME WANT_EXIT [GREP...] -- COMMAND...: run COMMAND, want its exit status and every
# GREP (fixed strings) in its output.
check() {
    local name=$1 want=$2 got=0 out=$TMP/out.txt
    shift 2
    local greps=()
    while [ "$1" != -- ]; do greps+=("$1"); shift; done
    shift
    "$@" >"$out" 2>&1 || got=$?
    local ok=1 g
    [ "$got" -eq "$want" ] || ok=0
    for g in "${greps[@]}"; do grep -qF -- "$g" "$out" || { ok=0; echo "    missing: $g"; }; done
    if [ $ok -eq 1 ]; then
        PASSED=$((PASSED + 1)); echo "ok   $name"
    else
        FAILED=$((FAILED + 1)); echo "FAIL $name (exit $got, want $want)"; sed 's/^/    | /' "$out" | tail -25
    fi
}

STRICT=(--min-recall 100 --min-precision 100)
C=("$CONF" --c2tap "$FAKE")

check identity_through_oracle 0 "recall 100.00%" "precision 100.00%" "conformance: PASS" -- \
    "${C[@]}" "${STRICT[@]}" "$REPO/pcaps"
check identity_expected_files 0 "conformance: PASS" "found     28" -- "${C[@]}" "${STRICT[@]}" "$TMP/own"
if [ -d "$SHARED/corpus/public" ]; then
    # Every kind, IPv6, odd query types and names, absent User-Agents: all must round-trip.
    check identity_shared_corpus 0 "conformance: PASS" "TOTAL quic_sni" -- \
        "${C[@]}" "${STRICT[@]}" "$SHARED/corpus/public"
fi
check drop_one_fails 1 "MISS  dns-benign.pcap dns_query" "missed     1" "conformance: FAIL" -- \
    env FAKE_DROP=0 FAKE_ONLY=dns-benign.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
printf 'file\tkind\tkey\treason\n# a comment\ndns-benign.pcap\tdns_query:miss\t*qname="example.com" qtype=1\ttest reason\n' >"$TMP/allow.tsv"
check drop_one_allow_listed 0 "(1 allowed)" "conformance: PASS" -- \
    env FAKE_DROP=0 FAKE_ONLY=dns-benign.pcap "${C[@]}" "${STRICT[@]}" --allow "$TMP/allow.tsv" "$TMP/own"
printf 'dns-tcp.pcap\tdns_query:extra\t*\twrong file and side\n' >"$TMP/allow2.tsv"
check allow_list_wrong_side 1 "conformance: FAIL" "allow-list line 1 matched nothing" -- \
    env FAKE_DROP=0 FAKE_ONLY=dns-benign.pcap "${C[@]}" "${STRICT[@]}" --allow "$TMP/allow2.tsv" "$TMP/own"
check drop_within_threshold 0 "conformance: PASS" "recall  96.43%" -- \
    env FAKE_DROP=0 FAKE_ONLY=dns-benign.pcap "${C[@]}" --min-recall 95 "$TMP/own"
check extra_fails_precision 1 "EXTRA dns-benign.pcap" "extra.c2tap.invalid" "precision 96.55%" -- \
    env FAKE_EXTRA=1 FAKE_ONLY=dns-benign.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
check mdns_is_ignored 0 "ignored: 4 c2tap DNS events" "conformance: PASS" -- \
    env FAKE_MDNS=1 "${C[@]}" "${STRICT[@]}" "$TMP/own"
check changed_value_hint 1 "c2tap has instead" "region1.v2.argotunnel.com-changed" -- \
    env FAKE_CHANGE=1 FAKE_ONLY=dns-tunnels.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
# The third observation of http-curl.pcap is its HTTP request.
check kinds_filter_excludes 0 "conformance: PASS" -- \
    env FAKE_DROP=2 FAKE_ONLY=http-curl.pcap "${C[@]}" "${STRICT[@]}" --kinds dns "$TMP/own"
check kinds_filter_includes 1 "MISS  http-curl.pcap http_request" -- \
    env FAKE_DROP=2 FAKE_ONLY=http-curl.pcap "${C[@]}" "${STRICT[@]}" --kinds http,dns "$TMP/own"
check panic_fails_file 1 "ERROR c2tap exited 101" "1 file(s) could not be checked" -- \
    env FAKE_EXIT=101 FAKE_ONLY=dns-tcp.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
check exit_1_still_compared 0 "c2tap exited 1 (output still compared)" "conformance: PASS" -- \
    env FAKE_EXIT=1 FAKE_ONLY=dns-tcp.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
check undecoded_is_summed 0 "undecoded: 7 of 100 packets (7.00%): not_ip 7" \
    "dns-tcp.pcap" "conformance: PASS" -- \
    env FAKE_UNDECODED=7 FAKE_ONLY=dns-tcp.pcap "${C[@]}" "${STRICT[@]}" "$TMP/own"
check missing_c2tap_is_usage_error 2 "c2tap not found" -- \
    "$CONF" --c2tap "$TMP/no-such-c2tap" "$TMP/own"
check bad_kind_is_usage_error 2 "unknown kind" -- "${C[@]}" --kinds dns,smtp "$TMP/own"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
