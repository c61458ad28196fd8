#!/usr/bin/env bash
# install-deps.sh -- install what a c2tap make target needs on a Debian machine.
#
# usage: scripts/install-deps.sh [demo|test|pcaps|bench|fuzz]...   (default: demo)
#
#   demo   build c2tap and replay the project's pcaps: libpcap-dev pkg-config build-essential,
#          and libssl-dev zlib1g-dev for the Kafka output's librdkafka (built from the rdkafka
#          crate's bundled sources by its configure script: no cmake)
#   test   demo + what the tests and the conformance check run: tshark tcpdump dig iproute2
#          python3 dnsmasq curl openssl, systemd (systemd-analyze checks the units) logrotate
#          procps (/bin/kill, the units' ExecReload), and the compressors whose files replay
#          reads: gzip zstd xz-utils lz4 (tests/compressed_replay.rs makes its files with them),
#          redis-server (tests/output_redis.rs starts its own servers; it brings
#          redis-tools, whose redis-cli the README shows), chromium (tests/report.rs
#          renders the HTML report headless); and the tansu Kafka broker
#          (tests/output_kafka.rs) from crates.io into /usr/local/bin
#   pcaps  test + what pcaps/make.sh runs: ethtool chromium, iodine (iodine and iodined, for the
#          DNS tunnel capture; it brings net-tools, whose ifconfig it calls)
#   bench  demo + tcpdump (the speed reference in DESIGN section 6) tcpreplay hyperfine, time
#          (/usr/bin/time -v: peak RSS), the compressors (scripts/bench-compressed.sh compares
#          replay of compressed files with zcat, zstdcat, xzcat, lz4cat), and linux-perf when
#          the archive has it
#   fuzz   demo + python3 (fuzz/seeds.py), and cargo-fuzz from crates.io (`cargo install`;
#          libFuzzer is built with build-essential's C++ compiler)
#
# Each package is checked first (dpkg, or the command it provides), so a second run only
# checks. `apt-get update` runs once, and only when something is missing. Uses sudo only when
# not root. Never asks a question (tshark's setuid debconf question is preseeded to "no").
set -euo pipefail

# A requirement is "PKG[|ALT...][@CMD]": satisfied when any of the packages is installed or
# CMD is on PATH (dig comes from dnsutils or bind9-dnsutils, python3 may be a pyenv one);
# when missing, the first package the archive can install is installed.
DEMO=(libpcap-dev pkg-config build-essential libssl-dev zlib1g-dev)
TEST=(tshark@tshark tcpdump@tcpdump "dnsutils|bind9-dnsutils@dig" iproute2@ip python3@python3
      "dnsmasq-base|dnsmasq@dnsmasq" curl@curl openssl@openssl systemd@systemd-analyze
      logrotate@logrotate procps@/bin/kill gzip@gzip zstd@zstd xz-utils@xz lz4@lz4
      redis-server@redis-server chromium@chromium)
PCAPS=(ethtool@ethtool chromium@chromium iodine@iodined)
# The bench also runs the peer, ../shared/peer/suricata (Suricata 8.0.6, built elsewhere):
# its runtime libraries.
BENCH=(tcpdump@tcpdump tcpreplay@tcpreplay hyperfine@hyperfine time gzip@gzip zstd@zstd
    xz-utils@xz lz4@lz4
    libpcap0.8 libpcre2-8-0 libyaml-0-2 libjansson4 libmagic1 libcap-ng0 liblz4-1 zlib1g)
FUZZ=(python3@python3)
# Installed only when the archive carries it (not every Debian release or architecture does).
BENCH_OPTIONAL=(linux-perf@perf)

