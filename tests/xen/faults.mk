# SPDX-License-Identifier: MIT
# The fault matrix on the nested-Xen lab (tests/xen/faults-lib.sh).
# 'make check' runs the CI subset, 501 (config:error,
# recv-before-ready:kill, after-go:kill, one follow-up migration).  On lab
# 112, another lab on the machine, guest creation included, lab boot not:
# 242 s and 178 s with the final build (two in a row); 187-442 s over six
# earlier passes while the xlmig-tls-connect and empty-stream fixes
# landed.  'make check-faults' boots the lab and runs every cell (36: each
# of the 15 points active and passive, tests/xen/faults-matrix.sh; about
# 1.3 min a cell with its follow-up migration), then prints the matrix as
# a table (also in $(O)/faults-matrix.table).
TESTS_XEN += tests/xen/501-faults-ci.sh

.PHONY: check-faults
check-faults: tests
	@rm -f $(O)/faults-matrix.table
	@tests/run-tests --build $(O) --xen 1 --lab "tests/xen/faults-matrix.sh"; \
	rc=$$?; cat $(O)/faults-matrix.table 2>/dev/null; exit $$rc
