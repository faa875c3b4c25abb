#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 2400
#
# A guest that dirties memory faster than the lab link carries cannot
# converge: with --throttle (the default) xlmig caps its CPU through the
# Xen scheduler (20 %, then +10 % per busy round) until the predicted
# blackout meets the limit, migrates it, and leaves no cap behind.
#
# Made so on any lab: the workload dirties as fast as its vCPU can (so a
# cap slows it) and the test measures that rate, then rate-limits the lab
# link with tc in both dom0s to half of it (the guest dirties 2x what the
# link carries; throttled by 70 % or more it is below 0.6x).  The limit is
# a quarter of the hot set's transfer time (plus the default fixed cost:
# the state is emptied), below the untrottled plateau (~0.8 of the hot
# set).
#
# First an xlmig is killed (kill -9) once it has set a cap: the cap and
# its record stay; the next xlmig run releases them before it starts.
# Then the real migration: throttled (>= 20 %), stopped on the limit,
# memory intact, no cap on B, no record on A, the link restored.
set -u
# shellcheck source=tests/xen/cost-lib.sh
. "$(dirname "$0")/cost-lib.sh"
lab_test_begin stock

g=cost202 ip=192.168.77.62 hot=8192
for h in A B; do
    lab_exec -t 30 "$h" "rm -f /var/lib/xlmig/cost-state" >/dev/null
done
cost_tc_stage
# shellcheck disable=SC2064
trap "cost_link_limit A 0 >/dev/null 2>&1; cost_link_limit B 0 >/dev/null 2>&1
      lab_test_end \$?" EXIT
lab_guest_create A "$g" pvh 128 "$ip" 1000000 "$hot" 32

# the workload's own rate, flat out: two samples of memtest's counter
dirtied() { lab_guest_ask A "$ip" stats | sed -n 's/.* dirtied=\([0-9]*\).*/\1/p'; }
sleep 3
d0=$(dirtied) t0=$(date +%s%N)
sleep 8
d1=$(dirtied) t1=$(date +%s%N)
[ -n "$d0" ] && [ -n "$d1" ] || lab_fail "no dirtied counter from memtest"
dmax=$(((d1 - d0) * 1000000000 / (t1 - t0)))
[ "$dmax" -gt 50 ] || lab_fail "the workload dirties only $dmax pages/s"
# the link at half that (pages of 4104 bytes, in kbit/s), at least 2 Mbit/s
pps=$((dmax / 2))
kbit=$((pps * 4104 * 8 / 1000))
[ "$kbit" -ge 2000 ] || kbit=2000
pps=$((kbit * 1000 / 8 / 4104))
limit=$((200 + hot * 1000 / 4 / pps))
echo "report: workload dirties $dmax pages/s; link $kbit kbit/s ($pps pages/s); limit $limit ms"
cost_link_limit A "$kbit"
cost_link_limit B "$kbit"

# --- an xlmig killed once it has capped the guest
mig_port=$((mig_port + 1))
mig_recv_start B "$mig_port" xlmig
dip=$(lab_host_ip B)
lab_exec -t 30 A "(/xlmig/xlmig migrate --no-progress --max-downtime $limit \
    -s '' $g 'socat -b524288 - TCP:$dip:$mig_port' >/tmp/cost202-killed.log 2>&1 &)
    true" >/dev/null
cap=0
for i in $(seq 240); do
    sleep 2
    cap=$(cost_cap A "$g")
    [ "${cap:-0}" != 0 ] && break
done
[ "${cap:-0}" != 0 ] || lab_fail "the first xlmig never capped the guest"
lab_exec -t 30 A "for p in \$(ps | grep 'xlmig migrate' | grep -v grep | awk '{ print \$1 }'); do
    kill -9 \$p; done; true" >/dev/null
sleep 3
mig_recv_log B "$mig_port"
[ "$(cost_cap A "$g")" = "$cap" ] || lab_fail "the cap went with the killed xlmig"
cost_state A | grep -q "^throttle .*cap_set=$cap" ||
    lab_fail "no throttle record of the killed xlmig"
echo "report: xlmig killed with the guest capped at $cap"
lab_guest_state A "$g" >/dev/null || lab_fail "$g is gone from A"

# --- the real migration: the stale cap goes first, then the throttle
mig_port=$((mig_port + 1))
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig "--no-progress --max-downtime $limit"
mig_recv_log B "$mig_port"
printf '%s\n' "$mig_json" | grep '"cost"\|"blackout"' | sed 's/^/    json| /'
[ "$mig_rc" -eq 0 ] || lab_fail "migration failed"
grep -q 'released the throttle a previous xlmig' <<<"$mig_out" ||
    lab_fail "the killed xlmig's cap was not reported released"
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
echo "report: throttled up to $tmax %, cap on B $cap, memory $v"

lab_guest_destroy B "$g"
cost_link_limit A 0
cost_link_limit B 0
mig_no_leftovers
lab_leak_check
