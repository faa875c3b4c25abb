#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1800
#
# The cost model on a dirtying PVH guest (memory-integrity workload, 128
# MiB): xlmig stops when the predicted blackout meets --max-downtime, at a
# round other than stock's 5, and the measured blackout (suspend -> target
# running) is within the limit.  The first migration learns the fixed cost
# of this host pair (state file), the second uses it.  Under TCG the fixed
# cost is seconds, so the limit is in seconds here (COST_LAB_LIMIT_MS).
set -u
# shellcheck source=tests/xen/cost-lib.sh
. "$(dirname "$0")/cost-lib.sh"
lab_test_begin stock

limit=${COST_LAB_LIMIT_MS:-8000}
g=cost201 ip=192.168.77.61
lab_exec -t 30 A "rm -f /var/lib/xlmig/cost-state" >/dev/null
lab_exec -t 30 B "rm -f /var/lib/xlmig/cost-state" >/dev/null
# 300 pages/s in a 4096-page hot set (16 MiB of the workload's 32)
lab_guest_create A "$g" pvh 128 "$ip" 300 4096 32

hop() # hop SRC DST
{
    mig_port=$((mig_port + 1))
    mig_recv_start "$2" "$mig_port" xlmig
    mig_send "$1" "$2" "$g" xlmig "--no-progress --max-downtime $limit"
    mig_recv_log "$2" "$mig_port"
    [ "$mig_rc" -eq 0 ] || lab_fail "migration $1 -> $2 failed"
    lab_move_guest "$1" "$2" "$g"
    lab_check_placement "$2" "$1" "$g"
    v=$(lab_guest_verify "$2" "$ip") || lab_fail "memory check: $v"
    cost_gap=$(lab_guest_max_gap_ms "$2" "$ip")
    lab_guest_ask "$2" "$ip" reset >/dev/null
    printf '%s\n' "$mig_json" | grep '"cost"\|"blackout"' | sed 's/^/    json| /'
    cost_report
    rounds=$(mig_json_field rounds)
    reason=$(cost_json_field blackout stop_reason)
    meas=$(cost_json_field blackout measured_blackout_ms)
    pred=$(cost_json_field blackout predicted_blackout_ms)
    if [ -z "$meas" ] || [ -z "$pred" ]; then
        lab_fail "no blackout event"
    fi
    grep -q '^migration blackout: predicted ' <<<"$mig_out" ||
        lab_fail "no 'migration blackout' summary line"
    [ "$rounds" != 5 ] || lab_fail "stopped at round 5, as stock would"
}

hop A B
# the first migration learned this pair's fixed cost
cost_state A | sed 's/^/    state A| /'
cost_state A | grep -q "^pair .*fixed_ns=[1-9]" ||
    lab_fail "no fixed cost remembered on A"
[ "$reason" = limit ] || lab_fail "first hop: stopped by '$reason', not the limit"
awk -v m="$meas" -v l="$limit" 'BEGIN { exit !(m <= l) }' ||
    lab_fail "first hop: measured blackout $meas ms > limit $limit ms"

hop B A
[ "$reason" = limit ] || lab_fail "second hop: stopped by '$reason'"
awk -v m="$meas" -v l="$limit" 'BEGIN { exit !(m <= l) }' ||
    lab_fail "second hop: measured blackout $meas ms > limit $limit ms"

lab_guest_destroy A "$g"
mig_no_leftovers
lab_leak_check
