#!/usr/bin/env bash
# bench.sh -- one table, one file, one run: c2tap replay against the cost of reading the
# file (tcpdump) and against Suricata 8 when it is installed (DESIGN section 6).
#
# usage: scripts/bench.sh [PCAP] [RUNS]     (default bench-data/mix.pcap, 5 runs)
#        SHARED=DIR: where peer/suricata-replay is (default ../shared)
#
# Every command runs RUNS times, in turns (run 1 of each, then run 2 of each, ...); each
# column is the median over the runs:
#   wall       elapsed time (nanosecond clock around the command)
#   pkts/s     packets / wall
#   Gbit/s     captured frame bytes * 8 / wall
#   CPU ns/pkt (user + sys time of the whole process) / packets. For c2tap that is
#              the capture thread, the workers and the writer together.
#   worker ns/pkt  c2tap only: the parser workers' CPU time (the `worker_cpu_us` counter
#              of the final SensorState) / packets: the parse cost DESIGN section 6 caps.
#   events/s   c2tap only: events produced (the `events` counter) / wall
#   peak RSS   maximum resident set size (/usr/bin/time, as -v reports it)
#   ×tcpdump   wall / tcpdump's wall (below 1: faster than just reading the file)
#   ×Suricata  Suricata's wall / wall (how many times faster than Suricata)
# The machine is shared: other jobs run beside these, so expect noise of 10-30%; the
# load average is printed with the table. The analytics on/off pair runs ANALYTICS_PAIRS
# times per turn (default 3): a 10% budget needs more samples than that noise allows in 5.
set -euo pipefail

cd "$(dirname "$0")/.."
PCAP=${1:-bench-data/mix.pcap}
RUNS=${2:-5}
ANALYTICS_PAIRS=${ANALYTICS_PAIRS:-3}
C2TAP=${C2TAP:-${CARGO_TARGET_DIR:-target}/release/c2tap}
TIME=/usr/bin/time

die() { echo "bench.sh: $*" >&2; exit 1; }
[ -f "$PCAP" ] || die "$PCAP not found (make bench-pcap)"
[ -x "$C2TAP" ] || die "$C2TAP not found (cargo build --release)"
[ -x "$TIME" ] || die "$TIME not found (apt-get install time)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Packets and captured bytes, from c2tap's final SensorState.
stop=$("$C2TAP" replay --events alerts --workers 1 "$PCAP" | grep '"State":"stop"' | tail -1)
PACKETS=$(sed -E 's/.*"packets":([0-9]+).*/\1/' <<<"$stop")
BYTES=$(sed -E 's/.*"bytes":([0-9]+).*/\1/' <<<"$stop")
[[ $PACKETS =~ ^[0-9]+$ && $PACKETS -gt 0 ]] || die "could not count packets: $stop"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The commands, registered by `bench NAME CMD...` and then run in turns: run 1 of every
# command, then run 2 of every command, ... (alternating, so that a noisy minute on the
# shared machine lands on all of them rather than on one). An argument @OUT@ is replaced
# by a fresh output file, whose final SensorState gives the workers' CPU time.
declare -A CMDS SAMPLES RES
ORDER=()
bench() {
    local name=$1; shift
    CMDS[$name]=$(printf '%q ' "$@")
    SAMPLES[$name]=""
    ORDER+=("$name")
}

# sample NAME: one run of NAME's command; appends "wall cpu rss_kib worker_cpu_s events".
sample() {
    local name=$1 cmd
    eval "cmd=(${CMDS[$name]})"
    rm -f "$TMP/out.jsonl"
    cmd=("${cmd[@]//@OUT@/$TMP/out.jsonl}")
    # Wall time from the nanosecond clock (time's %e has 10 ms steps: 5% of a run).
    t0=$(date +%s%N)
    "$TIME" -f '%e %U %S %M' -o "$TMP/t" "${cmd[@]}" >/dev/null 2>"$TMP/err" ||
        die "$name failed: $(tail -3 "$TMP/err")"
    t1=$(date +%s%N)
    read -r _ user sys rss < <(tail -1 "$TMP/t")
    local wall cpu worker="-" events="-"
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')
    if [ -f "$TMP/out.jsonl" ]; then
        stop=$(grep '"State":"stop"' "$TMP/out.jsonl" | tail -1)
        us=$(sed -E 's/.*"worker_cpu_us":([0-9]+).*/\1/' <<<"$stop")
        [[ $us =~ ^[0-9]+$ ]] || die "$name: no worker_cpu_us in its final SensorState"
        worker=$(awk -v u="$us" 'BEGIN {print u / 1e6}')
        events=$(sed -E 's/.*"events":([0-9]+).*/\1/' <<<"$stop")
        [[ $events =~ ^[0-9]+$ ]] || die "$name: no events counter in its final SensorState"
    fi
    SAMPLES[$name]+="$wall $cpu $rss $worker $events"$'\n'
}

# column N of NAME's samples, median.
column_median() { awk -v c="$2" 'NF {print $c}' <<<"${SAMPLES[$1]}" | median; }

