# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The fault matrix on nested Xen (issue 10, reliability.md §4.5).  One lab,
# one memtest guest, xlmigd (TLS, tests/tls/mk-certs) on both hosts.  A
# cell migrates the guest from where it runs to the other host with one
# fault armed (XLMIG_FAULT, engine/fault.h) in the sender or, through
# xlmigd's environment, in the receiver, then:
#   1. cleans up as an operator would: stopped or killed xlmig processes
#      are killed, 'xlmig journal-sweep' runs on both hosts;
#   2. checks: exactly one running copy (or, in the in-doubt rows, the
#      in-doubt message and both copies paused), the memory check, no
#      leftover domain, xlmig process or non-terminal journal record;
#   3. migrates the guest once more without a fault (the follow-up).
# fault_cell POINT ACTION prints one table row "POINT ACTION RESULT".
#
# Actions: error (the step fails), kill (kill -9 of the process itself),
# stop (SIGSTOP of itself: a hung peer, one that stops reading; the driver
# kills it after the other side has given up), link (the process takes
# its own dom0's lab link down at the point, through the fault's hook,
# and goes on: the peer disappears without a word, packets vanish both
# ways; the driver brings the link up once the sender ended).  Points
# starting with recv- fire in the receiver (under xlmigd), the others in
# 'xlmig migrate'.

# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/migrate-lib.sh"

