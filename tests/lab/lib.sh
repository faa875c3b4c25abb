#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers for tests on the nested-Xen lab (tests/xen/*.sh and later ones).
# Source it, call lab_test_begin, then use the functions below.  The lab
# must be up (tests/lab/lab up --xen stock|shadow [--hvm], or 'make check').
#
#   lab_run [-t SECS] HOST CMD        run CMD in HOST's dom0 (A or B)
#   lab_guest_create HOST NAME pvh|pv|hvm MEM_MIB IP [RATE] [HOT] [MT_MIB]
#                                     xl create the test guest and wait until
#                                     its workload answers on TCP 7000 (hvm
#                                     needs the lab up with --hvm)
#   lab_guest_ask HOST IP CMD         one line command to the guest's
#                                     workload (ping verify stats reset ...)
#   lab_guest_verify HOST IP          memory check, fails unless "ok ..."
#   lab_guest_max_gap_ms HOST IP      guest-observed largest heartbeat gap
#   lab_migrate SRC DST NAME          stock xl migrate over a one-shot
#                                     receiver; sets lab_mig_rc, lab_mig_s,
#                                     lab_mig_bytes, lab_mig_out
#   lab_check_placement DST SRC NAME  running on DST, gone from SRC
#   lab_report_hop HOST NAME IP       memory check + blackout + time line
#   lab_guest_destroy HOST NAME
#   lab_leak_check                    only Domain-0 left on both hosts
#   lab_dump_failure                  consoles and xl logs (automatic on a
#                                     failing exit after lab_test_begin)

# shellcheck source=tests/lab/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

lab_guests=() # "HOST NAME" of guests this test created and not destroyed

lab_log() { printf '%s\n' "$*"; }

lab_fail()
{
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

lab_run() { lab_exec "$@"; }

# lab_test_begin [stock|shadow|hvm]: the lab must run (with that
# hypervisor; hvm: Debian's hypervisor and the dom0 variant with the device
# model, 'lab up --hvm'); on exit, guests of this test are destroyed, and on
# failure the consoles and logs are printed.
lab_test_begin()
{
    local want=${1:-} h up
    case $want in
    hvm)
        want=stock
        up="--hvm"
        ;;
    ?*) up="--xen $want" ;;
    esac
    for h in $lab_hosts; do
        [ "$(lab_exec -t 15 "$h" 'echo up' 2>/dev/null)" = up ] ||
            lab_fail "lab host $h does not answer: run 'tests/lab/lab up${up:+ $up}' first"
    done
    if [ -n "$want" ] && ! grep -qx "xen=$want" "$lab_run/state" 2>/dev/null; then
        lab_fail "the lab runs the '$(sed -n 's/^xen=//p' "$lab_run/state" 2>/dev/null)' hypervisor, this test needs '$want'"
    fi
    if [ "${1:-}" = hvm ] && ! grep -qx "hvm=1" "$lab_run/state"; then
        lab_fail "the lab's dom0 has no device model: run 'tests/lab/lab up --hvm'"
    fi
    trap 'lab_test_end $?' EXIT
    trap 'exit 130' INT TERM
}

lab_test_end()
{
    local rc=$1 g
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        lab_dump_failure >&2
    fi
    for g in "${lab_guests[@]}"; do
        # shellcheck disable=SC2086
        lab_guest_destroy $g >/dev/null 2>&1
    done
    exit "$rc"
}

lab_dump_failure()
{
    local h
    for h in $lab_hosts; do
        echo "---- host $h: console (last 25 lines)"
        tail -n 25 "$lab_run/$h.console" 2>/dev/null
        echo "---- host $h: xl list, xl logs"
        # shellcheck disable=SC2016 # expanded in dom0
        lab_exec -t 30 "$h" 'xl list
            for f in /var/log/xen/xl-*.log /tmp/lab-recv-*.log \
                /var/log/xen/console/guest-*.log; do
                [ -f "$f" ] || continue
                echo "-- $f"; tail -n 15 "$f"
            done' 2>&1
    done
}