DEFAULT_WORKERS=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
ONE="c2tap replay, 1 worker"
ONE_OFF="c2tap replay, 1 worker, --no-analytics"
bench "$ONE" "$C2TAP" replay --events all -o @OUT@ --workers 1 "$PCAP"
bench "$ONE_OFF" "$C2TAP" replay --events all -o @OUT@ --workers 1 --no-analytics "$PCAP"
bench "c2tap replay, default ($DEFAULT_WORKERS worker(s))" "$C2TAP" replay --events all -o @OUT@ "$PCAP"
if [ "$DEFAULT_WORKERS" -ne 2 ]; then
    bench "c2tap replay, 2 workers" "$C2TAP" replay --events all -o @OUT@ --workers 2 "$PCAP"
fi
bench "c2tap replay, default, --events alerts" "$C2TAP" replay -o @OUT@ "$PCAP"
command -v tcpdump >/dev/null || die "tcpdump not found (scripts/install-deps.sh bench)"
bench "tcpdump -r FILE -w /dev/null" tcpdump -r "$PCAP" -w /dev/null

# The peer: Suricata 8 in the same run, one thread (DESIGN section 6). First the build
# beside the repository (../shared/peer/suricata-replay: eve.json with DNS, HTTP, TLS
# with JA3/JA4 and QUIC records, no rules), else a suricata 8 on the PATH.
SURICATA_NOTE=""
PEER=${SURICATA_REPLAY:-${SHARED:-../shared}/peer/suricata-replay}
if [ -x "$PEER" ] && "$(dirname "$PEER")/suricata" -V >/dev/null 2>&1; then
    ver=$("$(dirname "$PEER")/suricata" -V 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
    bench "Suricata $ver --runmode single" "$PEER" "$PCAP" "$TMP/suricata" single
elif [ -x "$PEER" ]; then
    SURICATA_NOTE="Suricata: $PEER does not start (runtime libraries: scripts/install-deps.sh bench): not measured."
elif command -v suricata >/dev/null; then
    ver=$(suricata -V 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
    if [ "${ver%%.*}" -ge 8 ] 2>/dev/null; then
        bench "Suricata $ver --runmode single" suricata --runmode single -k none -r "$PCAP" \
            -l "$TMP" --set outputs.1.eve-log.enabled=yes
    else
        SURICATA_NOTE="Suricata $ver found: older than 8, not measured."
    fi
else
    SURICATA_NOTE="Suricata: neither $PEER nor a suricata 8 on the PATH (Debian \
$(cat /etc/debian_version 2>/dev/null) carries none): not measured."
fi

for ((i = 0; i < RUNS; i++)); do
    for n in "${ORDER[@]}"; do sample "$n"; done
    for ((j = 1; j < ANALYTICS_PAIRS; j++)); do
        sample "$ONE"
        sample "$ONE_OFF"
    done
done
for n in "${ORDER[@]}"; do
    RES[$n]="$(column_median "$n" 1) $(column_median "$n" 2) $(column_median "$n" 3) $(column_median "$n" 4) $(column_median "$n" 5)"
done

read -r TCPDUMP_WALL _ <<<"${RES["tcpdump -r FILE -w /dev/null"]}"
SURI_WALL=""
for n in "${ORDER[@]}"; do [[ $n == Suricata* ]] && read -r SURI_WALL _ <<<"${RES[$n]}"; done

echo
echo "### $(basename "$PCAP"): $PACKETS packets, $BYTES bytes of frames; medians of $RUNS runs"
echo
echo "| command | wall s | pkts/s | Gbit/s | CPU ns/pkt | worker ns/pkt | events/s | peak RSS MiB | ×tcpdump | ×Suricata |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${ORDER[@]}"; do
    read -r wall cpu rss worker events <<<"${RES[$n]}"
    awk -v n="$n" -v w="$wall" -v c="$cpu" -v r="$rss" -v k="$worker" -v e="$events" \
        -v p="$PACKETS" -v b="$BYTES" -v t="$TCPDUMP_WALL" -v s="$SURI_WALL" 'BEGIN {
        w = (w > 0) ? w : 0.005
        sx = (s == "") ? "-" : sprintf("%.1f", s / w)
        kx = (k == "-") ? "-" : sprintf("%.0f", k * 1e9 / p)
        ex = (e == "-") ? "-" : sprintf("%.0f", e / w)
        printf "| %s | %.3f | %.0f | %.2f | %.0f | %s | %s | %.0f | %.2f | %s |\n",
            n, w, p / w, b * 8 / w / 1e9, c * 1e9 / p, kx, ex, r / 1024, w / t, sx
    }'
done
echo
[ -n "$SURICATA_NOTE" ] && echo "$SURICATA_NOTE"
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
    "$(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)" \
    "(shared machine: expect noise)."
# Behavioural analytics' cost (DESIGN section 6: at most 10% of worker CPU): the median
# of the per-turn ratios, so that each on/off pair ran under the same load.
ratios=$(paste <(awk 'NF {print $4}' <<<"${SAMPLES[$ONE]}") <(awk 'NF {print $4}' <<<"${SAMPLES[$ONE_OFF]}") |
    awk '$2 > 0 {printf "%.4f\n", $1 / $2}')
echo "Analytics cost: worker CPU with analytics / without, 1 worker, --events all:" \
    "$(median <<<"$ratios" | awk '{printf "%+.1f%%", ($1 - 1) * 100}') (median of $((RUNS * ANALYTICS_PAIRS)) alternating pairs:" \
    "$(tr '\n' ' ' <<<"$ratios"))"
echo "CPU ns/pkt is the whole process's user+sys time / packets (capture, workers, writer);"
echo "worker ns/pkt is the parser workers' CPU time / packets (SensorState worker_cpu_us)."
