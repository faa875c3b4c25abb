#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 3000
#
# The CI subset of the fault matrix (tests/xen/faults-lib.sh; the whole
# matrix: make check-faults): a sender error before the stream, a
# receiver killed before "ready", a sender killed after GO (resolved by
# the journal sweep and the target's answer), then one clean migration.
set -u
# shellcheck source=tests/xen/faults-lib.sh
. "$(dirname "$0")/faults-lib.sh"
lab_test_begin stock
trap 'rc=$?; fl_stop_daemons; lab_test_end $rc' EXIT
fl_setup
# one follow-up migration after the cells (each cell's is in the matrix)
export FL_FOLLOWUP=end
for cell in ${XLMIG_FAULT_CELLS:-config:error recv-before-ready:kill after-go:kill}; do
    fl_cell "${cell%%:*}" "${cell##*:}"
done
fl_table
[ "$fl_fails" -eq 0 ] || lab_fail "$fl_fails cell(s) failed"
fl_followup end || lab_fail "the follow-up migration failed"
lab_guest_destroy "$fl_cur" "$fl_g"
fl_stop_daemons
mig_no_leftovers
lab_leak_check
echo "report: fault matrix CI subset: ${#fl_rows[@]} cells green"