# lab_guest_create HOST NAME pvh|pv|hvm MEM_MIB IP [RATE] [HOT] [MT_MIB]
# RATE: pages/s the workload dirties (0 idle), HOT: hot set in pages,
# MT_MIB: memory the workload holds (default a quarter of the guest's:
# the Debian kernel and the initramfs need most of a 128 MiB guest).
# lab_guest_bridge (variable, default xenbr0): the bridge of the guest's
# vif; xenbr1 is the guest network (192.168.78.0/24, docs/lab.md).
# hvm: the same kernel and initramfs by the device model's direct kernel
# boot (hvmloader, SeaBIOS, linuxboot ROM), a PV vif only (no emulated
# NIC: netfront over the Xen platform device), no display, the guest's
# console on hvc0 (xenconsoled serves it for HVM guests too) with its
# serial port as an early fallback.
lab_guest_create()
{
    local h=$1 name=$2 type=$3 mem=$4 ip=$5 rate=${6:-0} hot=${7:-0}
    local mt=${8:-$(($4 / 4))} last mac extra i out vif hvm="" rd
    local rdinit=/init initrd=/lab/guest/initrd.gz note=""
    case $type in pvh | pv | hvm) ;; *) lab_fail "guest type '$type'" ;; esac
    last=${ip##*.}
    mac=$(printf '00:16:3e:00:00:%02x' "$last")
    vif="bridge=${lab_guest_bridge:-xenbr0},mac=$mac"
    # lab_guest_notice=probe|zero: with xlmig's notice listener
    # (xenstore-hooks/guest/xsh-init; zero: it zeroes the free memory)
    case ${lab_guest_notice:-} in
    '') ;;
    probe | zero)
        rdinit=/xsh-init initrd=/tmp/$name-initrd.gz
        note=", notice listener ($lab_guest_notice)"
        ;;
    *) lab_fail "lab_guest_notice '$lab_guest_notice'" ;;
    esac
    extra="console=hvc0 rdinit=$rdinit quiet gip=$ip mt_mb=$mt mt_rate=$rate"
    [ "${lab_guest_notice:-}" = zero ] && extra="$extra xsg_zero=1"
    if [ "$type" = hvm ]; then
        extra="console=ttyS0 $extra"
        vif="type=vif,$vif"
        hvm='vga = "none"
vnc = 0
sdl = 0
serial = "pty"'
    fi
    extra="$extra mt_hot=$hot mt_seed=$last"
    lab_log "create $type guest $name on $h: ${mem} MiB, ip $ip, workload" \
        "${mt} MiB, rate $rate pages/s, hot $hot$note"
    lab_guests+=("$h $name")
    rd=""
    [ "$rdinit" = /init ] || rd="
        x=/xlmig/xenstore-hooks/guest/xsh-guest-extra.cpio.gz
        [ -f \$x ] || { echo \"no \$x (make tests)\"; exit 1; }
        cat /lab/guest/initrd.gz \$x >$initrd || exit 1"
    out=$(lab_exec -t 180 "$h" "rm -f /var/log/xen/console/guest-$name.log $rd
cat >/tmp/$name.cfg <<'EOF'
name = \"$name\"
type = \"$type\"
kernel = \"/lab/guest/vmlinuz\"
ramdisk = \"$initrd\"
extra = \"$extra\"
memory = $mem
vcpus = 1
vif = [ \"$vif\" ]
on_crash = \"preserve\"
$hvm
EOF
xl create /tmp/$name.cfg") || {
        printf '%s\n' "$out"
        lab_fail "xl create of $name on $h failed"
    }
    lab_guest_wait "$h" "$name" "$ip"
}

# lab_guest_wait HOST NAME IP: wait until the guest's workload answers on
# IP:7000; fail the test if its /init reported GUEST-FAILED or it never does.
lab_guest_wait()
{
    local h=$1 name=$2 ip=$3 out i
    for i in $(seq 150); do
        out=$(lab_exec -t 30 "$h" "
            grep -q GUEST-FAILED /var/log/xen/console/guest-$name.log 2>/dev/null &&
                echo failed && exit
            printf 'ping\nquit\n' |
                socat -t 5 -T 10 - TCP:$ip:7000,connect-timeout=2 2>/dev/null |
                head -n 1")
        case $out in
        pong)
            lab_log "guest $name answers"
            return 0
            ;;
        failed)
            lab_exec -t 30 "$h" "tail -n 20 /var/log/xen/console/guest-$name.log"
            lab_fail "guest $name on $h failed to start"
            ;;
        esac
        sleep 1
    done
    lab_fail "guest $name on $h: workload at $ip:7000 does not answer"
}

