#!/usr/bin/env bash
# pcaps/make.sh -- regenerate the project's own captures from real clients and servers.
#
# usage: sudo pcaps/make.sh [CAPTURE...]       (default: every capture; names below)
#        OUT_DIR=DIR pcaps/make.sh ...          (write somewhere else than pcaps/)
#
# Everything runs inside a private network namespace (c2tap-pcaps) on its loopback: dnsmasq
# answers DNS on 127.0.0.1:53 from local records only (nothing is forwarded anywhere), dig,
# curl and glibc's stub resolver ask it, python3's http.server answers HTTP on 127.0.0.2:8080,
# and tcpdump records lo. Loopback's MTU is set to 1500 and its segmentation/receive
# offloads are switched off so the captures look like what a NIC would show (one packet per
# wire segment), not 64 KiB super-packets. Transmit checksums on lo cannot be switched off:
# TCP/UDP checksums in these files are not valid (checksum offload, as on most real captures).
#
# Each capture is one function (capture_NAME) that starts tcpdump, runs its clients, and stops
# it. Query IDs, source ports and times change from run to run; the set and order of questions
# does not (every dig is sent once: +tries=1, and dnsmasq answers locally at once).
# See pcaps/README.md for what each file holds and which names are expected to alert.
set -euo pipefail

NS=c2tap-pcaps
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${OUT_DIR:-$HERE}
CAPTURES=(dns_tunnels dns_benign dns_tcp http_curl)

