#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers of the xenstore-hooks lab tests (tests/xen/3NN-*.sh), on top of
# migrate-lib.sh (and tests/lab/lib.sh).  /xlmig in each dom0 is build/.
#
#   xsh_test_begin                    lab_test_begin stock, plus: the
#                                     /xlmig watchers, receivers on ports
#                                     53xx and senders are stopped on both
#                                     hosts at the start and on every exit
#   xsh_guest_create HOST NAME MEM_MIB IP   the test guest (PVH, idle
#                                     workload) with the notice listener:
#                                     its initramfs plus build/'s
#                                     xsh-guest-extra.cpio.gz, booted with
#                                     rdinit=/xsh-init
#   xsh_console_wait HOST NAME WORD SECS   WORD in the guest's console log
#   xsh_hooks_setup HOST DIR [FAIL_STAGE]  a recording hook in DIR (log
#                                     DIR.log: stage, env, the state keys
#                                     it sees); exits 3 at FAIL_STAGE
#   xsh_state_empty HOST              nothing under /xlmig
#   xsh_paths HOST                    all xenstore paths of dom0, sorted
#   xsh_no_leak HOST BEFORE           the paths are BEFORE's again (no
#                                     node left), /xlmig is empty
#   xsh_state_watch_start HOST        snapshot /xlmig in dom0 whenever it
#   xsh_state_watch_stop HOST         changes (every 0.2 s); stop prints
#                                     the snapshots, "--" between them
#   xsh_domid HOST NAME

# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/migrate-lib.sh"

xsh_cleanup()
{
    local h
    for h in $lab_hosts; do
        lab_exec -t 30 "$h" "
            [ -f /tmp/xsh-state-watch.pid ] &&
                kill \$(cat /tmp/xsh-state-watch.pid) 2>/dev/null
            rm -f /tmp/xsh-state-watch.pid
            $(mig_kill_cmd 'TCP-LISTEN:53[0-9][0-9]|xlmig migrate')" \
            >/dev/null 2>&1
    done
}

xsh_test_begin()
{
    local h pre
    lab_test_begin stock
    xsh_cleanup
    # shellcheck disable=SC2154 # xsh_rc_ is set inside the trap
    trap 'xsh_rc_=$?; xsh_cleanup; lab_test_end $xsh_rc_' EXIT
    # state subtrees an earlier test left: named, not this test's leak
    for h in $lab_hosts; do
        pre=$(lab_exec -t 30 "$h" "xenstore-list /xlmig 2>/dev/null") || true
        xsh_pre_nodes="${xsh_pre_nodes:-} $(printf '%s\n' "$pre" | sed "s/^/$h:/" | tr '\n' ' ')"
        [ -z "$pre" ] || echo "report: /xlmig on $h already held" \
            "$(printf '%s\n' "$pre" | tr '\n' ' ')when this test began" \
            "(left by an earlier test; ignored here)"
    done
}

xsh_domid() { lab_exec -t 30 "$1" "xl domid $2" | grep -E '^[0-9]+$'; }

xsh_guest_create() # xsh_guest_create HOST NAME MEM IP: with the listener
{
    lab_guest_notice=probe lab_guest_create "$1" "$2" pvh "$3" "$4" 0 0 16
}

# xsh_console_wait HOST NAME WORD SECS: prints the first matching line.
# The console log of a migrated-in guest may carry its --incoming name.
xsh_console_wait()
{
    lab_exec -t $(($4 + 30)) "$1" "
        i=0
        while [ \$i -lt $(($4 * 10)) ]; do
            l=\$(cat /var/log/xen/console/guest-$2.log \
                /var/log/xen/console/guest-$2--incoming.log 2>/dev/null |
                tr -d '\r' | grep -a -m1 -- '$3') && { echo \"\$l\"; exit 0; }
            i=\$((i + 1)); sleep 0.1
        done
        exit 1"
}

xsh_hooks_setup() # xsh_hooks_setup HOST DIR [FAIL_STAGE]
{
    lab_exec -t 30 "$1" "rm -rf $2 $2.log; mkdir -p $2
        cat >$2/10-record <<'XSH_EOF'
#!/bin/sh
# xenstore-hooks lab test: record the stage, the environment and the
# state keys this hook can see
{
    echo \"hook \$1 domain=\$2 peer=\$3 role=\$XLMIG_ROLE\" \\
        \"domid=\$XLMIG_DOMID uuid=\$XLMIG_UUID result=\$XLMIG_RESULT\"
    [ -n \"\$XLMIG_UUID\" ] &&
        xenstore-ls /xlmig/\$XLMIG_UUID 2>/dev/null | sed 's/^/  state: /'
} >>$2.log
[ \"\$1\" != '${3:-none}' ] || exit 3
exit 0
XSH_EOF
        chmod 755 $2/10-record" || lab_fail "cannot write the hooks on $1"
}

xsh_state_empty() # xsh_state_empty HOST: fails if /xlmig has children
{                  # (but those it held when xsh_test_begin ran)
    local out n left=
    out=$(lab_exec -t 30 "$1" "xenstore-list /xlmig 2>/dev/null") || true
    for n in $out; do
        case " ${xsh_pre_nodes:-} " in *" $1:$n "*) continue ;; esac
        left="$left $n"
    done
    [ -z "$left" ] || lab_fail "state nodes left under /xlmig on $1:$left"
}

xsh_paths() # xsh_paths HOST: every xenstore path in dom0, sorted
{
    lab_exec -t 60 "$1" "xenstore-ls -f / | sed 's/ = .*//' | sort" ||
        lab_fail "cannot list xenstore on $1"
}

# xsh_no_leak HOST BEFORE: the paths now are BEFORE's (from xsh_paths
# before the test made anything), and nothing is under /xlmig
xsh_no_leak()
{
    local now diff
    now=$(xsh_paths "$1")
    # (the top-level /xlmig, and libxl's /libxl and /vm, stay once made,
    # empty: their children are compared)
    diff=$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$now") |
        grep '^[<>]' | grep -vxE '[<>] /(xlmig|libxl|vm)') || true
    [ -z "$diff" ] ||
        lab_fail "xenstore on $1 differs from before the test: $diff"
    xsh_state_empty "$1"
}

xsh_state_watch_start() # xsh_state_watch_start HOST
{
    lab_exec -t 30 "$1" "rm -f /tmp/xsh-state.log
        cat >/tmp/xsh-state-watch <<'XSH_EOF'
#!/bin/sh
# xenstore-hooks lab test: a snapshot of /xlmig whenever it changes
prev=
while :; do
    cur=\$(xenstore-ls /xlmig 2>/dev/null)
    if [ \"\$cur\" != \"\$prev\" ]; then
        printf '%s\\n--\\n' \"\$cur\" >>/tmp/xsh-state.log
        prev=\$cur
    fi
    sleep 0.2
done
XSH_EOF
        chmod 755 /tmp/xsh-state-watch
        setsid /tmp/xsh-state-watch </dev/null >/dev/null 2>&1 &
        echo \$! >/tmp/xsh-state-watch.pid" ||
        lab_fail "cannot start the /xlmig watcher on $1"
}

xsh_state_watch_stop() # xsh_state_watch_stop HOST: prints the snapshots
{
    lab_exec -t 30 "$1" "kill \$(cat /tmp/xsh-state-watch.pid) 2>/dev/null
        rm -f /tmp/xsh-state-watch.pid
        cat /tmp/xsh-state.log 2>/dev/null"
}
