# SPDX-License-Identifier: MIT
# The blackout cost model (engine/cost.h): round traces in
# tests/unit/fixtures/cost/ (regenerate with their gen-traces script), a
# closed-loop throttled guest, the state file.
$(eval $(call unit_test,test_cost))
# the state file I/O (cli/coststate.c; links the throttle adapter, which
# this test never reaches: no record it could undo belongs to a dead pid)
TEST_OBJS_test_coststate := $(O)/toolstack/cli/coststate.o \
	$(O)/toolstack/xen/throttle.o $(O)/toolstack/xen/xen_src.o
TEST_LIBS_test_coststate := $(XEN_LIBS)
$(eval $(call unit_test,test_coststate))
TESTS_SH += tests/unit/cost-cli.sh
