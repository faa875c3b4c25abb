# SPDX-License-Identifier: MIT
# The fault matrix on the nested-Xen lab (tests/xen/faults-lib.sh).
# 'make check' runs the CI subset (501, once it has passed on the lab);
# 'make check-faults' boots the lab and runs every cell, then prints the
# matrix as a table (also in $(O)/faults-matrix.table).
.PHONY: check-faults
check-faults: tests
	@rm -f $(O)/faults-matrix.table
	@tests/run-tests --build $(O) --xen 1 --lab "tests/xen/faults-matrix.sh"; \
	rc=$$?; cat $(O)/faults-matrix.table 2>/dev/null; exit $$rc
