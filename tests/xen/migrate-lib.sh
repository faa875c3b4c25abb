#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers of the xlmig migrate interop tests (tests/xen/1NN-*.sh), on top
# of tests/lab/lib.sh.  The repository's build/ is /xlmig in each dom0.
#
#   mig_recv_start HOST PORT RECEIVER   one-shot socat receiver on HOST
#                                       running RECEIVER (xlmig | xl) as
#                                       'migrate-receive' on stdin/stdout,
#                                       or sh:SCRIPT (a shell command line)
#   mig_send SRC DST NAME SENDER [ARGS] SENDER (xlmig | xl) migrates NAME
#                                       over the socat rune (-s '', as
#                                       Ganeti does); sets mig_rc, mig_s,
#                                       mig_out, mig_json (xlmig only)
#   mig_recv_log HOST PORT [RECEIVER]   wait for the receiver, print its log
#   mig_hop SRC DST NAME IP SENDER RECEIVER
#                                       all of it plus placement and memory
#                                       check; fails on any failure
#   mig_no_leftovers                    no --incoming / --migratedaway /
#                                       nameless domain, no migrate or
#                                       save-helper process, no xenstore
#                                       node of a domain that is gone, on A, B
#   mig_logdirty_off HOST NAME          log-dirty is off for NAME on HOST

# shellcheck source=tests/lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lab/lib.sh"

mig_port=5100
mig_send_env= # VAR=value words before the sender's command (mig_send)

# mig_test_begin [stock|shadow]: lab_test_begin, plus: receivers and
# migrations of these tests (ports 5100-5199) are stopped on both hosts at
# the start and on every exit path.
mig_test_begin()
{
    lab_test_begin "$@"
    mig_cleanup
    # shellcheck disable=SC2154 # mig_rc_ is set inside the trap
    trap 'mig_rc_=$?; mig_cleanup; lab_test_end $mig_rc_' EXIT
}

# mig_kill_cmd REGEX: dom0 shell command killing the processes whose
# command line matches REGEX (dom0 has no pkill)
mig_kill_cmd()
{
    printf '%s' "for p in \$(ps | grep -E '$1' | grep -v grep | awk '{ print \$1 }'); do kill \$p; done; true"
}

mig_cleanup()
{
    local h
    for h in $lab_hosts; do
        lab_exec -t 30 "$h" "$(mig_kill_cmd 'TCP-LISTEN:51[0-9][0-9]|xlmig migrate')" \
            >/dev/null 2>&1
    done
}

mig_recv_start() # mig_recv_start HOST PORT xlmig|xl [ARGS]
{
    local h=$1 port=$2 who=$3 args=${4:-} cmd
    case $who in
    xlmig) cmd="/xlmig/xlmig migrate-receive" ;;
    xl) cmd="xl migrate-receive" ;;
    sh:*)
        lab_exec -t 30 "$h" "cat >/tmp/mig-recv-$port.sh <<'MIG_EOF'
${who#sh:}
MIG_EOF" || lab_fail "cannot write the receiver script on $h"
        cmd="sh /tmp/mig-recv-$port.sh"
        ;;
    *) lab_fail "receiver '$who'" ;;
    esac
    # no trailing blank: socat would pass an empty argument, and stock xl
    # prints its help on stdout, i.e. into the stream
    [ -z "$args" ] || cmd="$cmd $args"
    lab_exec -t 60 "$h" "
        rm -f /tmp/mig-recv-$port.log
        (socat -b524288 TCP-LISTEN:$port,reuseaddr EXEC:'$cmd' \
            >/tmp/mig-recv-$port.log 2>&1
         echo \"receiver exit status \$?\" >>/tmp/mig-recv-$port.log) \
            >/dev/null 2>&1 </dev/null &
        i=0
        until netstat -ltn | grep -q ':$port '; do
            i=\$((i + 1)); [ \$i -gt 100 ] && exit 1; sleep 0.1
        done" || lab_fail "receiver on $h did not start"
}

