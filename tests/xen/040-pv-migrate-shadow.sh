#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: shadow
# timeout: 1800
#
# Stock 'xl migrate' of the PV test guest A -> B -> A on the hypervisor
# rebuilt from Debian's source with CONFIG_SHADOW_PAGING=y (PV log-dirty
# needs shadow paging).  Each hop as in 010: placement, memory check,
# guest-observed blackout, total time.
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/../lab/lib.sh"
lab_test_begin shadow

lab_exec -t 30 A "xl info | grep -q '^virt_caps.* shadow'" ||
    lab_fail "the hypervisor on A has no shadow paging"

g=x040 ip=192.168.77.23
lab_guest_create A $g pv 128 $ip 100
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
