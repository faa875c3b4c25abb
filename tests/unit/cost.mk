# SPDX-License-Identifier: MIT
# The blackout cost model (engine/cost.h): round traces in
# tests/unit/fixtures/cost/ (regenerate with their gen-traces script), a
# closed-loop throttled guest, the state file.
$(eval $(call unit_test,test_cost))
