#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# --abort-if-busy on a guest that cannot converge: xlmig backs out with one
# line ("domain too busy: predicted blackout N ms > limit M ms"), exit 1,
# the guest keeps running on the source with its memory intact and no
# scheduler cap, nothing is left on the target.  First, a cap recorded by
# an xlmig that died (planted record, cap set by hand) is released by
# this run before it starts.
set -u
# shellcheck source=tests/xen/cost-lib.sh
. "$(dirname "$0")/cost-lib.sh"
lab_test_begin stock

g=cost203 ip=192.168.77.63
lab_guest_create A "$g" pvh 128 "$ip" 1000000 8192 32

# a crashed xlmig's throttle: cap 40 and its record, pid long gone
domid=$(lab_exec -t 30 A "xl domid $g") || lab_fail "no domid"
lab_exec -t 30 A "xl sched-credit2 -d $g -c 40 2>/dev/null ||
    xl sched-credit -d $g -c 40
    mkdir -p /var/lib/xlmig
    echo 'throttle domid=$domid pid=2147483646 cap_orig=0 cap_set=40' \
        >/var/lib/xlmig/cost-state" || lab_fail "cannot plant a stale cap"
[ "$(cost_cap A "$g")" = 40 ] || lab_fail "planted cap not set"

mig_port=$((mig_port + 1))
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig "--no-progress --abort-if-busy"
mig_recv_log B "$mig_port"
printf '%s\n' "$mig_json" | grep '"cost"\|"blackout"' | sed 's/^/    json| /'
[ "$mig_rc" -eq 1 ] || lab_fail "exit status $mig_rc, expected 1"
grep -q 'released the throttle a previous xlmig' <<<"$mig_out" ||
    lab_fail "the stale cap was not reported released"
line=$(grep -c '^domain too busy: predicted blackout [0-9]* ms > limit 300 ms$' \
    <<<"$mig_out")
[ "$line" = 1 ] || lab_fail "no single 'domain too busy' line"
st=$(lab_guest_state A "$g") || lab_fail "$g is gone from A"
# "------" is runnable, waiting for a CPU (a busy lab)
case $st in *p* | *s* | *c* | *d*) lab_fail "$g on A is not running (state $st)" ;; esac
if lab_guest_state B "$g" >/dev/null; then lab_fail "$g exists on B"; fi
v=$(lab_guest_verify A "$ip") || lab_fail "memory check: $v"
cap=$(cost_cap A "$g")
[ "$cap" = 0 ] || lab_fail "cap '$cap' left on the guest"
if cost_state A | grep -q '^throttle'; then
    lab_fail "a throttle record is left on A"
fi
echo "report: aborted busy, guest running on A ($st), cap $cap, memory $v"

lab_guest_destroy A "$g"
mig_no_leftovers
lab_leak_check