# mig_recv_log HOST PORT [RECEIVER]: prints it, sets mig_recv_out.  A stock
# xl receiver (RECEIVER xl) leaves its daemonised child 'xl
# migrate-receive' watching the domain until it dies: not waited for.
mig_recv_log()
{
    local wait_rcv="
        # a receiver run by a script outlives socat: let it clean up
        i=0
        while ps | grep -v grep | grep -q 'migrate-receive'; do
            i=\$((i + 1)); [ \$i -gt 600 ] && break; sleep 0.1
        done"
    [ "${3:-}" = xl ] && wait_rcv=
    mig_recv_out=$(lab_exec -t 240 "$1" "
        i=0
        until grep -q 'receiver exit status' /tmp/mig-recv-$2.log; do
            i=\$((i + 1)); [ \$i -gt 600 ] && break; sleep 0.1
        done
        $(mig_kill_cmd "TCP-LISTEN:$2")
        $wait_rcv
        cat /tmp/mig-recv-$2.log")
    printf '%s\n' "$mig_recv_out" | sed 's/^/    recv| /'
}

# mig_send SRC DST NAME xlmig|xl [EXTRA ARGS]
mig_send()
{
    local src=$1 dst=$2 name=$3 who=$4 extra=${5:-} dip bin json=
    dip=$(lab_host_ip "$dst")
    case $who in
    xlmig)
        bin="/xlmig/xlmig migrate --json /tmp/mig-$name.json $extra"
        json=1
        ;;
    xl) bin="xl migrate $extra" ;;
    *) lab_fail "sender '$who'" ;;
    esac
    lab_log "migrate $name $src -> $dst: $who sends (to port $mig_port)"
    mig_out=$(lab_exec -t 1200 "$src" "
        rm -f /tmp/mig-$name.json
        t0=\$(cut -d' ' -f1 /proc/uptime)
        $mig_send_env $bin -s '' $name 'socat -b524288 - TCP:$dip:$mig_port' 2>&1
        rc=\$?
        t1=\$(cut -d' ' -f1 /proc/uptime)
        echo \"mig-result rc=\$rc s=\$(echo \$t0 \$t1 | awk '{ printf \"%.2f\", \$2 - \$1 }')\"")
    printf '%s\n' "$mig_out" | grep -v '^mig-result' | sed 's/^/    send| /'
    mig_rc=$(sed -n 's/^mig-result rc=\([0-9]*\) .*/\1/p' <<<"$mig_out")
    mig_s=$(sed -n 's/^mig-result rc=[0-9]* s=//p' <<<"$mig_out")
    [ -n "$mig_rc" ] || mig_rc=255
    mig_json=
    if [ -n "$json" ]; then
        mig_json=$(lab_exec -t 30 "$src" "cat /tmp/mig-$name.json" 2>/dev/null)
        printf '%s\n' "$mig_json" | grep '"done"' | sed 's/^/    json| /'
    fi
    lab_log "sender rc=$mig_rc time=${mig_s:-?} s"
}

# mig_hop SRC DST NAME IP SENDER RECEIVER [SENDER ARGS] [RECEIVER ARGS]
mig_hop()
{
    local src=$1 dst=$2 name=$3 ip=$4 snd=$5 rcv=$6
    mig_port=$((mig_port + 1))
    mig_recv_start "$dst" "$mig_port" "$rcv" "${8:-}"
    mig_send "$src" "$dst" "$name" "$snd" "${7:-}"
    mig_recv_log "$dst" "$mig_port" "$rcv"
    [ "$mig_rc" -eq 0 ] || lab_fail "$snd -> $rcv migration of $name failed"
    grep -q '^Migration successful\.' <<<"$mig_out" ||
        lab_fail "no 'Migration successful.' from the sender"
    lab_move_guest "$src" "$dst" "$name"
    lab_check_placement "$dst" "$src" "$name"
    lab_mig_s=$mig_s lab_mig_bytes="(see json)"
    lab_report_hop "$dst" "$name" "$ip"
}

mig_no_leftovers()
{
    local h out
    for h in $lab_hosts; do
        # shellcheck disable=SC2016 # expanded in dom0
        out=$(lab_exec -t 30 "$h" "xl list | awk 'NR > 1 { print \$1 }' |
                grep -e '--incoming\$' -e '--migratedaway\$' -e '^(null)\$'
            ps | grep -e 'migrate-receive' -e 'xlmig migrate' \
                    -e 'libxl-save-helper' |
                grep -v grep | grep -v 'sh -c'
            ids=\$(xl list | awk 'NR > 1 { print \$2 }')
            for d in \$(xenstore-list /local/domain 2>/dev/null) \
                     \$(xenstore-list /libxl 2>/dev/null); do
                case \$d in *[!0-9]*) continue ;; esac
                echo \"\$ids\" | grep -qx \"\$d\" ||
                    echo \"xenstore node of gone domain \$d\"
            done") || true
        [ -z "$out" ] || lab_fail "leftovers on $h: $out"
    done
    lab_log "no leftovers: no --incoming/--migratedaway/(null) domain," \
        "no process, no xenstore node of a gone domain"
}

# mig_logdirty_off HOST NAME: log-dirty mode is off for NAME on HOST
# (tests/xen/logdirty-probe.c)
mig_logdirty_off()
{
    local out
    out=$(lab_exec -t 30 "$1" "/xlmig/tests/xen/xlmig-logdirty-probe \$(xl domid $2)" 2>&1)
    [ "$out" = "log-dirty off" ] || lab_fail "$2 on $1: $out"
}

# mig_expect_backout WHAT PHRASE NAME IP: the failed migration just done
# (mig_send) left NAME running on A with its memory intact, the sender said
# PHRASE and exited 1, and nothing is left on either host.
mig_expect_backout()
{
    local what=$1 phrase=$2 name=$3 ip=$4 st v
    [ "$mig_rc" -eq 1 ] || lab_fail "$what: sender exit $mig_rc, expected 1"
    grep -qF -- "$phrase" <<<"$mig_out" ||
        lab_fail "$what: the sender did not say '$phrase'"
    st=$(lab_guest_state A "$name") || lab_fail "$what: $name gone from A"
    case $st in
    *p* | *s* | *c* | *d*) lab_fail "$what: $name on A is not running ($st)" ;;
    esac
    v=$(lab_guest_verify A "$ip") || lab_fail "$what: memory check: $v"
    mig_logdirty_off A "$name"
    mig_no_leftovers
    lab_log "back-out ok ($what): $name runs on A ($st), log-dirty off," \
        "memory $v"
}

# mig_json_field NAME: value of "NAME": in the "done" event of mig_json
mig_json_field()
{
    grep '"done"' <<<"$mig_json" | sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p"
}
