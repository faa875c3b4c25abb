#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# xenstore hooks, a guest that does not listen (xlmig-hooks(7)):
#  1. a failing pre-migrate hook aborts before anything touches the guest:
#     exit 1 with the hook's name, the transport never started, no notice
#     key written, no state node, the guest runs with its memory intact;
#  2. a failed migration (no receiver) after the notice: the guest keeps
#     running, its notice reads "none" again, the failed hook ran and saw
#     the subtree final (result failed, phase done), no state node is
#     left and nothing was created on B;
#  3. a successful migration is not held up by the notice (not waited
#     for), and no xenstore node is left on either host.
set -u
# shellcheck source=tests/xen/xsh-lib.sh
. "$(dirname "$0")/xsh-lib.sh"
xsh_test_begin

g=xsh302 ip=192.168.77.52
paths_a=$(xsh_paths A)
paths_b=$(xsh_paths B)
lab_guest_create A "$g" pvh 128 "$ip" 0 0 16
d=$(xsh_domid A "$g") || lab_fail "no domid for $g"

# 1. pre-migrate hook refuses
xsh_hooks_setup A /tmp/xsh-deny pre-migrate
out=$(lab_exec -t 120 A "rm -f /tmp/xsh-rune-ran
    /xlmig/xlmig migrate --no-progress --hooks-dir /tmp/xsh-deny -s '' $g \
        'touch /tmp/xsh-rune-ran; false' 2>&1
    echo rc=\$?
    [ -e /tmp/xsh-rune-ran ] && echo rune-ran
    xenstore-list /local/domain/$d/data 2>/dev/null | grep xlmig |
        sed 's/^/key: /'")
printf '%s\n' "$out" | sed 's/^/    send| /'
grep -q '^rc=1$' <<<"$out" || lab_fail "pre-migrate refusal: exit is not 1"
grep -q '^migration aborted: pre-migrate hook 10-record failed$' <<<"$out" ||
    lab_fail "pre-migrate refusal: no 'migration aborted' line"
grep -q '^rune-ran$' <<<"$out" && lab_fail "the transport was started"
grep -q '^key: ' <<<"$out" && lab_fail "notice keys were written"
[ "$(xsh_domid A "$g")" = "$d" ] || lab_fail "$g changed domid"
st=$(lab_guest_state A "$g") || lab_fail "$g gone from A"
case $st in *p* | *s*) lab_fail "$g is not running ($st)" ;; esac
xsh_state_empty A
v=$(lab_guest_verify A "$ip") || lab_fail "memory check after refusal: $v"
lab_log "pre-migrate refusal: guest untouched ($st, domid $d), memory $v"

# 2. failed migration after the notice
xsh_hooks_setup A /tmp/xsh-hooks
mig_port=5302 # nobody listens there
mig_send A B "$g" xlmig "--notice 60 --hooks-dir /tmp/xsh-hooks"
mig_expect_backout connect "reading banner" "$g" "$ip"
grep -q '"event":"notice","listening":false,"acked":false,"wait_ms":0' \
    <<<"$mig_json" || lab_fail "notice event: $(grep notice <<<"$mig_json")"
ev=$(lab_exec -t 30 A "xenstore-read /local/domain/$d/data/xlmig/maintenance-event")
[ "$ev" = none ] || lab_fail "after the failure the notice reads '$ev'"
hooks=$(lab_exec -t 30 A "cat /tmp/xsh-hooks.log")
printf '%s\n' "$hooks" | sed 's/^/    A hooks| /'
grep -q "^hook failed domain=$g .*result=failed" <<<"$hooks" ||
    lab_fail "no failed hook"
fh=$(sed -n '/^hook failed/,$p' <<<"$hooks")
grep -q '^  state: result = "failed"' <<<"$fh" ||
    lab_fail "the failed hook did not see result failed"
grep -q '^  state: phase = "done"' <<<"$fh" ||
    lab_fail "the failed hook did not see phase done"
xsh_state_empty A
xsh_no_leak B "$paths_b"
lab_log "failed migration: notice back to none, failed hook ran, no state"

# 3. success without waiting
mig_port=5303
mig_hop A B "$g" "$ip" xlmig xlmig "--notice 60 --hooks-dir /tmp/xsh-hooks"
notice=$(grep '"event":"notice"' <<<"$mig_json")
lab_log "sender: $notice"
grep -q '"listening":false,"acked":false,"wait_ms":0' <<<"$notice" ||
    lab_fail "a guest that does not listen was waited for: $notice"
xsh_state_empty A
xsh_state_empty B
lab_log "success: not waited for, no state left"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
xsh_no_leak A "$paths_a"
xsh_no_leak B "$paths_b"
lab_log "no xenstore node left on A or B"
