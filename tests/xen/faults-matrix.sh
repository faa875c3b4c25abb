#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 14400
#
# The whole fault matrix (make check-faults): every fault point of
# engine/fault.h, active (error, kill -9) and passive (SIGSTOP), on one
# lab; prints the matrix as a table.  Cells: XLMIG_FAULT_CELLS overrides.
set -u
# shellcheck source=tests/xen/faults-lib.sh
. "$(dirname "$0")/faults-lib.sh"
lab_test_begin stock
trap 'rc=$?; fl_table; fl_stop_daemons; lab_test_end $rc' EXIT
all="connect:error handshake:kill config:error config:stop
precopy-round-1:error precopy-round-1:kill suspend:error suspend:kill
stop-and-copy:error stop-and-copy:stop after-ready:kill after-ready:stop
after-go:kill after-go:stop after-report:error after-report:kill
recv-config:kill recv-config:stop recv-before-ready:kill
recv-before-ready:stop recv-after-ready:kill recv-after-ready:stop
recv-after-go:kill recv-after-go:stop recv-before-report:error
recv-before-report:stop recv-after-report:kill"
fl_setup
for cell in ${XLMIG_FAULT_CELLS:-$all}; do
    fl_cell "${cell%%:*}" "${cell##*:}"
done
trap 'rc=$?; fl_stop_daemons; lab_test_end $rc' EXIT
fl_table
[ "$fl_fails" -eq 0 ] || lab_fail "$fl_fails cell(s) failed"
lab_guest_destroy "$fl_cur" "$fl_g"
fl_stop_daemons
echo "report: fault matrix: ${#fl_rows[@]} cells green"
