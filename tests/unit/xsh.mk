# SPDX-License-Identifier: MIT
#
# Unit tests of xenstore-hooks: the pure core over a fake xenstore
# (test_xsh) and the hook-script runner with real processes
# (test_xsh_hooks).
TEST_OBJS_test_xsh := $(O)/xenstore-hooks/xsh.o
$(eval $(call unit_test,test_xsh))
TEST_OBJS_test_xsh_hooks := $(XSH_CORE_OBJS)
$(eval $(call unit_test,test_xsh_hooks))
# the guest side's own xenstore client, over a socketpair (test_xsh_guest)
TEST_OBJS_test_xsh_guest := $(XSG_OBJ)
$(eval $(call unit_test,test_xsh_guest))
# the guest's free-memory zeroing (-z): meminfo parsing, the budget, and
# a small real run in this process
TEST_OBJS_test_xsg_zero := $(XSG_ZERO_OBJ)
$(eval $(call unit_test,test_xsg_zero))
