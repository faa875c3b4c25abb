# SPDX-License-Identifier: MIT
# The blackout cost model on the nested-Xen lab (docs/cost-model.md):
# converging guest stopped on the limit (not at round 5), --abort-if-busy
# backs out cleanly.  202 (busy guest throttled until it converges, then a
# kill -9 of a capping xlmig and the next run releasing the cap) is not in
# make check: whether the flat-out guest outruns the sender depends on how
# the nested host's one CPU is shared (docs/cost-model.md "The lab
# tests"); it failed 2 of 2 runs on lab 91 in an earlier order.
TESTS_XEN += tests/xen/201-cost-converge.sh \
	tests/xen/203-cost-abort-busy.sh
