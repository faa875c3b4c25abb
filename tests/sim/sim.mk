# SPDX-License-Identifier: MIT
#
# tests/sim/: the simulated guest backend, a TEST INSTRUMENT.  Its objects
# are linked into tests and benchmarks only, never into INSTALL_BINS.
#   sim-guest gen|check      CLI for shell tests (see tests/sim/sim-guest.c)
#   verify-stream.sh         Xen's verify-stream-v2 on every flavour/workload
#   roundtrip.sh             xlmig stream encode/decode round trips
#   xen-roundtrip.sh         the same on real xl save / xl migrate streams
#                            (nested-Xen lab, TESTS_XEN)
#   tests/unit/test_sim.c    cmocka tests of the sim itself

SIM_OBJS := $(O)/tests/sim/sim_guest.o $(O)/tests/sim/sim_restore.o

$(O)/tests/sim/sim-guest: $(O)/tests/sim/sim-guest.o $(SIM_OBJS) $(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(ENGINE_LIBS)

TEST_BINS += $(O)/tests/sim/sim-guest
TESTS_SH += tests/sim/verify-stream.sh tests/sim/roundtrip.sh

TEST_OBJS_test_sim := $(SIM_OBJS)
$(eval $(call unit_test,test_sim))

# Xen's own stream checker (verify-stream-v2) and its Python package.
DEPS_PKGS += xen-utils-4.17 python3

# Round trip of streams captured from a real guest on the nested-Xen lab.
TESTS_XEN += tests/sim/xen-roundtrip.sh
