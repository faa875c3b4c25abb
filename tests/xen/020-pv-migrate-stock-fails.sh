#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1200
#
# PV live migration on Debian's own hypervisor (built without shadow
# paging) must fail cleanly: xl reports the failure, the guest still runs
# on the source with its memory intact, nothing is left on the target.
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/../lab/lib.sh"
lab_test_begin stock

g=x020 ip=192.168.77.21
lab_guest_create A $g pv 128 $ip 100
lab_guest_verify A $ip >/dev/null || lab_fail "memory check before migrating"

if lab_migrate A B $g; then
    lab_fail "PV live migration succeeded on a hypervisor without shadow paging"
fi
grep -q 'Failed to enable logdirty' <<<"$lab_mig_out" ||
    lab_fail "the sender did not report the log-dirty failure"
lab_log "xl migrate failed as expected (rc $lab_mig_rc): log-dirty unavailable"

st=$(lab_guest_state A $g) || lab_fail "$g is gone from A after the failure"
case $st in
*p* | *c* | *d*) lab_fail "$g on A is not running after the failure ($st)" ;;
esac
if lab_guest_state B $g >/dev/null; then
    lab_fail "a domain $g was left on B"
fi
v=$(lab_guest_verify A $ip) || lab_fail "memory check after the failure: $v"
lab_log "guest still runs on A (state $st), memory check: $v"

lab_guest_destroy A $g
lab_leak_check