# lab_guest_ask HOST IP CMD -> the workload's one-line answer.  socat waits
# (-t) for the guest to close after "quit": a verify of the whole workload
# takes many seconds on a busy machine.
lab_guest_ask()
{
    lab_exec -t 240 "$1" "printf '%s\nquit\n' '$3' |
        socat -t 200 -T 200 - TCP:$2:7000,connect-timeout=5 2>/dev/null |
        head -n 1"
}

lab_guest_verify() # lab_guest_verify HOST IP: prints the answer
{
    local a
    a=$(lab_guest_ask "$1" "$2" verify)
    printf '%s\n' "$a"
    case $a in
    "ok "*) return 0 ;;
    *) return 1 ;;
    esac
}

lab_guest_max_gap_ms() # lab_guest_max_gap_ms HOST IP
{
    local s
    s=$(lab_guest_ask "$1" "$2" stats)
    case $s in
    *max_gap_ms=*)
        s=${s#*max_gap_ms=}
        echo "${s%% *}"
        ;;
    *)
        echo "?"
        return 1
        ;;
    esac
}

# lab_migrate SRC DST NAME: stock 'xl migrate' of NAME from SRC to DST with
# a one-shot receiver on DST (socat with 512 KiB buffers, the research's
# faster transport under TCG; the receiver's stderr stays off the socket).
# Sets lab_mig_rc (xl's status), lab_mig_s (seconds, measured in the source
# dom0), lab_mig_bytes (bytes received on DST's lab link NIC) and
# lab_mig_out (sender and receiver output).
lab_migrate()
{
    local src=$1 dst=$2 name=$3 dip port=5000 out recv
    dip=$(lab_host_ip "$dst")
    lab_exec -t 60 "$dst" "
        rm -f /tmp/lab-recv-$name.log
        cat /sys/class/net/\$(cat /run/lab-link-dev)/statistics/rx_bytes \
            >/tmp/lab-rx0-$name
        (socat -b524288 TCP-LISTEN:$port,reuseaddr EXEC:'xl migrate-receive' \
            >/tmp/lab-recv-$name.log 2>&1
         echo \"receiver exit status \$?\" >>/tmp/lab-recv-$name.log) \
            >/dev/null 2>&1 </dev/null &
        i=0
        until netstat -ltn | grep -q ':$port '; do
            i=\$((i + 1)); [ \$i -gt 100 ] && exit 1; sleep 0.1
        done" || lab_fail "receiver on $dst did not start"
    lab_log "migrate $name $src -> $dst (xl migrate, socat -b524288)"
    # xl runs in the background in dom0 and is polled with short commands:
    # a connection held open for minutes through QEMU's user networking
    # does not survive a starved host (seen: "Connection reset by peer").
    lab_exec -t 60 "$src" "
        rm -f /tmp/lab-mig-$name.log
        (t0=\$(cut -d' ' -f1 /proc/uptime)
         xl migrate -s '' $name 'socat -b524288 - TCP:$dip:$port' \
             >/tmp/lab-mig-$name.out 2>&1
         rc=\$?
         t1=\$(cut -d' ' -f1 /proc/uptime)
         echo \"lab-mig rc=\$rc s=\$(echo \$t0 \$t1 |
             awk '{ printf \"%.2f\", \$2 - \$1 }')\" >>/tmp/lab-mig-$name.out
         mv /tmp/lab-mig-$name.out /tmp/lab-mig-$name.log) \
            </dev/null >/dev/null 2>&1 &" ||
        lab_fail "cannot start xl migrate on $src"
    # a starved dom0 may not answer for minutes: only the deadline counts
    local deadline=$((SECONDS + 1500))
    out=""
    while [ $SECONDS -lt $deadline ]; do
        sleep 2
        out=$(lab_exec -t 30 "$src" "cat /tmp/lab-mig-$name.log 2>/dev/null") &&
            [ -n "$out" ] && break
    done
    lab_mig_rc=$(sed -n 's/^lab-mig rc=\([0-9]*\) .*/\1/p' <<<"$out")
    lab_mig_s=$(sed -n 's/^lab-mig rc=[0-9]* s=//p' <<<"$out")
    [ -n "$lab_mig_rc" ] || lab_mig_rc=255
    # the receiver ends shortly after the sender; give it 30 s
    recv=$(lab_exec -t 60 "$dst" "
        i=0
        until grep -q 'receiver exit status' /tmp/lab-recv-$name.log; do
            i=\$((i + 1)); [ \$i -gt 300 ] && break; sleep 0.1
        done
        for p in \$(ps | grep 'TCP-LISTEN:$port' | grep -v grep | awk '{ print \$1 }'); do kill \$p; done  # no pkill in dom0
        echo lab-bytes=\$((\$(cat /sys/class/net/\$(cat /run/lab-link-dev)/statistics/rx_bytes) - \$(cat /tmp/lab-rx0-$name)))
        cat /tmp/lab-recv-$name.log")
    lab_mig_bytes=$(sed -n 's/^lab-bytes=//p' <<<"$recv")
    lab_mig_out="$out"$'\n'"-- receiver on $dst:"$'\n'"$recv"
    printf '%s\n' "$lab_mig_out" | grep -v '^lab-' | sed 's/^/    /'
    lab_log "xl migrate rc=$lab_mig_rc time=${lab_mig_s:-?} s" \
        "link bytes=${lab_mig_bytes:-?}"
    [ "$lab_mig_rc" -eq 0 ]
}

lab_guest_state() # lab_guest_state HOST NAME -> xl's state column, or fail
{
    lab_exec -t 30 "$1" "xl list $2 2>/dev/null | awk 'NR == 2 { print \$5 }'" |
        grep .
}

# lab_check_placement DST SRC NAME: NAME runs on DST and is gone from SRC.
lab_check_placement()
{
    local st
    st=$(lab_guest_state "$1" "$3") || lab_fail "$3 is not on $1"
    case $st in
    *p* | *c* | *d*) lab_fail "$3 on $1 is not running (state $st)" ;;
    esac
    if lab_guest_state "$2" "$3" >/dev/null; then
        lab_fail "$3 is still on $2"
    fi
    lab_log "placement ok: $3 runs on $1 (state $st), gone from $2"
}

