# SPDX-License-Identifier: MIT
# Exactly-once journal and fault points (pure engine modules).
$(eval $(call unit_test,test_journal))
$(eval $(call unit_test,test_fault))
TEST_OBJS_test_journal_session := $(TRANSPORT_OBJS)
TEST_LIBS_test_journal_session := -lpthread
$(eval $(call unit_test,test_journal_session))
