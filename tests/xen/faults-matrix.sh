#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 14400
#
# The whole fault matrix (make check-faults): every fault point of
# engine/fault.h, active (error, kill -9) and passive (SIGSTOP, the lab
# link dropped), on one lab; prints the matrix as a table.  Cells:
# XLMIG_FAULT_CELLS overrides.
set -u
# shellcheck source=tests/xen/faults-lib.sh
. "$(dirname "$0")/faults-lib.sh"
lab_test_begin stock
trap 'rc=$?; fl_table; fl_stop_daemons; lab_test_end $rc' EXIT
# every point active (error or kill) and passive (stop: hung, stops
# reading; link: its lab link dropped at the point)
all="connect:error connect:stop handshake:kill handshake:stop
config:error config:stop precopy-round-1:error precopy-round-1:kill
precopy-round-1:link suspend:error suspend:kill suspend:stop
stop-and-copy:error stop-and-copy:stop after-ready:kill after-ready:stop
after-go:kill after-go:stop after-go:link after-report:error
after-report:kill after-report:stop recv-config:kill recv-config:stop
recv-before-ready:kill recv-before-ready:stop recv-after-ready:kill
recv-after-ready:stop recv-after-ready:link recv-after-go:kill
recv-after-go:stop recv-before-report:error recv-before-report:stop
recv-before-report:link recv-after-report:kill recv-after-report:stop"
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
