# SPDX-License-Identifier: MIT
#
# tests/xenbench/: measurements on the nested-Xen lab.
#   bench-xen         'make bench-xen': migration time, guest-observed
#                     blackout, bytes on the link, memory check, per tool
#                     (docs/bench-xen.md); JSON in $(O)/bench-xen.json
#   capture-streams   real xl save / xl migrate streams as fixtures in
#                     $(XLMIG_CACHE)/fixtures/, checked by verify-stream-v2
# Both boot the lab unless it runs; both need the guest's memtest.

# verify-stream-v2 comes with xen-utils-4.17; the report is python3
DEPS_PKGS += python3 xen-utils-4.17 socat

# The cost model's prediction error (docs/cost-model.md): >= 20 xlmig
# migrations ping-pong A <-> B, idle and dirtying; p50/p90 of
# |predicted - measured| / measured.  About 20-40 minutes.
.PHONY: bench-xen-predict
bench-xen-predict: all
	tests/xenbench/bench-xen-predict
