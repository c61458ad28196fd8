# c2tap: build, demo, test, install. `make help` lists the targets.
#
# Every target installs what it needs first (scripts/install-deps.sh LEVEL; instant when it is
# all there). Tests build in debug (CI has 2 cores); only demo, bench and install build release.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
# shared/ sits beside the repository (CI, the lead's clone); /work/shared in a worktree.
SHARED ?= $(firstword $(wildcard ../shared /work/shared))
CORPUS := $(if $(SHARED),$(wildcard $(SHARED)/corpus/public))
PCAPS := $(sort $(wildcard pcaps/*.pcap pcaps/*.pcapng))
# Cargo's target folder: CARGO_TARGET_DIR when set, as cargo itself does.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE_BIN := $(TARGET_DIR)/release/c2tap
BENCH_PCAP := bench-data/mix.pcap
DENSE_PCAP := bench-data/dense.pcap
DEBUG_BIN := $(TARGET_DIR)/debug/c2tap
ALLOW := tests/conformance-allow.tsv
NEXTEST := $(shell command -v cargo-nextest 2>/dev/null)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# `make test CONFORMANCE=skip` leaves the conformance step out (say why in the commit).
CONFORMANCE ?= run

.PHONY: help demo test deps-test lint unit selftest conformance pcaps bench bench-pcap bench-live install fuzz

help:
	@echo "make demo         build release, replay pcaps/ printing every event, then the alerts and a summary;"
	@echo "                  writes the analyst's report of it to demo-report.html"
	@echo "make test         fmt, clippy, unit tests, conformance self-tests, conformance vs tshark"
	@echo "make pcaps        regenerate pcaps/ with real clients in a network namespace (root)"
	@echo "make bench        release build, bench-pcap, then c2tap vs tcpdump and Suricata 8 on both"
	@echo "                  profiles, and replay of the capture gzip/zstd/xz/lz4-compressed vs zcat/..."
	@echo "make bench-pcap   generate $(BENCH_PCAP) (~250 MB, long flows) and $(DENSE_PCAP) (~230 MB, short flows)"
	@echo "make bench-live   tcpreplay the capture on a veth pair into c2tap live (root)"
	@echo "cargo bench       criterion micro-benchmarks per stage (decode, dns, tls, ...)"
	@echo "make install      c2tap, rules, systemd units, /etc/c2tap/c2tap.toml, logrotate (PREFIX, DESTDIR)"
	@echo "parts of test:    lint selftest conformance unit"

demo:
	scripts/install-deps.sh demo
	$(CARGO) build --release
	@echo
	@echo "=== Every event: c2tap replay --events all --report demo-report.html pcaps/*.pcap"
	$(RELEASE_BIN) replay --events all --report demo-report.html $(PCAPS)
	@echo
	@echo "=== Alerts: c2tap replay pcaps/*.pcap (default --events alerts: events that matched a rule)"
	$(RELEASE_BIN) replay --summary $(PCAPS)
	@echo
	@echo "=== The analyst's report of every event: $(CURDIR)/demo-report.html (open it in a browser)"

# The unit tests come last so that their summary closes the output.
test: deps-test lint selftest conformance unit

deps-test:
	scripts/install-deps.sh test

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
ifneq ($(NEXTEST),)
	$(CARGO) nextest run
else
	@echo "cargo-nextest not found: using cargo test"
	$(CARGO) test
endif

# nextest does not run doc tests; the crate has none (examples live in tests/), so
# there is no doc-test step.

selftest:
	scripts/tests/run.sh

# The project's pcaps must agree with tshark exactly; the shared corpus (other people's
# captures, hard cases) to 99% with every accepted deviation in $(ALLOW).
conformance:
ifeq ($(CONFORMANCE),skip)
	@echo "conformance: SKIPPED (CONFORMANCE=skip)"
else
	$(CARGO) build --bin c2tap
	scripts/conformance --c2tap $(DEBUG_BIN) --allow $(ALLOW) --min-recall 100 --min-precision 100 pcaps
ifneq ($(CORPUS),)
	scripts/conformance --c2tap $(DEBUG_BIN) --allow $(ALLOW) $(CORPUS)
else
	@echo "conformance: shared corpus not found (../shared): skipped"
endif
endif

pcaps:
	scripts/install-deps.sh pcaps
	$(SUDO) pcaps/make.sh

bench: bench-pcap
	scripts/install-deps.sh bench
	$(CARGO) build --release --bin c2tap
	SHARED=$(SHARED) scripts/bench.sh $(BENCH_PCAP)
	SHARED=$(SHARED) scripts/bench.sh $(DENSE_PCAP)
	scripts/bench-compressed.sh $(BENCH_PCAP)

# Generated once; `rm bench-data/*.pcap` to regenerate (the same seed gives the same file).
bench-pcap: $(BENCH_PCAP) $(DENSE_PCAP)

$(BENCH_PCAP): examples/gen_bench_pcap/main.rs examples/gen_bench_pcap/mix.rs
	scripts/install-deps.sh demo
	scripts/gen-bench-pcap.sh $@

$(DENSE_PCAP): examples/gen_bench_pcap/main.rs examples/gen_bench_pcap/mix.rs
	scripts/install-deps.sh demo
	PROFILE=dense scripts/gen-bench-pcap.sh $@ 230

bench-live: bench-pcap
	scripts/install-deps.sh bench
	$(CARGO) build --release --bin c2tap
	$(SUDO) scripts/bench-live.sh $(BENCH_PCAP)

# Paths: the binary and rules under PREFIX, config and logrotate under SYSCONFDIR, units
# where systemd looks for PREFIX's units. The units and the example config are rewritten
# for the binary's and the config's real paths. Existing config files are kept (a changed
# example then lands beside them as *.new). INSTALL_BIN installs another build (tests use
# the debug one).
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR ?= $(PREFIX)/share/c2tap
INSTALL_BIN ?= $(RELEASE_BIN)
SUBST := sed -e 's|/usr/local/bin/c2tap|$(BINDIR)/c2tap|g' -e 's|/etc/c2tap/|$(SYSCONFDIR)/c2tap/|g' \
	-e 's|/usr/local/share/c2tap/|$(DATADIR)/|g'

# install_conf SRC DEST: install a config file, never over an existing one.
define install_conf
	@tmp=$$(mktemp) && $(SUBST) $(1) >"$$tmp" && \
	if [ ! -e "$(2)" ]; then \
	    install -D -m 0644 "$$tmp" "$(2)" && echo "installed $(2)"; \
	elif cmp -s "$$tmp" "$(2)"; then \
	    echo "$(2) is up to date"; \
	else \
	    install -m 0644 "$$tmp" "$(2).new" && echo "kept $(2) (yours); the new example is $(2).new"; \
	fi; rm -f "$$tmp"
endef

# Each fuzz target for FUZZ_SECONDS (default 600); FUZZ_TARGETS picks some (fuzz/run.sh).
fuzz:
	scripts/install-deps.sh fuzz
	fuzz/run.sh $(or $(FUZZ_SECONDS),600) $(FUZZ_TARGETS)

install:
	[ "$(INSTALL_BIN)" != "$(RELEASE_BIN)" ] || [ -x $(RELEASE_BIN) ] || $(CARGO) build --release
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/c2tap
	@if [ -d rules ]; then \
	    cd rules && find . -type f \( -name '*.yml' -o -name '*.yaml' \) -exec \
	        install -D -m 0644 {} "$(DESTDIR)$(DATADIR)/rules/{}" \; ; \
	    echo "rules installed to $(DESTDIR)$(DATADIR)/rules"; \
	else \
	    echo "no rules/ directory: no rules installed (the built-in set is in the binary)"; \
	fi
	install -d $(DESTDIR)$(UNITDIR)
	for u in systemd/c2tap.service systemd/c2tap@.service; do \
	    $(SUBST) "$$u" >"$(DESTDIR)$(UNITDIR)/$${u#systemd/}"; \
	    chmod 0644 "$(DESTDIR)$(UNITDIR)/$${u#systemd/}"; \
	done
	$(call install_conf,etc/c2tap.toml,$(DESTDIR)$(SYSCONFDIR)/c2tap/c2tap.toml)
	$(call install_conf,etc/logrotate.d/c2tap,$(DESTDIR)$(SYSCONFDIR)/logrotate.d/c2tap)
	@echo "units installed to $(DESTDIR)$(UNITDIR); then: systemctl daemon-reload &&" \
	    "systemctl enable --now c2tap.service (or c2tap@IFACE.service)"
