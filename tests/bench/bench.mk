# SPDX-License-Identifier: MIT
#
# tests/bench/: `make bench`, the codec benchmark (a benchmark, not a timed
# test).  It links the simulated guest (tests/sim/, a test instrument) and
# the engine; it prints a table and writes the same figures as JSON to
# $(O)/bench.json (build/bench.json).  Options: BENCH_ARGS="--pages N
# --flavour pv|hvm --workload W".

BENCH_ARGS ?=

# The sim's objects by name: tests/sim/sim.mk is included after this file.
$(O)/tests/bench/bench-codec: $(O)/tests/bench/bench-codec.o \
		$(O)/tests/sim/sim_guest.o $(O)/tests/sim/sim_restore.o \
		$(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(ENGINE_LIBS)

BENCH_BINS += $(O)/tests/bench/bench-codec
BENCH_CMDS += $(O)/tests/bench/bench-codec --json $(O)/bench.json \
	$(BENCH_ARGS) || exit 1;
