# SPDX-License-Identifier: MIT
#
# xlmig top-level build.  One non-recursive make: every part of the tree adds
# its programs, tests, fuzzers, benchmarks and Debian packages to the lists
# below from its own fragment (toolstack/toolstack.mk, tests/tests.mk, ...).
#
#   make deps            install every Debian package the project needs
#   make [all]           build (warnings are errors)
#   make check [SAN=1]   all tests, ends with "N passed, N failed, N skipped"
#                        (XEN=0 counts the nested-Xen tests as skipped)
#   make lint            clang-format, cppcheck, shellcheck, mandoc -Tlint
#   make bench           codec benchmark (simulated guest, no Xen)
#   make bench-xen       migration benchmark on the nested-Xen lab
#   make fuzz            every libFuzzer target for FUZZ_TIME seconds
#   make demo            boot the nested lab and live-migrate the test guest
#   make install DESTDIR=...   make clean

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

SAN ?= 0
XEN ?= 1
V ?= 0
FUZZ_TIME ?= 30

# Build output: in the tree but ignored by git.  Images, kernels and other
# large artefacts of the lab go to XLMIG_CACHE, outside the tree.
O ?= build$(if $(filter 1,$(SAN)),-san)
XLMIG_CACHE ?= $(HOME)/.cache/xlmig
export XLMIG_CACHE

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
DESTDIR ?=

CC := gcc
FUZZ_CC := clang
PKG_CONFIG ?= pkg-config

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-unused-parameter -Wvla
CFLAGS ?= -O2 -g
XCFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP -Itoolstack
XLDFLAGS :=
ifeq ($(SAN),1)
SANFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
XCFLAGS += $(SANFLAGS)
XLDFLAGS += $(SANFLAGS)
else
XCFLAGS += -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

# Lists the fragments fill in.
INSTALL_BINS :=     # programs for $(BINDIR)
INSTALL_SBINS :=    # programs for $(SBINDIR)
MAN_PAGES :=        # man/NAME.SECTION
TEST_BINS :=        # built by 'make tests' (unit tests, test instruments)
TESTS_UNIT :=       # test binaries run by 'make check'
TESTS_SH :=         # shell tests run on this machine by 'make check'
TESTS_XEN :=        # shell tests run on the nested-Xen lab by 'make check'
FUZZ_TARGETS :=     # names; each has FUZZ_SRCS_<name> and tests/fuzz/corpus/<name>/
BENCH_BINS :=       # built by 'make bench'
BENCH_CMDS :=       # commands 'make bench' runs, one per line
DEPS_PKGS :=        # Debian packages
CLEAN_EXTRA :=

# Base toolchain and checkers; each fragment adds what its part needs.
DEPS_PKGS += build-essential pkg-config clang-format cppcheck shellcheck \
	mandoc clang libclang-rt-14-dev libcmocka-dev

include toolstack/toolstack.mk
-include net-forward/net-forward.mk
-include xenstore-hooks/xenstore-hooks.mk
include tests/tests.mk

# ---------------------------------------------------------------- rules

$(O)/%.o: %.c
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(CFLAGS_$(<D)) -c $< -o $@

.PHONY: all tests deps check lint bench bench-xen fuzz demo install clean \
	format

all: $(INSTALL_BINS) $(INSTALL_SBINS)

tests: all $(TEST_BINS)

# Quick when everything is present: one dpkg-query, no apt.
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' \
	    $(sort $(DEPS_PKGS)) 2>/dev/null | \
	    awk '$$NF == "installed" { ok[$$1] = 1 } \
	         END { n = split("$(sort $(DEPS_PKGS))", w, " "); \
	               for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing" $$missing; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends $$missing; \
	else \
	    echo "deps: all $(words $(sort $(DEPS_PKGS))) packages present"; \
	fi

check: tests
	@tests/run-tests --build $(O) --xen $(XEN) \
	    --unit "$(TESTS_UNIT)" --sh "$(TESTS_SH)" --lab "$(TESTS_XEN)"

# Every C file, header, shell script and man page that git tracks.
LINT_C = $(shell git ls-files '*.c' '*.h')
LINT_SH = $(shell for f in $$(git ls-files); do \
	head -c 32 "$$f" 2>/dev/null | grep -qE '^\#! ?/(usr/)?bin/(env )?(ba)?sh' \
	&& echo "$$f"; done)
# Pure cores: no Xen, GnuTLS or netlink header (STYLE.md).
PURE_DIRS := toolstack/common toolstack/engine

lint:
	@echo "lint: clang-format"; \
	clang-format --dry-run -Werror $(LINT_C)
	@echo "lint: cppcheck"; \
	cppcheck -q --error-exitcode=1 --std=c11 --inline-suppr \
	    --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem -Itoolstack $(LINT_C)
	@echo "lint: shellcheck"; \
	shellcheck -x $(LINT_SH)
	@echo "lint: mandoc"; \
	mandoc -Tlint -Wwarning $(MAN_PAGES)
	@echo "lint: pure cores include no Xen/GnuTLS/netlink header"; \
	! grep -nE '#include <(xen|libxl|xenctrl|xenguest|xenstore|gnutls|libmnl|linux/(rt)?netlink)' \
	    $(wildcard $(addsuffix /*.[ch],$(PURE_DIRS)))
	@echo "lint: ok"

format:
	clang-format -i $(LINT_C)

bench: $(BENCH_BINS)
	$(BENCH_CMDS)

bench-xen: all
	tests/xenbench/bench-xen

FUZZ_O := build-fuzz
FUZZ_FLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Itoolstack \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

fuzz: $(addprefix $(FUZZ_O)/fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	    echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	    mkdir -p $(FUZZ_O)/corpus/$$t; \
	    $(FUZZ_O)/fuzz_$$t -max_total_time=$(FUZZ_TIME) \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_O)/ \
	        $(FUZZ_O)/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
	        grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

define fuzz_rule
$(FUZZ_O)/fuzz_$(1): $$(FUZZ_SRCS_$(1))
	$$(call say,FUZZ,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) $$^ -o $$@ $$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

demo: all
	tests/lab/lab demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	$(if $(INSTALL_BINS),install -m 755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/)
	$(if $(INSTALL_SBINS),install -m 755 $(INSTALL_SBINS) $(DESTDIR)$(SBINDIR)/)
	@for m in $(MAN_PAGES); do \
	    s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	    install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

clean:
	rm -rf build build-san $(FUZZ_O) $(CLEAN_EXTRA)

SHELL := /bin/bash
-include $(shell find $(O) -name "*.d" 2>/dev/null)
