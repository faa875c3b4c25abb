# SPDX-License-Identifier: MIT
#
# Unit tests of net-forward: the pure core with a fake ops table and an
# injected clock (test_nfwd_core), and the libmnl message builders
# (test_nfwd_msg).
TEST_OBJS_test_nfwd_core := $(O)/net-forward/nfwd_core.o
$(eval $(call unit_test,test_nfwd_core))
TEST_OBJS_test_nfwd_msg := $(NFWD_LIB)
TEST_LIBS_test_nfwd_msg := $(NFWD_LIBS)
$(eval $(call unit_test,test_nfwd_msg))