fl_root=${XLMIG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
fl_build=${XLMIG_BUILD:-$fl_root/build}
fl_g=mig501 fl_ip=192.168.77.51
fl_cur=A fl_oth=B
fl_rows=()
fl_fails=0

# dom0 command: stop xlmigd (busybox has no pkill), -9 after 5 s
fl_kill_daemon="killall xlmigd 2>/dev/null; i=0
        while pidof xlmigd >/dev/null && [ \$i -lt 50 ]; do
            i=\$((i + 1)); sleep 0.1; done
        killall -9 xlmigd 2>/dev/null; true"

fl_other() { [ "$1" = A ] && echo B || echo A; }

# the link action's hook: this dom0's lab-link NIC down (the bridge
# xenbr0 and its address stay: the local guest stays reachable)
# shellcheck disable=SC2016 # expanded in dom0, by the hook's shell
fl_link_down='ip link set dev "$(cat /run/lab-link-dev)" down'

fl_link_up() # fl_link_up: both lab-link NICs up, until A reaches B
{
    local h
    for h in A B; do
        # shellcheck disable=SC2016 # expanded in dom0
        lab_exec -t 30 "$h" 'ip link set dev "$(cat /run/lab-link-dev)" up' ||
            lab_fail "cannot bring the lab link of $h up"
    done
    lab_exec -t 90 A "i=0; until ping -c 1 -W 1 $(lab_host_ip B) >/dev/null 2>&1; do
        i=\$((i + 1)); [ \$i -gt 60 ] && exit 1; sleep 1; done" ||
        lab_fail "the lab link does not carry A -> B after bringing it up"
}

fl_setup()
{
    local pki=$fl_build/tls-lab
    rm -rf "$pki"
    "$fl_root/tests/tls/mk-certs" "$pki" >/dev/null || lab_fail "mk-certs failed"
    fl_mkconf "$pki/a.conf" host-a host-b
    fl_mkconf "$pki/b.conf" host-b host-a
    chmod -R a+r "$pki"
    lab_exec -t 30 A "rm -rf /var/lib/xlmig/journal" >/dev/null
    lab_exec -t 30 B "rm -rf /var/lib/xlmig/journal" >/dev/null
    fl_daemon A "" || lab_fail "xlmigd did not start on A"
    fl_daemon B "" || lab_fail "xlmigd did not start on B"
    lab_guest_create A "$fl_g" pvh 128 "$fl_ip" 100 0 32
}

fl_mkconf() { # fl_mkconf FILE CERT PEER
    printf '%s\n' "mode = x509" "ca = /xlmig/tls-lab/ca.pem" \
        "cert = /xlmig/tls-lab/$2.pem" "key = /xlmig/tls-lab/$2.key" \
        "allow = $3" "port = 8002" "handshake-timeout-ms = 60000" >"$1"
}

# fl_daemon HOST FAULT [HOOK]: (re)start xlmigd on HOST, its receivers
# armed with FAULT ("" none) and the fault hook HOOK; the start-up sweep
# runs first
fl_daemon()
{
    local h=$1 f=$2 he="" c
    [ -n "${3:-}" ] && he="XLMIG_FAULT_HOOK='$3'"
    c=$(echo "$h" | tr AB ab).conf
    lab_exec -t 120 "$h" "
        $fl_kill_daemon; rm -f /tmp/xlmigd.log
        ${f:+XLMIG_FAULT=$f} $he /xlmig/xlmigd -F -c /xlmig/tls-lab/$c \
            --receiver /xlmig/xlmig >/tmp/xlmigd.log 2>&1 </dev/null &
        i=0; until grep -q 'listening on port' /tmp/xlmigd.log; do
            i=\$((i + 1)); [ \$i -gt 900 ] && { cat /tmp/xlmigd.log; exit 1; }
            sleep 0.1; done"
}

fl_stop_daemons()
{
    local h
    for h in A B; do
        lab_exec -t 30 "$h" "$fl_kill_daemon" >/dev/null 2>&1
    done
}

# fl_migrate TAG FAULT [HOOK]: start the migration fl_cur -> fl_oth in
# dom0 (background, polled); FAULT arms the sender ("" none), HOOK is
# its fault hook
fl_migrate_start()
{
    local tag=$1 f=$2 he="" ipo c
    [ -n "${3:-}" ] && he="XLMIG_FAULT_HOOK='$3'"
    ipo=$(lab_host_ip "$fl_oth")
    c=$(echo "$fl_cur" | tr AB ab).conf
    lab_exec -t 60 "$fl_cur" "
        rm -f /tmp/f-$tag.log /tmp/f-$tag.out
        (${f:+XLMIG_FAULT=$f} $he XLMIG_HANDOVER_TIMEOUT_MS=120000 \
         XLMIG_QUERY_TRIES=4 /xlmig/xlmig migrate --no-progress -s '' $fl_g \
            'exec /xlmig/xlmig-tls-connect -c /xlmig/tls-lab/$c $ipo:8002' \
            >/tmp/f-$tag.out 2>&1
         echo \"rc=\$?\" >>/tmp/f-$tag.out
         mv /tmp/f-$tag.out /tmp/f-$tag.log) </dev/null >/dev/null 2>&1 &" ||
        lab_fail "cannot start the migration on $fl_cur"
}

# fl_wait TAG DEADLINE_S [PATTERN]: until the migration ended, or (with
# PATTERN) until its output shows PATTERN; prints the output so far
fl_wait()
{
    local tag=$1 end=$((SECONDS + $2)) pat=${3:-} out=""
    while [ $SECONDS -lt $end ]; do
        sleep 3
        out=$(lab_exec -t 30 "$fl_cur" "cat /tmp/f-$tag.log 2>/dev/null ||
            { [ -n '$pat' ] && grep -q -e '$pat' /tmp/f-$tag.out &&
              cat /tmp/f-$tag.out; }") || continue
        [ -n "$out" ] && break
    done
    printf '%s\n' "$out"
}

fl_state() { # fl_state HOST: xl's state of the guest, "-" if absent
    local s
    s=$(lab_exec -t 30 "$1" "xl list 2>/dev/null | awk '\$1 ~ /^$fl_g(--incoming|--migratedaway)?\$/ { print \$1 \":\" \$5 }'")
    echo "${s:--}"
}

# fl_cleanup: kill stuck xlmig processes (stopped ones too) on both
# hosts, then sweep the target's journal (its incoming copy destroyed, its
# answer definite) before the source's (an in-doubt record asks the
# target); prints the sweeps' output
fl_cleanup()
{
    local h
    for h in A B; do
        lab_exec -t 60 "$h" "
            for p in \$(ps | grep -e 'xlmig migrate' -e 'migrate-receive' -e 'xlmig-tls-connect' |
                    grep -v grep | awk '{ print \$1 }'); do
                kill -9 \$p 2>/dev/null; done
            sleep 1" >/dev/null
    done
    for h in "$fl_oth" "$fl_cur"; do
        lab_exec -t 120 "$h" "echo \"sweep $h:\"; /xlmig/xlmig journal-sweep 2>&1" |
            sed 's/^/      /'
    done
}

fl_leaks() { # fl_leaks [ALLOW_PAUSED]: prints what leaked, if anything
    local h out
    for h in A B; do
        out=$(lab_exec -t 30 "$h" "
            xl list | awk 'NR > 1 { print \$1 }' | grep -e '--incoming\$' -e '--migratedaway\$'
            ps | grep -e 'xlmig migrate' -e 'migrate-receive' | grep -v grep
            grep -l -E '^phase=(sending|go-sent|receiving|ready|running)\$' \
                /var/lib/xlmig/journal/*.* 2>/dev/null
            xenstore-ls /local/domain 2>/dev/null | grep -c -e '--incoming' -e '--migratedaway' | grep -v '^0\$'
            xenstore-list /xlmig 2>/dev/null | sed 's,^,xenstore /xlmig/,'
            ip -o link 2>/dev/null | awk -F': ' '\$2 ~ /^(nfwd|nfwb)/ { print \"link \" \$2 }'
            true")
        [ -n "$out" ] && printf '%s: %s\n' "$h" "$(tr "\n" " " <<<"$out")"
    done
}

# fl_followup TAG: the guest migrates once more without a fault, memory
# intact (FL_FOLLOWUP=end: once after all cells instead of after each)
fl_followup()
{
    local out v
    fl_migrate_start "$1-follow" ""
    out=$(fl_wait "$1-follow" 1500)
    if ! grep -q '^rc=0$' <<<"$out"; then
        printf '%s\n' "$out" | sed 's/^/      follow| /'
        return 1
    fi
    lab_move_guest "$fl_cur" "$fl_oth" "$fl_g"
    fl_cur=$fl_oth fl_oth=$(fl_other "$fl_oth")
    fl_cleanup >/dev/null
    v=$(lab_guest_verify "$fl_cur" "$fl_ip") || return 1
    [ -z "$(fl_leaks)" ] || return 1
    lab_log "   follow-up migration ok: $fl_g runs on $fl_cur, memory $v"
}

# fl_refresh: the test guest's kernel (Debian 6.1, PVH) loses ~1 MiB of
# MemAvailable per suspend/resume, with stock xl as with xlmig (measured:
# 19800 -> 15436 KiB over two xlmig and two xl hops), and the matrix
# suspends it ~2-3 times a cell: once below FL_MIN_AVAIL_KIB its memtest
# would be OOM-killed (a full run saw it at the 18th cell), so a fresh
# guest replaces it on the host it runs on.
FL_MIN_AVAIL_KIB=${FL_MIN_AVAIL_KIB:-8192}
fl_refresh()
{
    local info avail
    info=$(lab_guest_ask "$fl_cur" "$fl_ip" info)
    avail=${info##*mem_avail_kib=}
    avail=${avail%% *}
    case $avail in '' | *[!0-9]*) return 0 ;; esac
    [ "$avail" -lt "$FL_MIN_AVAIL_KIB" ] || return 0
    lab_log "   guest MemAvailable $avail KiB: a fresh $fl_g on $fl_cur"
    lab_guest_destroy "$fl_cur" "$fl_g"
    lab_guest_create "$fl_cur" "$fl_g" pvh 128 "$fl_ip" 100 0 32
}

# fl_cell POINT ACTION: one cell; appends a row to fl_rows
fl_cell()
{
    local point=$1 act=$2 tag spec sf="" rf="" sh="" rh="" hook=""
    local out sa sb run="" v ld res="ok" doubt=0 lk note="" tl=""
    tag=$(echo "$point-$act" | tr -c 'a-z0-9-' '-')
    spec="$point:$act"
    [ "$act" = link ] && spec="$point:hook" hook=$fl_link_down
    case $point in recv-*) rf=$spec rh=$hook ;; *) sf=$spec sh=$hook ;; esac
    fl_refresh
    lab_log "== cell $point:$act: $fl_g $fl_cur -> $fl_oth"
    fl_daemon "$fl_oth" "$rf" "$rh" || lab_fail "xlmigd on $fl_oth did not start"
    fl_migrate_start "$tag" "$sf" "$sh"
    if [ "$act" = stop ] && [ -n "$sf" ]; then
        # the sender hangs: once the fault fired, give the receiver the
        # time to act, then kill the stopped sender (as an operator would)
        out=$(fl_wait "$tag" 900 'fault injected')
        sleep 20
    else
        out=$(fl_wait "$tag" 1500)
        sleep 10 # the receiver finishes what it can on its own
    fi
    [ "$act" = link ] && fl_link_up
    printf '%s\n' "$out" | sed 's/^/      send| /'
    lab_exec -t 30 "$fl_oth" "tail -n 12 /tmp/xlmigd.log" 2>/dev/null |
        sed 's/^/      recv| /'
    # a receiver that crashed (SIGILL..SIGFPE, SIGSEGV; kill -9 is 137)
    if lab_exec -t 30 "$fl_oth" \
        "grep -q -E 'receive failed \(status 13[2-69]\)' /tmp/xlmigd.log"; then
        tl="the receiver crashed"
    fi
    grep -q 'IN DOUBT' <<<"$out" && doubt=1
    # a sender that ended takes its transport with it (bounded by the
    # TLS user timeout, 30 s), whatever the receiver does
    if grep -q '^rc=' <<<"$out" && ! lab_exec -t 90 "$fl_cur" "i=0
            while ps | grep -v grep | grep -q xlmig-tls-connect; do
                i=\$((i + 1)); [ \$i -gt 40 ] && exit 1; sleep 1; done"; then
        tl="${tl:+$tl; }xlmig-tls-connect outlived the sender"
    fi
    fl_cleanup
    # restore the receivers' daemon without a fault (its sweep runs too)
    fl_daemon "$fl_oth" "" >/dev/null || true
    sa=$(fl_state "$fl_cur") sb=$(fl_state "$fl_oth")
    lab_log "   after: $fl_cur $sa, $fl_oth $sb"
    case "$sa $sb" in
    "$fl_g:"*" -" | "$fl_g:"*" $fl_g--incoming:"*) run=$fl_cur ;;
    "- $fl_g:"* | "$fl_g--migratedaway:"*" $fl_g:"*) run=$fl_oth ;;
    esac
    if [ -n "$run" ]; then
        case $([ "$run" = "$fl_cur" ] && echo "$sa" || echo "$sb") in
        *:*p*) res="FAIL(paused)" run="" ;;
        esac
    fi
    if [ -z "$run" ]; then
        if [ $doubt = 1 ]; then
            res="in-doubt"
            note="both paused: $sa / $sb"
        else
            res="FAIL(placement $sa / $sb)"
        fi
    else
        v=$(lab_guest_verify "$run" "$fl_ip") || res="FAIL(memory: $v)"
        lab_log "   runs on $run, memory $v"
        # a sender that died mid-precopy leaves log-dirty mode on
        ld=$(lab_exec -t 30 "$run" \
            "/xlmig/tests/xen/xlmig-logdirty-probe \$(xl domid $fl_g)" 2>&1)
        [ "$ld" = "log-dirty off" ] || [ "$res" != ok ] ||
            res="FAIL(log-dirty)" note=$ld
        if [ "$run" = "$fl_oth" ]; then
            lab_move_guest "$fl_cur" "$fl_oth" "$fl_g"
            fl_cur=$fl_oth
            fl_oth=$(fl_other "$fl_cur")
        fi
    fi
    lk=$(fl_leaks)
    if [ -n "$lk" ] && [ "$res" != in-doubt ]; then
        res="FAIL(leak)"
        note="$lk"
    fi
    if [ -n "$tl" ] && { [ "$res" = ok ] || [ "$res" = in-doubt ]; }; then
        res="FAIL" note="$tl"
    fi
    if [ "${FL_FOLLOWUP:-each}" = each ] && { [ "$res" = ok ] || [ "$res" = in-doubt ]; }; then
        fl_followup "$tag" || res="FAIL(follow-up)"
    fi
    [ "$res" = ok ] || [ "$res" = in-doubt ] || fl_fails=$((fl_fails + 1))
    fl_rows+=("$(printf '%-20s %-6s %-5s %s %s' "$point" "$act" \
        "${run:-none}" "$res" "$note")")
    lab_log "   cell $point:$act: $res${note:+ ($note)}"
}

fl_table()
{
    local r
    {
        echo "fault matrix (point, action, guest runs on, result):"
        printf '%-20s %-6s %-5s %s\n' POINT ACTION RUNS RESULT
        for r in "${fl_rows[@]}"; do echo "$r"; done
    } | tee "$fl_build/faults-matrix.table"
}
