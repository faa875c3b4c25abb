#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# xenstore hooks, a guest that listens (xlmig-hooks(7)): the guest runs
# xlmig-notice-guest, subscribes, is noticed and acks before precopy, and
# cannot write (or read) the dom0 subtree nor forge its notice; the state
# keys exist on both hosts while the migration runs (seen by the hooks at
# pre-blackout and post-migrate) and are gone afterwards; the guest hears
# "none" on the target and subscribes again; nothing leaks.
set -u
# shellcheck source=tests/xen/xsh-lib.sh
. "$(dirname "$0")/xsh-lib.sh"
lab_test_begin stock

g=xsh301 ip=192.168.77.51
xsh_hooks_setup A /tmp/xsh-hooks
xsh_hooks_setup B /tmp/xsh-hooks
xsh_guest_create A "$g" 128 "$ip"
xsh_console_wait A "$g" XLMIG-LISTENING 60 >/dev/null ||
    lab_fail "the guest's listener did not start"
d=$(xsh_domid A "$g") || lab_fail "no domid for $g"
ack=$(lab_exec -t 30 A "xenstore-read /local/domain/$d/data/xlmig-ack")
[ "$ack" = listening ] || lab_fail "ack key reads '$ack', not 'listening'"
lab_log "guest $g (domid $d) subscribed"

mig_port=5301
mig_hop A B "$g" "$ip" xlmig xlmig "--notice 60 --hooks-dir /tmp/xsh-hooks" \
    "--hooks-dir /tmp/xsh-hooks"

# the notice: listened, acked, not the whole minute
notice=$(grep '"event":"notice"' <<<"$mig_json")
lab_log "sender: $notice"
grep -q '"listening":true,"acked":true' <<<"$notice" ||
    lab_fail "the guest was not noticed or did not ack: $notice"
wait_ms=$(sed -n 's/.*"wait_ms":\([0-9]*\).*/\1/p' <<<"$notice")
[ "${wait_ms:-99999}" -lt 60000 ] || lab_fail "waited $wait_ms ms"

# the guest's side, on A: notice, ack, and the probe refused everything
for w in XLMIG-NOTICE XLMIG-ACK XLMIG-PROBE; do
    l=$(xsh_console_wait A "$g" "$w" 30) || lab_fail "no $w on A's console"
    lab_log "guest on A: $l"
done
grep -q 'state-write=ok\|state-read=ok\|notice-write=ok' <<<"$l" &&
    lab_fail "the guest could reach the dom0 subtree or forge its notice: $l"

# on B: the guest heard "none" and subscribed again
l=$(xsh_console_wait B "$g" XLMIG-DONE 60) || lab_fail "no XLMIG-DONE on B"
lab_log "guest on B: $l"
d=$(xsh_domid B "$g") || lab_fail "no domid for $g on B"
ev=$(lab_exec -t 30 B "xenstore-read /local/domain/$d/data/xlmig/maintenance-event")
[ "$ev" = none ] || lab_fail "maintenance-event on B reads '$ev'"
perms=$(lab_exec -t 30 B "xenstore-ls -p /local/domain/$d/data/xlmig" |
    tr -d '\r')
printf '%s\n' "$perms" | sed 's/^/    B perms| /'
grep -q "maintenance-event = \"none\".*(n0,r$d)" <<<"$perms" ||
    lab_fail "notice keys on B are not n0,r$d"
for i in $(seq 50); do
    ack=$(lab_exec -t 30 B "xenstore-read /local/domain/$d/data/xlmig-ack")
    [ "$ack" = listening ] && break
    sleep 0.2
done
[ "$ack" = listening ] || lab_fail "no new subscription on B ('$ack')"

# the state keys, as the hooks saw them; then gone on both hosts
hooks_a=$(lab_exec -t 30 A "cat /tmp/xsh-hooks.log")
hooks_b=$(lab_exec -t 30 B "cat /tmp/xsh-hooks.log")
printf '%s\n' "$hooks_a" | sed 's/^/    A hooks| /'
printf '%s\n' "$hooks_b" | sed 's/^/    B hooks| /'
grep -q "^hook pre-migrate domain=$g .*role=source" <<<"$hooks_a" ||
    lab_fail "no pre-migrate hook on A"
grep -q '^  state: phase = "pre-blackout"' <<<"$hooks_a" ||
    lab_fail "the pre-blackout hook did not see phase pre-blackout"
grep -q '^  state: role = "source"' <<<"$hooks_a" ||
    lab_fail "no role key on A"
grep -q '^  state: predicted-blackout-ms = "[0-9]*"' <<<"$hooks_a" ||
    lab_fail "no predicted-blackout-ms key on A"
grep -q "^hook post-migrate domain=$g .*result=ok" <<<"$hooks_a" ||
    lab_fail "no post-migrate hook on A"
grep -q "^hook post-migrate domain=$g .*role=target.*result=ok" \
    <<<"$hooks_b" || lab_fail "no post-migrate hook on B"
grep -q '^  state: phase = "running"' <<<"$hooks_b" ||
    lab_fail "B's hook did not see phase running"
xsh_state_empty A
xsh_state_empty B
lab_log "state keys seen by the hooks, none left on A or B"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
