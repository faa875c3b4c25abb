#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1800
#
# A guest that dirties memory faster than the lab link carries: without
# help the dirty set never shrinks.  With --throttle (the default) xlmig
# caps the guest's CPU through the Xen scheduler (20 %, then +10 % per
# round) until the predicted blackout meets the limit, migrates it, and
# leaves no cap behind: the guest runs uncapped on the target, the state
# file holds no throttle record, memory intact.
set -u
# shellcheck source=tests/xen/cost-lib.sh
. "$(dirname "$0")/cost-lib.sh"
lab_test_begin stock

limit=${COST_LAB_LIMIT_MS:-8000}
g=cost202 ip=192.168.77.62
# as fast as the workload goes, over its whole 32 MiB
lab_guest_create A "$g" pvh 128 "$ip" 1000000 8192 32

mig_port=$((mig_port + 1))
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig "--no-progress --max-downtime $limit"
mig_recv_log B "$mig_port"
printf '%s\n' "$mig_json" | grep '"cost"\|"blackout"' | sed 's/^/    json| /'
[ "$mig_rc" -eq 0 ] || lab_fail "migration failed"
lab_move_guest A B "$g"
lab_check_placement B A "$g"
v=$(lab_guest_verify B "$ip") || lab_fail "memory check: $v"
cost_gap=$(lab_guest_max_gap_ms B "$ip")
cost_report
tmax=$(cost_json_field blackout throttle_pct_max)
reason=$(cost_json_field blackout stop_reason)
[ "${tmax:-0}" -ge 20 ] || lab_fail "the guest was not throttled"
[ "$reason" = limit ] || lab_fail "stopped by '$reason', not the limit"
cap=$(cost_cap B "$g")
[ "$cap" = 0 ] || lab_fail "the guest runs with cap '$cap' on B"
if cost_state A | grep -q '^throttle'; then
    lab_fail "a throttle record is left on A"
fi
echo "report: throttled up to $tmax %, cap on B $cap"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
