# SPDX-License-Identifier: MIT
# Unit tests of the migrate path: xl protocol, session (fake backends and
# fake stock-xl peers over pipes), precopy policy.
TEST_OBJS_test_xlproto := $(TRANSPORT_OBJS)
$(eval $(call unit_test,test_xlproto))
TEST_OBJS_test_session := $(TRANSPORT_OBJS)
TEST_LIBS_test_session := -lpthread
$(eval $(call unit_test,test_session))
$(eval $(call unit_test,test_precopy))
# the same session with the real codec and the simulated guest (sim.mk)
TEST_OBJS_test_session_codec := $(TRANSPORT_OBJS) $(SIM_OBJS)
TEST_LIBS_test_session_codec := -lpthread
$(eval $(call unit_test,test_session_codec))
TEST_OBJS_test_channel := $(TRANSPORT_OBJS)
TEST_LIBS_test_channel := -lpthread
$(eval $(call unit_test,test_channel))
