#!/usr/bin/env bash
# bench-live.sh -- live capture under load: tcpreplay sends the benchmark capture into one
# end of a veth pair inside a private network namespace while `c2tap live` captures the
# other end with default settings. Needs root, ip, tcpreplay.
#
# usage: scripts/bench-live.sh [PCAP] [RATES...]
#        (default bench-data/mix.pcap; rates in packets/s, "top" for --topspeed;
#         default: 100000 250000 500000 750000 1000000 top)
#
# For each rate, one row: packets tcpreplay sent (offered), packets c2tap counted
# (captured), drops in the kernel ring (pcap stats: kernel_drops + interface_drops) and
# in c2tap (queue_drops: batches a full worker queue refused), from c2tap's final
# SensorState. The capture is looped so each rate lasts about DURATION seconds.
# Traffic never leaves the namespace (nothing routes it: it reaches no address).
set -euo pipefail

cd "$(dirname "$0")/.."
PCAP=${1:-bench-data/mix.pcap}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(100000 250000 500000 750000 1000000 top)
C2TAP=$(realpath "${C2TAP:-target/release/c2tap}")
DURATION=${DURATION:-3}
NS=c2tap-bench-$$

die() { echo "bench-live.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, raw sockets)"
[ -f "$PCAP" ] || die "$PCAP not found (make bench-pcap)"
[ -x "$C2TAP" ] || die "$C2TAP not found (cargo build --release)"
command -v tcpreplay >/dev/null || die "tcpreplay not found (scripts/install-deps.sh bench)"

TMP=$(mktemp -d)
C2PID=""
cleanup() {
    [ -n "$C2PID" ] && kill "$C2PID" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS"
IN=(ip netns exec "$NS")
"${IN[@]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
"${IN[@]}" ip link add vsend type veth peer name vcap
# Jumbo MTU: the capture's frames (up to 1518 bytes with a VLAN tag) must pass unchanged.
"${IN[@]}" ip link set vsend mtu 9000 up
"${IN[@]}" ip link set vcap mtu 9000 up
"${IN[@]}" ip link set lo up

stop=$("$C2TAP" replay --workers 1 "$PCAP" | grep '"State":"stop"' | tail -1)
PACKETS=$(sed -E 's/.*"packets":([0-9]+).*/\1/' <<<"$stop")
[[ $PACKETS =~ ^[0-9]+$ ]] || die "could not count the packets of $PCAP"

field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/" <<<"$2"; }

echo "### c2tap live on a veth pair, $(basename "$PCAP") ($PACKETS packets) looped ~${DURATION}s per rate"
echo
echo "| rate asked | rate reached | offered | captured | kernel drops | c2tap queue drops | lost % |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for rate in "${RATES[@]}"; do
    if [ "$rate" = top ]; then
        loops=$(( (DURATION * 1000000 + PACKETS - 1) / PACKETS ))
        speed=(--topspeed)
    else
        loops=$(( (DURATION * rate + PACKETS - 1) / PACKETS ))
        speed=(--pps="$rate")
    fi
    (( loops >= 1 )) || loops=1
    out="$TMP/events-$rate.jsonl"
    "${IN[@]}" "$C2TAP" live -i vcap --events alerts -o "$out" 2>"$TMP/c2tap.err" &
    C2PID=$!
    # Wait for the start line: the capture is open.
    for _ in $(seq 100); do
        grep -q '"State":"start"' "$out" 2>/dev/null && break
        sleep 0.1
    done
    "${IN[@]}" tcpreplay -q -i vsend "${speed[@]}" --loop="$loops" "$PCAP" >"$TMP/tcpreplay.txt" 2>&1 || true
    sleep 1
    kill -INT "$C2PID"
    wait "$C2PID" || true
    C2PID=""
    stop=$(grep '"State":"stop"' "$out" | tail -1)
    [ -n "$stop" ] || die "no final SensorState from c2tap: $(tail -3 "$TMP/c2tap.err")"
    sent=$(awk '/Actual:/ {print $2; exit}' "$TMP/tcpreplay.txt")
    reached=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /pps/) {print int($(i-1)); exit}}' "$TMP/tcpreplay.txt")
    captured=$(field packets "$stop")
    kdrops=$(( $(field kernel_drops "$stop") + $(field interface_drops "$stop") ))
    qdrops=$(field queue_drops "$stop")
    awk -v r="$rate" -v re="${reached:-?}" -v s="${sent:-0}" -v c="$captured" -v k="$kdrops" -v q="$qdrops" 'BEGIN {
        lost = (s > 0) ? 100 * (s - c + q) / s : 0
        if (lost < 0) lost = 0
        printf "| %s | %s | %d | %d | %d | %d | %.2f |\n", r, re, s, c, k, q, lost
    }'
done
echo
echo "captured = frames c2tap read from libpcap (kernel drops are frames the ring had no room"
echo "for); lost % = (offered - captured + queue drops) / offered. Machine: $(nproc) cores," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) (shared: tcpreplay, c2tap and other jobs compete)."
