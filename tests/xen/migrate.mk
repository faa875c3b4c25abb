# SPDX-License-Identifier: MIT
# Interop tests of xlmig migrate on the nested-Xen lab (tests/lab/):
# xlmig <-> xlmig, xlmig -> stock xl, stock xl -> xlmig, back-out, PV, HVM
# (108 boots its own lab, 'lab up --hvm': 6 min with the boot, two runs).
TESTS_XEN += tests/xen/101-migrate-xlmig-xlmig.sh \
	tests/xen/102-migrate-xlmig-to-xl.sh \
	tests/xen/103-migrate-xl-to-xlmig.sh \
	tests/xen/104-migrate-backout.sh \
	tests/xen/105-migrate-pv-shadow.sh \
	tests/xen/106-migrate-pv-no-shadow.sh \
	tests/xen/107-migrate-pv-xl-to-xlmig.sh \
	tests/xen/108-migrate-hvm.sh
# 104 (back-out: six failure points, then a migration that succeeds):
# 3 min 38 s and 3 min 52 s on lab 163 since its before-ready case gives
# the sender a 30 s hand-over timeout.

# xlmig-logdirty-probe DOMID (runs in dom0 as /xlmig/tests/xen/...): is
# log-dirty off after a back-out (104)?
CFLAGS_tests/xen = $(XEN_CFLAGS)
$(O)/tests/xen/xlmig-logdirty-probe: $(O)/tests/xen/logdirty-probe.o
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(XEN_LIBS)
TEST_BINS += $(O)/tests/xen/xlmig-logdirty-probe