log() { printf 'install-deps: %s\n' "$*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "not root and no sudo: cannot install"; exit 1; }
    SUDO=(sudo)
fi
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# satisfied REQ: 0 when the requirement is met already.
satisfied() {
    local req=$1 pkgs cmd="" p
    pkgs=${req%%@*}
    [[ $req == *@* ]] && cmd=${req#*@}
    [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1 && return 0
    IFS='|' read -r -a alts <<<"$pkgs"
    for p in "${alts[@]}"; do installed "$p" && return 0; done
    return 1
}

UPDATED=0
apt_update_once() {
    if [ "$UPDATED" -eq 0 ]; then
        log "apt-get update"
        "${APT[@]}" update >/dev/null
        UPDATED=1
    fi
}

# candidate PKG: 0 when the archive can install PKG.
candidate() {
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

# pick REQ: the package to install for an unmet requirement ("" when none can be had).
pick() {
    local pkgs=${1%%@*} p
    IFS='|' read -r -a alts <<<"$pkgs"
    for p in "${alts[@]}"; do candidate "$p" && { echo "$p"; return; }; done
    echo ""
}

WANT=()
OPTIONAL=()
for level in "${@:-demo}"; do
    case $level in
        demo) WANT+=("${DEMO[@]}") ;;
        test) WANT+=("${DEMO[@]}" "${TEST[@]}") ;;
        pcaps) WANT+=("${DEMO[@]}" "${TEST[@]}" "${PCAPS[@]}") ;;
        bench) WANT+=("${DEMO[@]}" "${BENCH[@]}"); OPTIONAL+=("${BENCH_OPTIONAL[@]}") ;;
        fuzz) WANT+=("${DEMO[@]}" "${FUZZ[@]}") ;;
        *) log "unknown level '$level' (demo|test|pcaps|bench|fuzz)"; exit 2 ;;
    esac
done

MISSING=()
for req in "${WANT[@]}"; do satisfied "$req" || MISSING+=("$req"); done
MISSING_OPT=()
for req in "${OPTIONAL[@]}"; do satisfied "$req" || MISSING_OPT+=("$req"); done

if [ ${#MISSING[@]} -gt 0 ] || [ ${#MISSING_OPT[@]} -gt 0 ]; then
    apt_update_once
    PKGS=()
    for req in "${MISSING[@]}"; do
        p=$(pick "$req")
        if [ -z "$p" ]; then log "no package in the archive for '$req'"; exit 1; fi
        PKGS+=("$p")
    done
    for req in "${MISSING_OPT[@]}"; do
        p=$(pick "$req")
        if [ -n "$p" ]; then PKGS+=("$p"); else log "optional '$req' not in the archive, skipped"; fi
    done
    if [ ${#PKGS[@]} -gt 0 ]; then
        # tshark's wireshark-common asks whether non-root users may capture; answer no.
        echo 'wireshark-common wireshark-common/install-setuid boolean false' |
            "${SUDO[@]}" debconf-set-selections
        # Deduplicate (levels overlap) while keeping the order.
        mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" | awk '!seen[$0]++')
        log "installing: ${PKGS[*]}"
        "${APT[@]}" install --no-install-recommends "${PKGS[@]}" >/dev/null
    fi
fi

# cargo-fuzz is a cargo subcommand, not a Debian package.
for level in "${@:-demo}"; do
    if [ "$level" = fuzz ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
        log "cargo install cargo-fuzz"
        cargo install --locked cargo-fuzz
    fi
done

# tansu, the Kafka-compatible broker tests/output_kafka.rs starts (Debian has no Kafka broker):
# built from its crates.io source (Apache-2.0, tansu-io) with the SQLite storage engine, which
# keeps the data across the broker restart the fault test makes. A pinned version, --locked to
# its own Cargo.lock; built once, in a temporary folder, into /usr/local/bin. A debug build
# without debug info: 6 minutes on 2 cores where an optimized one takes twice that (CI has 20
# minutes for everything), and a test broker that handles a few thousand messages needs no
# optimizer (tests/output_kafka.rs: 45 s either way).
TANSU_VERSION=0.6.0
for level in "${@:-demo}"; do
    if [ "$level" = test ] && ! [ -x /usr/local/bin/tansu ]; then
        log "cargo install tansu $TANSU_VERSION (the Kafka tests' broker; about 6 minutes, once)"
        "${SUDO[@]}" env PATH="$PATH" CARGO_PROFILE_DEV_DEBUG=0 cargo install --locked --debug \
            --root /usr/local --version "$TANSU_VERSION" tansu --no-default-features --features libsql
    fi
done

# The test target runs cargo-nextest when it is there and falls back to `cargo test`; say which.
for level in "${@:-demo}"; do
    if [ "$level" = test ] && ! command -v cargo-nextest >/dev/null 2>&1; then
        log "cargo-nextest not found: make test will use cargo test"
    fi
done
log "ok (${*:-demo})"
