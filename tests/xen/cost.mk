# SPDX-License-Identifier: MIT
# The blackout cost model on the nested-Xen lab (docs/cost-model.md):
# converging guest stopped on the limit (not at round 5), busy guest
# throttled until it converges, --abort-if-busy backs out cleanly.
TESTS_XEN += tests/xen/201-cost-converge.sh \
	tests/xen/202-cost-throttle.sh \
	tests/xen/203-cost-abort-busy.sh
