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
# Made so on any lab: the workload dirties as fast as its vCPU can, and
# on a nested host that vCPU shares the CPU with dom0, which does the
# migration: unthrottled the guest dirties about what the link carries
# (lambda ~ 1, 203's table), a cap slows it and frees CPU for the sender.
# Its hot set's plateau (~0.8 of 8192 pages) is over the limit (the
# default fixed cost, the state being emptied, plus a quarter of the hot
# set's transfer at xlmig's ~1200 pages/s over the lab link), so only the
# throttle lets it converge.  (With the 8 s limit of 201, a quiet lab
# carried the plateau within the limit: the guest converged unthrottled.)
#
# Then the crash path: on B an xlmig migrating the guest back is killed
# (kill -9) as soon as it has capped the guest: cap and record stay; the
# next 'xlmig migrate' (here one whose rune fails at once) releases them
# before anything else, and the guest runs on uncapped, memory intact.
# (The kill came first in an earlier version: the migration right after
# it converged unthrottled, twice; a first migration throttled, twice.)
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

limit=$((200 + hot * 1000 / 4 / link_pps))
echo "report: limit $limit ms (link ~$link_pps pages/s, hot set $hot pages)"

# --- the migration: throttled until it converges
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
echo "report: throttled up to $tmax %, cap on B $cap, memory $v"

# --- B -> A, killed (kill -9) once it has capped the guest
mig_port=$((mig_port + 1))
mig_recv_start A "$mig_port" xlmig
dip=$(lab_host_ip A)
lab_exec -t 30 B "(/xlmig/xlmig migrate --no-progress --max-downtime $limit \
    -s '' $g 'socat -b524288 - TCP:$dip:$mig_port' >/tmp/cost202-killed.log 2>&1 &)
    true" >/dev/null
cap=0
for i in $(seq 240); do
    sleep 2
    cap=$(cost_cap B "$g")
    [ -n "$cap" ] && [ "$cap" != 0 ] && break
    lab_guest_state B "$g" >/dev/null || lab_fail "the second xlmig migrated without capping"
done
if [ -z "$cap" ] || [ "$cap" = 0 ]; then lab_fail "the second xlmig never capped the guest"; fi
lab_exec -t 30 B "for p in \$(ps | grep 'xlmig migrate' | grep -v grep | awk '{ print \$1 }'); do
    kill -9 \$p; done; true" >/dev/null
sleep 3
mig_recv_log A "$mig_port"
[ "$(cost_cap B "$g")" = "$cap" ] || lab_fail "the cap went with the killed xlmig"
cost_state B | grep -q "^throttle .*cap_orig=0 cap_set=$cap" ||
    lab_fail "no throttle record of the killed xlmig"
echo "report: xlmig killed with the guest capped at $cap"
lab_guest_state B "$g" >/dev/null || lab_fail "$g is gone from B"
# the next xlmig run releases it first (its rune fails: no migration)
out=$(lab_exec -t 60 B "/xlmig/xlmig migrate --no-progress -s '' $g false 2>&1")
printf '%s\n' "$out" | sed 's/^/    next| /'
grep -q 'released the throttle a previous xlmig' <<<"$out" ||
    lab_fail "the killed xlmig's cap was not reported released"
cap=$(cost_cap B "$g")
[ "$cap" = 0 ] || lab_fail "cap '$cap' left after the next run"
if cost_state B | grep -q '^throttle'; then
    lab_fail "a throttle record is left on B"
fi
v=$(lab_guest_verify B "$ip") || lab_fail "memory check after the kill: $v"
echo "report: the next run released the cap, memory $v"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
