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
RELEASE_BIN := target/release/c2tap
DEBUG_BIN := target/debug/c2tap
ALLOW := tests/conformance-allow.tsv
NEXTEST := $(shell command -v cargo-nextest 2>/dev/null)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# `make test CONFORMANCE=skip` leaves the conformance step out (say why in the commit).
CONFORMANCE ?= run

.PHONY: help demo test deps-test lint unit doctest selftest conformance pcaps bench install fuzz

help:
	@echo "make demo         build release, replay pcaps/ printing every event, then the alerts"
	@echo "make test         fmt, clippy, unit tests, conformance self-tests, conformance vs tshark"
	@echo "make pcaps        regenerate pcaps/ with real clients in a network namespace (root)"
	@echo "make bench        cargo bench"
	@echo "make install      c2tap to $(PREFIX)/bin, rules to $(PREFIX)/share/c2tap/rules"
	@echo "parts of test:    lint unit doctest selftest conformance"

demo:
	scripts/install-deps.sh demo
	$(CARGO) build --release
	@echo
	@echo "=== Every event: c2tap replay --events all pcaps/*.pcap"
	$(RELEASE_BIN) replay --events all $(PCAPS)
	@echo
	@echo "=== Alerts: c2tap replay pcaps/*.pcap (default --events alerts: events that matched a rule)"
	$(RELEASE_BIN) replay $(PCAPS)

test: deps-test lint unit doctest selftest conformance

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

# nextest does not run doc tests.
doctest:
ifneq ($(NEXTEST),)
	$(CARGO) test --doc
endif

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

bench:
	scripts/install-deps.sh bench
	$(CARGO) bench

# Each fuzz target for FUZZ_SECONDS (default 600); FUZZ_TARGETS picks some (fuzz/run.sh).
fuzz:
	scripts/install-deps.sh fuzz
	fuzz/run.sh $(or $(FUZZ_SECONDS),600) $(FUZZ_TARGETS)

install:
	[ -x $(RELEASE_BIN) ] || $(CARGO) build --release
	install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/c2tap
	@if [ -d rules ]; then \
	    cd rules && find . -type f \( -name '*.yml' -o -name '*.yaml' \) -exec \
	        install -D -m 0644 {} "$(DESTDIR)$(PREFIX)/share/c2tap/rules/{}" \; ; \
	    echo "rules installed to $(DESTDIR)$(PREFIX)/share/c2tap/rules"; \
	else \
	    echo "no rules/ directory: no rules installed (the built-in set is in the binary)"; \
	fi
