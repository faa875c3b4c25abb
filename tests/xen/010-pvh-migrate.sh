#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1800
#
# Stock 'xl migrate' of the PVH test guest A -> B -> A on Debian's own
# hypervisor.  Each hop: the guest runs on the target and is gone from the
# source, its memory check is ok; the guest-observed blackout (largest
# heartbeat gap) and the total time are printed.
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/../lab/lib.sh"
lab_test_begin stock

g=x010 ip=192.168.77.20
lab_guest_create A $g pvh 128 $ip 100
lab_guest_verify A $ip >/dev/null || lab_fail "memory check before migrating"
lab_guest_ask A $ip reset >/dev/null

lab_migrate A B $g || lab_fail "xl migrate A -> B failed"
lab_move_guest A B $g
lab_check_placement B A $g
lab_report_hop B $g $ip

lab_migrate B A $g || lab_fail "xl migrate B -> A failed"
lab_move_guest B A $g
lab_check_placement A B $g
lab_report_hop A $g $ip

lab_guest_destroy A $g
lab_leak_check
