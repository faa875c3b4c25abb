#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 120
#
# net-forward, the measurement: a 1 kHz UDP stream client -> guest across
# a "migration" in the namespace lab (nfwd-lab.sh), driven through
# xlmig-netfwd.  Without forwarding (announce only, right away and 200 ms
# late) and with forwarding + the same announces, in one run.  Asserts:
# 0 lost after attach and no duplicates with forwarding, the tunnel really
# carried the stream, the source teardown came by quiescence while the
# stream ran, and nothing of ours is left afterwards.  Prints the figures
# and writes them to $XLMIG_BUILD/netfwd-loss.txt.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/nfwd-lab.sh
. "$here/nfwd-lab.sh"
lab_requirements

OUT=${XLMIG_BUILD:-build}/netfwd-loss.txt
RESULTS=()
VNI=$((0x100000 + $$ % 0xeffff))
DEV=$(printf 'nfwd%06x' $VNI)

# scenario NAME FWD(0|1) ANNOUNCE_DELAY_MS
scenario() {
    local name=$1 fwd=$2 delay=$3 count td ta t_td="" rxp txp sum fwdn=0
    local ann_pid td_pid fwdt
    lab_up
    if [ "$fwd" = 1 ]; then
        nx "$NS_SRC" "$NETFWD" prepare -N $VNI -l $SRCIP -r $TGTIP \
            -i "$VIF_SRC" | grep -q "$DEV prepared" ||
            fail "$name: prepare did not prepare"
        count=8500
    else
        count=4000
    fi
    ip netns exec "$NS_GST" "$STREAM" recv 9000 "$WORK/rx" 2500 </dev/null >/dev/null &
    rxp=$!
    PIDS="$PIDS $rxp"
    sleep 0.2
    ip netns exec "$NS_CLI" "$STREAM" send $GIP 9000 1000 $count "$WORK/tx" </dev/null >/dev/null &
    txp=$!
    PIDS="$PIDS $txp"
    sleep 1.5
    td=$(now_ns)
    # final suspend: the source arms; the vif moves; the target attaches
    # its tunnel end before the guest runs there
    if [ "$fwd" = 1 ]; then
        nx "$NS_SRC" "$NETFWD" arm -N $VNI -i "$VIF_SRC" |
            grep -q "$DEV armed" || fail "$name: arm did not arm"
    fi
    move_vif
    if [ "$fwd" = 1 ]; then
        nx "$NS_TGT" "$NETFWD" attach -N $VNI -l $TGTIP -r $SRCIP \
            -i "$VIF_TGT" | grep -q "$DEV attached" ||
            fail "$name: attach did not attach"
    fi
    ta=$(now_ns)
    (
        sleep "$(awk "BEGIN { print $delay / 1000 }")"
        nx "$NS_TGT" "$NETFWD" announce -i "$VIF_TGT" >/dev/null
    ) &
    ann_pid=$!
    if [ "$fwd" = 1 ]; then
        # the guest runs on the target: the source waits for quiescence
        (
            nx "$NS_SRC" "$NETFWD" -v --json teardown -N $VNI --quiesce \
                >"$WORK/td.out" 2>"$WORK/td.err"
            now_ns >"$WORK/td.time"
        ) &
        td_pid=$!
        sleep 0.5
        fwdn=$(stat_of "$NS_SRC" "$DEV" tx_packets)
    fi
    wait $ann_pid || fail "$name: announce failed"
    if [ "$fwd" = 1 ]; then
        wait "$td_pid"
        grep -q "\"device\": \"$DEV\", \"state\": \"done\", \"verdict\": \"quiescent\"" \
            "$WORK/td.out" ||
            fail "$name: source teardown: $(cat "$WORK/td.out" "$WORK/td.err")"
        t_td=$(cat "$WORK/td.time")
    fi
    wait $txp || fail "$name: sender failed"
    wait $rxp
    if [ "$fwd" = 1 ]; then
        [ -z "$(nfwd_links "$NS_SRC")" ] || fail "$name: source device left"
        [ "$(our_filters "$NS_SRC" s-up)" = 0 ] ||
            fail "$name: source filters left on s-up"
        nx "$NS_TGT" "$NETFWD" teardown -N $VNI | grep -q "$DEV done" ||
            fail "$name: target teardown"
        [ -z "$(nfwd_links "$NS_TGT")" ] || fail "$name: target device left"
        if command -v nft >/dev/null; then
            ! nx "$NS_TGT" nft list table ip "$DEV" >/dev/null 2>&1 ||
                fail "$name: nft table left on the target"
        fi
    fi
    sum=$(analyse "$WORK/tx" "$WORK/rx" "$td" "$ta")
    if [ "$fwd" = 1 ]; then
        fwdt=$(sed -n 's/.*"forwarded_packets": \([0-9]*\).*/\1/p' "$WORK/td.out")
        sum="$sum tunnel_tx_total=${fwdt:-?} teardown_after_attach_ms=$(((t_td - ta) / 1000000))"
        sed 's/^/    source: /' "$WORK/td.err"
    fi
    echo "loss: $name announce_delay_ms=$delay $sum"
    RESULTS+=("$name announce_delay_ms=$delay $sum")
    # checks on this run
    [ "$(field sent "$sum")" -eq $count ] || fail "$name: sender short"
    if [ "$fwd" = 1 ]; then
        [ "$(field lost_after_attach "$sum")" -eq 0 ] ||
            fail "$name: packets lost after attach with forwarding"
        [ "$(field dups "$sum")" -eq 0 ] || fail "$name: duplicates"
        if [ "$fwdn" -eq 0 ] || [ "$fwdt" -lt "$fwdn" ]; then
            fail "$name: the tunnel carried nothing ($fwdn, $fwdt)"
        fi
        # teardown must have happened while the stream still ran
        [ $(((t_td - ta) / 1000000)) -lt $((count - 1500 - 500)) ] ||
            fail "$name: teardown came after the stream ended"
    fi
    lab_down_ns
}

lab_down_ns() {
    local n p
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    PIDS=""
    for n in $LAB_NS; do ip netns del "$n" 2>/dev/null; done
    rm -f "$WORK"/*
}

scenario no-forwarding 0 0
scenario no-forwarding 0 200
scenario forwarding 1 0
scenario forwarding 1 200

base=$(field lost_after_attach "${RESULTS[1]#* }")
[ "$base" -gt 0 ] ||
    fail "the lab lost nothing without forwarding: the model is broken"

{
    echo "# net-forward loss, $(date -u +%FT%TZ), kernel $(uname -r)"
    echo "# 1000 pps client -> guest; lost_after_attach = sent after the"
    echo "# guest was attached at the target and never received"
    printf '%s\n' "${RESULTS[@]}"
} >"$OUT"
echo "written: $OUT"
echo "report: lost after attach at 1 kHz: forwarding+announce $(
    field lost_after_attach "${RESULTS[2]#* }") / $(
    field lost_after_attach "${RESULTS[3]#* }"), announce only $(
    field lost_after_attach "${RESULTS[0]#* }") / $base (announce at attach / 200 ms late); duplicates $(
    field dups "${RESULTS[2]#* }") / $(field dups "${RESULTS[3]#* }")"
