#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 90
#
# net-forward lifecycle in the namespace lab, through xlmig-netfwd:
#  1. abort: an armed source black-holes the guest (frames go to the
#     tunnel); abort removes filters and device and the guest, still on
#     the source, receives everything again;
#  2. sweep: planted stale state (a filter with our prio and cookie, one
#     whose device was deleted, an nfwd device, an nft table) is removed,
#     foreign filters (same prio without our cookie, other prio) stay;
#  3. unsupported vifs (vif-route script, vlan) disable forwarding with a
#     log line, exit 0, and create nothing;
#  4. the target drops tunnel packets that do not come from the source
#     (nftables), and only because of that filter;
#  5. bad usage exits 2 with a one-line error.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/nfwd-lab.sh
. "$here/nfwd-lab.sh"
lab_requirements

VNI=$((0x300000 + $$ % 0xeffff))
DEV=$(printf 'nfwd%06x' $VNI)

# stream_to_guest COUNT -> number the guest received
stream_to_guest() {
    local rxp
    ip netns exec "$NS_GST" "$STREAM" recv 9000 "$WORK/rx" 1000 </dev/null >/dev/null &
    rxp=$!
    sleep 0.2
    nx "$NS_CLI" "$STREAM" send $GIP 9000 1000 "$1" "$WORK/tx" ||
        fail "sender"
    sleep 0.7
    kill $rxp 2>/dev/null
    wait $rxp 2>/dev/null
    awk 'END { print NR }' "$WORK/rx"
}

lab_up

# ---- 1. abort
nx "$NS_SRC" "$NETFWD" prepare -N $VNI -l $SRCIP -r $TGTIP -i "$VIF_SRC" |
    grep -q "$DEV prepared" || fail "prepare"
nx "$NS_SRC" "$NETFWD" arm -N $VNI -i "$VIF_SRC" | grep -q "$DEV armed" ||
    fail "arm"
[ "$(our_filters "$NS_SRC" s-up)" = 1 ] || fail "no filter on the uplink"
[ "$(our_filters "$NS_SRC" vif5.0)" = 0 ] || fail "filter on the migrating vif"
armed=$(stream_to_guest 200)
echo "abort: guest received $armed of 200 while armed (redirected away)"
[ "$armed" -eq 0 ] || fail "armed filters did not redirect"
nx "$NS_SRC" "$NETFWD" abort -N $VNI | grep -q "$DEV done" || fail "abort"
[ "$(our_filters "$NS_SRC" s-up)" = 0 ] || fail "abort left a filter"
[ -z "$(nfwd_links "$NS_SRC")" ] || fail "abort left the device"
after=$(stream_to_guest 300)
echo "abort: guest received $after of 300 after abort"
[ "$after" -eq 300 ] || fail "guest lost traffic after abort"

# ---- 2. sweep
mac_keys="match u32 0x00000016 0x0000ffff at -16 match u32 0x3eaabbcc 0xffffffff at -12"
other_keys="match u32 0x00000016 0x0000ffff at -16 match u32 0x3e010203 0xffffffff at -12"
tcs() { tc -n "$NS_SRC" "$@" || fail "planting: tc $*"; }
ip -n "$NS_SRC" link add nfwd0000ab type vxlan id 171 local $SRCIP \
    remote $TGTIP dstport 4789 || fail "planting a device"
ip -n "$NS_SRC" link add nfwd0000ac type vxlan id 172 local $SRCIP \
    remote $TGTIP dstport 4789 || fail "planting a device"
tc -n "$NS_SRC" qdisc add dev s-up clsact 2>/dev/null
tc -n "$NS_SRC" qdisc add dev vif5.0 clsact 2>/dev/null
# shellcheck disable=SC2086 # word splitting of the keys is intended
{
    tcs filter add dev s-up ingress prio $NFWD_PRIO protocol all u32 \
        $mac_keys action mirred egress redirect dev nfwd0000ab \
        cookie 6e667764000000ab
    tcs filter add dev vif5.0 ingress prio $NFWD_PRIO protocol all u32 \
        $other_keys action mirred egress redirect dev nfwd0000ac \
        cookie 6e667764000000ac
    tcs filter add dev s-up ingress prio $NFWD_PRIO protocol all u32 \
        $other_keys action mirred egress redirect dev vif5.0 \
        cookie 0102030405060708
    tcs filter add dev s-up ingress prio 10 protocol all u32 \
        $other_keys action mirred egress redirect dev vif5.0
}
# a crash after the device went: the filter now black-holes the MAC
ip -n "$NS_SRC" link del nfwd0000ab
have_nft=0
if command -v nft >/dev/null; then
    have_nft=1
    nx "$NS_SRC" nft add table ip nfwd0000ab || fail "planting an nft table"
fi
stale=$(stream_to_guest 200)
echo "sweep: guest received $stale of 200 behind a stale filter"
[ "$stale" -eq 0 ] || fail "stale filter did not black-hole (model broken)"
swept_out=$(nx "$NS_SRC" "$NETFWD" sweep) || fail "sweep failed: $swept_out"
echo "sweep: $swept_out"
[ "$swept_out" = "swept 2 filters, 1 links, $have_nft nft tables" ] ||
    fail "unexpected sweep result"
