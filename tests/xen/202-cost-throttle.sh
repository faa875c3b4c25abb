#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 2400
#
# A guest that dirties memory faster than the lab link carries cannot
# converge: with --throttle (the default) xlmig caps its CPU through the
# Xen scheduler (20 %, then +10 % per busy round, of the guest's own cap)
# until the predicted blackout meets the limit, migrates it, and leaves no
# cap behind.
#
# Made so on any lab: the workload dirties as fast as its vCPU can (so a
# cap slows it).  The test measures that rate (dmax, memtest's counter
# over 8 s; tens of thousands of pages/s on a quiet lab, far more than the
# ~1200 pages/s xlmig moves over the lab link) and gives the guest the CPU
# cap C0 at which it dirties twice the link's page rate; a cap of 1 % then
# dirties at most ~half of it.  The hot set's plateau (~0.8 of 8192 pages)
# is over the limit (the default fixed cost plus a quarter of the hot
# set's transfer: the state is emptied), so only the throttle lets it
# converge.
#
# First an xlmig is killed (kill -9) once it has set a cap: the cap and
# its record stay; the next xlmig run releases them before it starts.
# Then the real migration: throttled (>= 20 %), stopped on the limit,
# memory intact, no cap on B, no record on A.
set -u
# shellcheck source=tests/xen/cost-lib.sh
. "$(dirname "$0")/cost-lib.sh"
lab_test_begin stock

g=cost202 ip=192.168.77.62 hot=8192
# xlmig's page rate over the lab link (bench-xen-predict: 900-1700)
link_pps=${COST_LAB_LINK_PPS:-1200}
for h in A B; do
    lab_exec -t 30 "$h" "rm -f /var/lib/xlmig/cost-state" >/dev/null
done
lab_guest_create A "$g" pvh 128 "$ip" 1000000 "$hot" 32

# the workload's own rate, flat out: two samples of memtest's counter
dirtied() { lab_guest_ask A "$ip" stats | sed -n 's/.* dirtied=\([0-9]*\).*/\1/p'; }
sleep 3
d0=$(dirtied) t0=$(date +%s%N)
sleep 8
d1=$(dirtied) t1=$(date +%s%N)
[ -n "$d0" ] && [ -n "$d1" ] || lab_fail "no dirtied counter from memtest"
dmax=$(((d1 - d0) * 1000000000 / (t1 - t0)))
[ "$dmax" -gt 0 ] || lab_fail "the workload does not dirty"
c0=$(((200 * link_pps + dmax - 1) / dmax))
[ "$c0" -ge 1 ] || c0=1
[ "$c0" -le 100 ] || lab_fail "the workload dirties only $dmax pages/s: cannot outrun the link"
limit=$((200 + hot * 1000 / 4 / link_pps))
lab_exec -t 30 A "xl sched-credit2 -d $g -c $c0 2>/dev/null ||
    xl sched-credit -d $g -c $c0" >/dev/null || lab_fail "cannot cap $g"
[ "$(cost_cap A "$g")" = "$c0" ] || lab_fail "cap $c0 not set"
echo "report: workload dirties $dmax pages/s flat out; cap $c0 % (~$((dmax * c0 / 100)) pages/s, link ~$link_pps); limit $limit ms"

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
    [ -n "$cap" ] && [ "$cap" != "$c0" ] && break
done
[ -n "$cap" ] && [ "$cap" != "$c0" ] || lab_fail "the first xlmig never capped the guest"
lab_exec -t 30 A "for p in \$(ps | grep 'xlmig migrate' | grep -v grep | awk '{ print \$1 }'); do
    kill -9 \$p; done; true" >/dev/null
sleep 3
mig_recv_log B "$mig_port"
[ "$(cost_cap A "$g")" = "$cap" ] || lab_fail "the cap went with the killed xlmig"
cost_state A | grep -q "^throttle .*cap_orig=$c0 cap_set=$cap" ||
    lab_fail "no throttle record of the killed xlmig"
echo "report: xlmig killed with the guest capped at $cap (its own cap $c0)"
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
mig_no_leftovers
lab_leak_check
