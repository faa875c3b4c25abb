# SPDX-License-Identifier: MIT
#
# The post-migration brownout on the nested lab (issue 12): stock xl,
# xlmig --no-forward, xlmig with forwarding and an aborted xlmig migration
# under a UDP stream from a client namespace on the lab's guest network.
# Passed twice on lab 121 (runs 4 and 5 of docs/performance.md, 10.5 and
# 27 min on a loaded machine).

TESTS_XEN += tests/xen/601-brownout.sh
