#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# xenstore hooks, a guest that listens (xlmig-hooks(7)): the guest runs
# xlmig-notice-guest, subscribes, is noticed and acks before precopy (the
# wait ends on the ack, not on --notice), and from inside the guest cannot
# read or write its state subtree, create under /xlmig, nor forge its
# notice; the state subtree exists on both hosts while the migration runs
# (snapshots of /xlmig in each dom0, the hooks at pre-blackout and
# post-migrate), is marked final (result ok, phase done) and removed at
# the end; the guest hears "none" on the target (where its notice keys are
# dom0's, readable by it) and subscribes again; no xenstore node leaks.
set -u
# shellcheck source=tests/xen/xsh-lib.sh
. "$(dirname "$0")/xsh-lib.sh"
xsh_test_begin

g=xsh301 ip=192.168.77.51 notice=60
xsh_hooks_setup A /tmp/xsh-hooks
xsh_hooks_setup B /tmp/xsh-hooks
paths_a=$(xsh_paths A)
paths_b=$(xsh_paths B)
xsh_guest_create A "$g" 128 "$ip"
xsh_console_wait A "$g" XLMIG-LISTENING 60 >/dev/null ||
    lab_fail "the guest's listener did not start"
d=$(xsh_domid A "$g") || lab_fail "no domid for $g"
ack=$(lab_exec -t 30 A "xenstore-read /local/domain/$d/data/xlmig-ack")
[ "$ack" = listening ] || lab_fail "ack key reads '$ack', not 'listening'"
d_a=$d
uuid=$(lab_exec -t 30 A "xenstore-read /local/domain/$d/vm" | sed 's#.*/##')
lab_log "guest $g (domid $d, uuid $uuid) subscribed"

xsh_state_watch_start A
xsh_state_watch_start B
mig_port=5301
mig_hop A B "$g" "$ip" xlmig xlmig \
    "--notice $notice --hooks-dir /tmp/xsh-hooks" "--hooks-dir /tmp/xsh-hooks"
snap_a=$(xsh_state_watch_stop A)
snap_b=$(xsh_state_watch_stop B)

# the notice: listened, acked, and the wait ended on the ack
ev=$(grep '"event":"notice"' <<<"$mig_json")
lab_log "sender: $ev"
grep -q '"listening":true,"acked":true' <<<"$ev" ||
    lab_fail "the guest was not noticed or did not ack: $ev"
wait_ms=$(sed -n 's/.*"wait_ms":\([0-9]*\).*/\1/p' <<<"$ev")
[ "${wait_ms:-999999}" -lt $((notice * 1000 / 2)) ] ||
    lab_fail "waited ${wait_ms:-?} ms of $notice s: not ended by the ack"

# the guest's side, on A: notice, ack, and from inside the guest the probe
# (run before the ack, while the state subtree exists) was refused
for w in XLMIG-NOTICE XLMIG-ACK XLMIG-PROBE; do
    l=$(xsh_console_wait A "$g" "$w" 30) || lab_fail "no $w on A's console"
    lab_log "guest on A: $l"
done
want="XLMIG-PROBE /xlmig/$uuid/phase state-read=EACCES state-write=EACCES"
want="$want state-create=EACCES notice-write=EACCES"
[ "$l" = "$want" ] ||
    lab_fail "the guest's probe of the dom0 subtree: '$l', expected '$want'"

# on B: the guest heard "none" and subscribed again
l=$(xsh_console_wait B "$g" XLMIG-DONE 60) || lab_fail "no XLMIG-DONE on B"
lab_log "guest on B: $l"
d=$(xsh_domid B "$g") || lab_fail "no domid for $g on B"
ev=$(lab_exec -t 30 B "xenstore-read /local/domain/$d/data/xlmig/maintenance-event")
[ "$ev" = none ] || lab_fail "maintenance-event on B reads '$ev'"
perms=$(lab_exec -t 30 B "xenstore-ls -p /local/domain/$d/data/xlmig" |
    tr -d '\r')
printf '%s\n' "$perms" | sed 's/^/    B perms| /'
for k in maintenance-event deadline event-id; do
    grep -q "^$k = .*(n0,r$d)\$" <<<"$perms" ||
        lab_fail "notice key $k on B is not n0,r$d"
done
for i in $(seq 50); do
    ack=$(lab_exec -t 30 B "xenstore-read /local/domain/$d/data/xlmig-ack")
    [ "$ack" = listening ] && break
    sleep 0.2
done
[ "$ack" = listening ] || lab_fail "no new subscription on B ('$ack')"

# the state subtree while the migration ran, on both hosts
printf '%s\n' "$snap_a" | grep -e '= "' | sort | uniq -c |
    sed 's/^/    A state| /'
printf '%s\n' "$snap_b" | grep -e '= "' | sort | uniq -c |
    sed 's/^/    B state| /'
grep -q "^$uuid = " <<<"$snap_a" || lab_fail "no /xlmig/$uuid on A"
grep -q "^$uuid = " <<<"$snap_b" || lab_fail "no /xlmig/$uuid on B"
# (snapshots every 0.2 s: short phases may fall between two of them)
for kv in 'role = "source"' "domain = \"$g\"" "domid = \"$d_a\"" \
    'phase = "precopy"'; do
    grep -q "^ $kv" <<<"$snap_a" || lab_fail "A's /xlmig never had $kv"
done
for kv in 'role = "target"' "domain = \"$g\"" "domid = \"$d\""; do
    grep -q "^ $kv" <<<"$snap_b" || lab_fail "B's /xlmig never had $kv"
done
grep -Eq '^ phase = "(restored|running)"' <<<"$snap_b" ||
    lab_fail "B's /xlmig was never seen in phase restored or running"

# the hooks: pre-blackout saw the subtree live, post-migrate saw it final
hooks_a=$(lab_exec -t 30 A "cat /tmp/xsh-hooks.log")
hooks_b=$(lab_exec -t 30 B "cat /tmp/xsh-hooks.log")
printf '%s\n' "$hooks_a" | sed 's/^/    A hooks| /'
printf '%s\n' "$hooks_b" | sed 's/^/    B hooks| /'
grep -q "^hook pre-migrate domain=$g .*role=source" <<<"$hooks_a" ||
    lab_fail "no pre-migrate hook on A"
pb=$(sed -n '/^hook pre-blackout/,/^hook /p' <<<"$hooks_a")
grep -q '^  state: phase = "pre-blackout"' <<<"$pb" ||
    lab_fail "the pre-blackout hook did not see phase pre-blackout"
grep -q '^  state: predicted-blackout-ms = "[0-9]*"' <<<"$pb" ||
    lab_fail "the pre-blackout hook did not see predicted-blackout-ms"
for h in A B; do
    [ $h = A ] && hl=$hooks_a role=source || hl=$hooks_b role=target
    grep -q "^hook post-migrate domain=$g .*role=$role.*result=ok" <<<"$hl" ||
        lab_fail "no post-migrate hook on $h"
    sed -n '/^hook post-migrate/,$p' <<<"$hl" | grep -q '^  state: result = "ok"' ||
        lab_fail "$h's post-migrate hook did not see result ok"
    sed -n '/^hook post-migrate/,$p' <<<"$hl" | grep -q '^  state: phase = "done"' ||
        lab_fail "$h's post-migrate hook did not see phase done"
done
xsh_state_empty A
xsh_state_empty B
lab_log "state subtree live on A and B, final at the end, removed on both"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
xsh_no_leak A "$paths_a"
xsh_no_leak B "$paths_b"
lab_log "no xenstore node left on A or B"