flt=$(tc -n "$NS_SRC" filter show dev s-up ingress)
echo "$flt" | grep -q 6e667764 && fail "a cookie of ours survived: $flt"
echo "$flt" | grep -q 0102030405060708 || fail "foreign filter removed"
echo "$flt" | grep -q "pref 10 " || fail "foreign prio-10 filter removed"
tc -n "$NS_SRC" filter show dev vif5.0 ingress | grep -q 6e667764 &&
    fail "stale filter on vif5.0 survived"
[ -z "$(nfwd_links "$NS_SRC")" ] || fail "sweep left a device"
if [ $have_nft = 1 ]; then
    nx "$NS_SRC" nft list table ip nfwd0000ab >/dev/null 2>&1 &&
        fail "sweep left the nft table"
fi
swept=$(stream_to_guest 200)
echo "sweep: guest received $swept of 200 after the sweep"
[ "$swept" -eq 200 ] || fail "guest still black-holed after sweep"
tc -n "$NS_SRC" filter del dev s-up ingress prio 10

# ---- 3. unsupported vifs
for spec in "$VIF_SRC,script=/etc/xen/scripts/vif-route" \
    "$VIF_SRC,script=vif-openvswitch" "$VIF_SRC,vlan=10"; do
    out=$(nx "$NS_SRC" "$NETFWD" prepare -N $VNI -l $SRCIP -r $TGTIP \
        -i "$spec" 2>"$WORK/err") || fail "prepare failed for $spec"
    echo "unsupported: $spec -> $out / $(cat "$WORK/err")"
    [ "$out" = "$DEV disabled" ] || fail "not disabled: $spec"
    grep -q "forwarding skipped for vif vif5.0" "$WORK/err" ||
        fail "no log line for $spec"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "more than one log line"
    [ -z "$(nfwd_links "$NS_SRC")" ] || fail "device created for $spec"
done
out=$(nx "$NS_SRC" "$NETFWD" prepare -N $VNI -l $SRCIP -r $TGTIP \
    -i "mac=$GMAC,bridge=nobr0,vif=vif5.0" 2>"$WORK/err") ||
    fail "prepare failed on a missing bridge"
echo "missing bridge: $out / $(cat "$WORK/err")"
[ "$out" = "$DEV disabled" ] || fail "missing bridge did not disable"

# ---- 4. the target accepts the tunnel only from the source
move_vif
nx "$NS_TGT" "$NETFWD" attach -N $VNI -l $TGTIP -r $SRCIP -i "$VIF_TGT" |
    grep -q "$DEV attached" || fail "attach"
ip -n "$NS_CLI" link add spoof type vxlan id $VNI local $CIP remote $TGTIP \
    dstport 4789
ip -n "$NS_CLI" addr add 10.98.0.1/24 dev spoof
ip -n "$NS_CLI" link set spoof up
ip -n "$NS_CLI" neigh replace 10.98.0.50 lladdr $GMAC dev spoof nud permanent
nx "$NS_CLI" "$STREAM" send 10.98.0.50 9000 1000 20 /dev/null
sleep 0.3
rx1=$(stat_of "$NS_TGT" "$DEV" rx_packets)
echo "spoof: target tunnel rx $rx1 of 20 spoofed packets with the filter"
[ "$rx1" -eq 0 ] || fail "spoofed tunnel packets reached the tunnel"
if [ $have_nft = 1 ]; then
    nx "$NS_TGT" nft list table ip "$DEV" | grep -q "counter packets 20 " ||
        fail "nft did not count the 20 spoofed packets"
    # control: without the filter the same packets get in
    nx "$NS_TGT" nft delete table ip "$DEV"
    nx "$NS_CLI" "$STREAM" send 10.98.0.50 9000 1000 20 /dev/null
    sleep 0.3
    rx2=$(stat_of "$NS_TGT" "$DEV" rx_packets)
    echo "spoof: target tunnel rx $rx2 of 20 without the filter (control)"
    [ "$rx2" -eq 20 ] || fail "control: spoofed packets did not arrive"
fi
nx "$NS_TGT" "$NETFWD" teardown -N $VNI | grep -q "$DEV done" ||
    fail "target teardown"
[ -z "$(nfwd_links "$NS_TGT")" ] || fail "target device left"
[ "$(our_filters "$NS_TGT" "$DEV")" = 0 ] || true

# ---- 5. bad usage
for args in "" "prepare" "prepare -N 0" "arm -N 5 -i mac=ff:ff:ff:ff:ff:ff" \
    "attach -N 5 -l 1.2.3 -r 1.2.3.4 -i mac=$GMAC" "teardown --quiesce" \
    "announce -i bridge=xenbr0" "announce -i $VIF_TGT -s 5,1" "frobnicate" \
    "sweep extra" "prepare -N 5 -l 1.2.3.4 -r 1.2.3.5 -i mac=$GMAC"; do
    # shellcheck disable=SC2086
    "$NETFWD" $args >/dev/null 2>"$WORK/err"
    rc=$?
    [ $rc -eq 2 ] || fail "'$args' exited $rc, not 2"
    [ "$(wc -l <"$WORK/err")" -le 1 ] || [ -z "$args" ] ||
        fail "'$args': more than one line: $(cat "$WORK/err")"
done
echo "report: abort restored $after of 300; $swept_out (foreign filters kept); 3 unsupported vifs + missing bridge disabled; spoofed tunnel packets in: $rx1 of 20; bad usage exits 2"