log() { printf 'make.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, tcpdump): sudo $0"
for tool in ip ethtool dnsmasq tcpdump dig curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-deps.sh pcaps"
done

WORK=$(mktemp -d /tmp/c2tap-pcaps.XXXXXX)
DNSMASQ_PID=""
HTTP_PID=""
TCPDUMP_PID=""

cleanup() {
    set +e # clean up as much as possible, whatever fails
    local pid
    for pid in "$TCPDUMP_PID" "$HTTP_PID" "$DNSMASQ_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "/etc/netns/$NS" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }
# Servers started in the background call `ip netns exec` directly (not in_ns) so that $! is
# the server itself (ip execs it) and not a subshell a signal would not reach.

setup_ns() {
    # A namespace left behind by a killed run would make `ip netns add` fail.
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    in_ns ip link set lo mtu 1500 up
    in_ns ethtool -K lo tso off gso off gro off tx-udp-segmentation off >/dev/null
    # `ip netns exec` bind-mounts these over /etc/resolv.conf and /etc/hosts, so glibc's
    # stub resolver (curl, later browsers) asks our dnsmasq and nothing from the host leaks in.
    mkdir -p "/etc/netns/$NS"
    printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n' >"/etc/netns/$NS/resolv.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$NS/hosts"
}

# The zone. --address answers a domain and everything below it; --local makes dnsmasq the
# authority there, so a type it has no record for gets NOERROR/no data (not REFUSED). Names
# under no --local domain are REFUSED (there is no upstream), /example.org/ gives NXDOMAIN.
start_dnsmasq() {
    ip netns exec "$NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
        --listen-address=127.0.0.1 --bind-interfaces --port=53 \
        --user=root --group=root --pid-file="$WORK/dnsmasq.pid" \
        --log-queries --log-facility="$WORK/dnsmasq.log" \
        --address=/argotunnel.com/127.0.0.2 --local=/argotunnel.com/ \
        --address=/trycloudflare.com/127.0.0.2 --local=/trycloudflare.com/ \
        --address=/devtunnels.ms/127.0.0.3 --local=/devtunnels.ms/ \
        --address=/tunnels.api.visualstudio.com/127.0.0.3 --local=/tunnels.api.visualstudio.com/ \
        --address=/remoteassistance.support.services.microsoft.com/127.0.0.4 \
        --local=/remoteassistance.support.services.microsoft.com/ \
        --srv-host=_v2-origintunneld._tcp.argotunnel.com,region1.v2.argotunnel.com,7844 \
        --local=/example.com/ --host-record=example.com,127.0.0.10,2001:db8::10 \
        --txt-record=example.com,"v=spf1 -all" \
        --local=/wikipedia.org/ --local=/wikimedia.org/ \
        --host-record=dyna.wikimedia.org,127.0.0.20 --cname=www.wikipedia.org,dyna.wikimedia.org \
        --local=/debian.org/ --local=/fastlydns.net/ --host-record=debian.org,127.0.0.30 \
        --host-record=prod.debian.map.fastlydns.net,127.0.0.31 \
        --cname=debian.map.fastlydns.net,prod.debian.map.fastlydns.net \
        --cname=www.debian.org,debian.map.fastlydns.net \
        --local=/example.org/ \
        2>"$WORK/dnsmasq.err" &
    DNSMASQ_PID=$!
    for _ in $(seq 50); do
        in_ns dig @127.0.0.1 +tries=1 +time=1 +short example.com A >/dev/null 2>&1 && return
        kill -0 "$DNSMASQ_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/dnsmasq.err" >&2
    die "dnsmasq did not start"
}

start_http() {
    mkdir -p "$WORK/www"
    printf 'c2tap test page\n' >"$WORK/www/index.html"
    ip netns exec "$NS" python3 -m http.server --bind 127.0.0.2 --directory "$WORK/www" 8080 \
        >"$WORK/http.log" 2>&1 &
    HTTP_PID=$!
    for _ in $(seq 50); do
        in_ns curl -s -o /dev/null http://127.0.0.2:8080/ && return
        sleep 0.1
    done
    die "http.server did not start"
}

# capture_start NAME: record lo into $WORK/NAME.pcap until capture_stop.
capture_start() {
    CURRENT=$1
    : >"$WORK/tcpdump.err"
    # -Z root: Debian's tcpdump otherwise drops to its own user, which cannot write $WORK.
    # --immediate-mode: without it libpcap hands packets over in blocks once a second, and
    # the packets of the last block would be lost when tcpdump is stopped.
    ip netns exec "$NS" tcpdump -i lo -w "$WORK/$CURRENT.pcap" -s 0 -U -Z root --immediate-mode 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$WORK/tcpdump.err" && return
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/tcpdump.err" >&2
    die "tcpdump did not start"
}

capture_stop() {
    sleep 0.3 # let the last answers and FINs reach lo
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=""
    grep -E 'captured|dropped by kernel' "$WORK/tcpdump.err" | sed "s/^/make.sh: $CURRENT: /" >&2
    grep -qE '^0 packets dropped by kernel' "$WORK/tcpdump.err" || die "$CURRENT: tcpdump dropped packets"
    install -m 0644 "$WORK/$CURRENT.pcap" "$OUT_DIR/$CURRENT.pcap"
    [ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT_DIR/$CURRENT.pcap"
    log "wrote $OUT_DIR/$CURRENT.pcap ($(stat -c %s "$OUT_DIR/$CURRENT.pcap") bytes)"
}

# q ARGS...: one dig question (or several, with +keepopen), sent once.
q() { in_ns dig @127.0.0.1 +tries=1 +time=2 "$@" >>"$WORK/dig.log" 2>&1; }

# What cloudflared, VS Code dev tunnels and Quick Assist look up: every question alerts.
capture_dns_tunnels() {
    capture_start dns-tunnels
    q region1.v2.argotunnel.com A                        # cloudflared edge discovery
    q region2.v2.argotunnel.com AAAA                     # no AAAA record: NOERROR, no data
    q _v2-origintunneld._tcp.argotunnel.com SRV          # cloudflared's SRV lookup
    q update.argotunnel.com A                            # cloudflared's update check
    q api.trycloudflare.com A                            # quick tunnels
    q api.trycloudflare.com TYPE65                       # HTTPS record, as browsers ask
    q abc123-8080.usw2.devtunnels.ms A                   # VS Code dev tunnel
    q global.rel.tunnels.api.visualstudio.com A          # VS Code tunnel service
    q remoteassistance.support.services.microsoft.com A  # Quick Assist
    capture_stop
}

# Everyday lookups that must not alert, with the answers a resolver gives.
capture_dns_benign() {
    capture_start dns-benign
    q example.com A
    q example.com AAAA
    q example.com TXT
    q debian.org A
    q debian.org MX                 # NOERROR, no data
    q www.debian.org A              # CNAME chain of two
    q www.wikipedia.org A           # CNAME to dyna.wikimedia.org
    q www.wikipedia.org TYPE65      # HTTPS record: no data
    q no-such-host.example.org A    # NXDOMAIN
    q www.google.com A              # REFUSED (no upstream)
    q -x 127.0.0.10                 # PTR 10.0.0.127.in-addr.arpa
    capture_stop
}

# DNS over TCP: one question per connection, and two questions in one connection.
capture_dns_tcp() {
    capture_start dns-tcp
    q +tcp abc123-8080.usw2.devtunnels.ms A
    q +tcp +keepopen region1.v2.argotunnel.com A example.com A
    q +tcp _v2-origintunneld._tcp.argotunnel.com SRV
    q +tcp debian.org A
    capture_stop
}

# curl resolving through glibc's stub (A and AAAA in parallel) and fetching over HTTP.
capture_http_curl() {
    capture_start http-curl
    in_ns curl -sS -o /dev/null http://region1.v2.argotunnel.com:8080/
    capture_stop
}

main() {
    local want=("$@") c
    [ ${#want[@]} -gt 0 ] || want=("${CAPTURES[@]}")
    for c in "${want[@]}"; do
        c=${c//-/_}
        [[ " ${CAPTURES[*]} " == *" $c "* ]] || die "unknown capture '$c' (${CAPTURES[*]})"
    done
    log "dnsmasq $(dnsmasq --version | head -1 | awk '{print $3}'), $(dig -v 2>&1 | awk '{print $2}')," \
        "$(tcpdump --version | head -1), $(curl --version | head -1 | awk '{print $1, $2}'), kernel $(uname -r)"
    mkdir -p "$OUT_DIR"
    setup_ns
    start_dnsmasq
    start_http
    for c in "${want[@]}"; do "capture_${c//-/_}"; done
}

main "$@"