# lab_report_hop HOST NAME IP: memory check and guest-observed blackout of
# the migration just done (lab_mig_*); fails unless the memory check is ok.
lab_report_hop()
{
    local v gap
    v=$(lab_guest_verify "$1" "$3") || lab_fail "memory check of $2: $v"
    gap=$(lab_guest_max_gap_ms "$1" "$3")
    lab_log "hop result: total ${lab_mig_s:-?} s, ${lab_mig_bytes:-?} bytes" \
        "on the link, guest-observed blackout $gap ms, memory check: $v"
    lab_guest_ask "$1" "$3" reset >/dev/null
}

lab_guest_destroy() # lab_guest_destroy HOST NAME
{
    local i keep=()
    lab_exec -t 120 "$1" "xl destroy $2" || return 1
    for i in "${lab_guests[@]}"; do
        [ "$i" = "$1 $2" ] || keep+=("$i")
    done
    lab_guests=("${keep[@]}")
}

# lab_move_guest FROM TO NAME: NAME now lives on TO (after a migration), so
# the cleanup on exit destroys it there.
lab_move_guest()
{
    local i keep=()
    for i in "${lab_guests[@]}"; do
        [ "$i" = "$1 $3" ] || keep+=("$i")
    done
    lab_guests=("${keep[@]}" "$2 $3")
}

lab_leak_check()
{
    local h left bad=0
    for h in $lab_hosts; do
        left=$(lab_exec -t 30 "$h" \
            "xl list | awk 'NR > 1 && \$1 != \"Domain-0\" { print \$1 }'") ||
            lab_fail "xl list on $h failed"
        if [ -n "$left" ]; then
            echo "leak: domains left on $h: $left" >&2
            bad=1
        fi
    done
    [ $bad -eq 0 ] || lab_fail "domains leaked"
    lab_log "leak check ok: only Domain-0 on A and B"
}
