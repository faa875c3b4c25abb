#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers of the brownout tests (tests/xen/6NN-*.sh, issue 12), on top of
# tests/xen/migrate-lib.sh.  They need the lab's guest network (docs/lab.md:
# xenbr1 in each dom0 on a segment shared with this machine's bridge
# xlg<ID>), which 'tests/lab/lab up' builds unless XLMIG_LAB_GUESTNET=0.
#
#   bo_begin                      the guest network is there; a client
#                                 namespace xlc<ID> (192.168.78.200) on the
#                                 segment, removed again on exit
#   bo_client_up, bo_client_down  the namespace alone (bench-xen)
#   bo_stream_start TAG           1 kHz UDP stream client -> guest (udpecho)
#   bo_stream_stop TAG            stop it; sets bo_res (its key=value line)
#   bo_get KEY                    a value of bo_res
#   bo_report TAG                 one 'report:' line of bo_res
#   bo_leftovers HOST             no nfwd device, tc filter, clsact qdisc or
#                                 nft table left on HOST
#   bo_tc_snapshot HOST           what tc shows on xenbr1's ports (compare)

# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/migrate-lib.sh"

bo_ns=xlc$lab_id
bo_client_ip=192.168.78.200
bo_rate=${XLMIG_BO_RATE:-20}
bo_udpecho=$lab_root/build/tests/guest/udpecho
bo_dir=$lab_root/build/brownout
lab_guest_bridge=xenbr1

bo_begin()
{
    mig_test_begin stock
    if [ ! -f "$lab_run/guestnet" ]; then
        echo "SKIP: the lab has no guest network:" \
            "$(cat "$lab_run/guestnet.log" 2>/dev/null || echo 'XLMIG_LAB_GUESTNET=0')" >&2
        exit 77
    fi
    [ -x "$bo_udpecho" ] || lab_fail "no $bo_udpecho (make)"
    # shellcheck disable=SC2154 # mig_rc_ is set inside the trap
    trap 'mig_rc_=$?; bo_client_down; mig_cleanup; lab_test_end $mig_rc_' EXIT
    bo_client_up || lab_fail "cannot build the client namespace $bo_ns"
}

# bo_client_up: the client namespace on the guest network (0 or 1)
bo_client_up()
{
    mkdir -p "$bo_dir"
    bo_client_down
    ip netns add "$bo_ns" &&
        ip link add "${bo_ns}h" type veth peer name "${bo_ns}c" &&
        ip link set "${bo_ns}c" netns "$bo_ns" &&
        sysctl -qw "net.ipv6.conf.${bo_ns}h.disable_ipv6=1" &&
        ip link set "${bo_ns}h" master "$lab_gn_bridge" &&
        ip link set "${bo_ns}h" up &&
        ip netns exec "$bo_ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
        ip -n "$bo_ns" link set lo up &&
        ip -n "$bo_ns" link set "${bo_ns}c" name eth0 &&
        ip -n "$bo_ns" addr add "$bo_client_ip/24" dev eth0 &&
        ip -n "$bo_ns" link set eth0 up || return 1
    lab_log "client namespace $bo_ns ($bo_client_ip) on $lab_gn_bridge"
}

bo_client_down()
{
    local p
    for p in "$bo_dir"/*.pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
        rm -f "$p"
    done
    ip link del "${bo_ns}h" 2>/dev/null
    ip netns del "$bo_ns" 2>/dev/null
    return 0
}

# bo_stream_start TAG IP: the stream in the background (at most 20 min)
bo_stream_start()
{
    local tag=$1 ip=$2 i
    rm -f "$bo_dir/$tag.out"
    ip netns exec "$bo_ns" "$bo_udpecho" stream "$ip" 7001 "$bo_rate" 1200 \
        >"$bo_dir/$tag.out" 2>&1 &
    echo $! >"$bo_dir/$tag.pid"
    # the stream starts once the guest answered its reset
    for i in $(seq 150); do
        grep -q '^streaming' "$bo_dir/$tag.out" && break
        kill -0 "$(cat "$bo_dir/$tag.pid")" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^streaming' "$bo_dir/$tag.out" ||
        lab_fail "stream $tag does not run: $(cat "$bo_dir/$tag.out")"
    lab_log "stream $tag: $bo_rate datagrams/s to $ip:7001 from $bo_ns"
}

bo_stream_stop()
{
    local tag=$1 pid
    pid=$(cat "$bo_dir/$tag.pid")
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$bo_dir/$tag.pid"
    bo_res=$(grep '^sent=' "$bo_dir/$tag.out")
    [ -n "$bo_res" ] || lab_fail "stream $tag: no result: $(cat "$bo_dir/$tag.out")"
    lab_log "stream $tag: $bo_res"
}

bo_get() # bo_get KEY -> the value in bo_res
{
    sed -n "s/.*\(^\| \)$1=\([^ ]*\).*/\2/p" <<<"$bo_res"
}

bo_report() # bo_report TAG
{
    printf 'report: %-14s client: lost %s (outside the outage: before %s, after %s), dup %s, reordered %s, outage %s datagrams, longest gap %s ms | guest: lost %s (after %s), dup %s, reordered %s\n' \
        "$1" "$(bo_get lost)" "$(bo_get lost_before)" "$(bo_get lost_after)" \
        "$(bo_get dup)" "$(bo_get reord)" "$(bo_get outage)" \
        "$(bo_get gap_ms)" "$(bo_get guest_lost)" \
        "$(bo_get guest_lost_after)" "$(bo_get guest_dup)" \
        "$(bo_get guest_reord)"
    printf '%s %s\n' "$1" "$bo_res" >>"$bo_dir/results.txt"
}

# What net-forward may have left on HOST, one line per kind (empty: none).
# shellcheck disable=SC2016 # expanded in dom0
bo_state_cmd='
    for d in /sys/class/net/*; do
        n=${d##*/}
        case $n in nfwd*|nfwb*) echo "device $n" ;; esac
    done
    for p in /sys/class/net/xenbr1/brif/*; do
        p=${p##*/}
        [ "$p" = "*" ] && continue
        /sbin/tc filter show dev "$p" ingress 2>/dev/null |
            grep -q "pref 28262" && echo "filter on $p"
        /sbin/tc qdisc show dev "$p" 2>/dev/null | grep -q clsact &&
            echo "clsact on $p"
    done
    /usr/sbin/nft list tables 2>/dev/null | grep nfwd | sed "s/^/nft /"
    ls /run/xlmig/nfwd 2>/dev/null | sed "s/^/runtime record /"
    true'

bo_leftovers() # bo_leftovers HOST: fails the test on any leftover
{
    local out
    out=$(lab_exec -t 60 "$1" "$bo_state_cmd") ||
        lab_fail "cannot list net-forward state on $1"
    [ -z "$out" ] || lab_fail "net-forward left on $1: $(tr '\n' ';' <<<"$out")"
    lab_log "no net-forward state left on $1 (devices, filters, clsact, nft)"
}
