# SPDX-License-Identifier: MIT
# Exactly-once journal and fault points (pure engine modules).
$(eval $(call unit_test,test_journal))
$(eval $(call unit_test,test_fault))
