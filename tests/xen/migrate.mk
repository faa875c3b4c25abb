# SPDX-License-Identifier: MIT
# Interop tests of xlmig migrate on the nested-Xen lab (tests/lab/):
# xlmig <-> xlmig, xlmig -> stock xl, stock xl -> xlmig, back-out, PV.
TESTS_XEN += tests/xen/101-migrate-xlmig-xlmig.sh \
	tests/xen/102-migrate-xlmig-to-xl.sh \
	tests/xen/103-migrate-xl-to-xlmig.sh \
	tests/xen/105-migrate-pv-shadow.sh \
	tests/xen/106-migrate-pv-no-shadow.sh
