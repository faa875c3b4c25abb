#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 900
#
# PV guest on Debian's hypervisor (no shadow paging, so no log-dirty for PV
# guests): xlmig refuses with one clear line before touching the guest or
# the target; the guest keeps running with its memory intact.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin stock

g=mig106 ip=192.168.77.46
lab_guest_create A "$g" pv 128 "$ip" 100 0 32
mig_port=5160
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig
# the receiver was never contacted
recv=$(lab_exec -t 30 B "$(mig_kill_cmd "TCP-LISTEN:$mig_port"); sleep 1
    cat /tmp/mig-recv-$mig_port.log")
if grep -q 'Ready to receive' <<<"$recv"; then
    lab_fail "the target was contacted"
fi
mig_expect_backout "PV without shadow paging" "has no shadow paging" "$g" "$ip"
n=$(grep -c . <<<"$mig_out")
[ "$n" -le 2 ] || lab_fail "expected one line (and the result), got $n"
lab_guest_destroy A "$g"
mig_no_leftovers
lab_leak_check
