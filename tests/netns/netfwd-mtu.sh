#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 60
#
# net-forward: full-size frames through the tunnel.  Underlay MTU 1500,
# tunnel MTU 1500 (the vif's), so a 1500-byte inner packet needs a
# 1550-byte outer one: the tc-mirred design relies on outer fragmentation.
# The guest stays silent and nothing announces it, so every datagram takes
# the tunnel.  Asserts: all 1472-byte DF datagrams (1500-byte IP packets)
# reach the guest, the tunnel carried them, and the client's path MTU to
# the guest was not lowered by an ICMP "frag needed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/nfwd-lab.sh
. "$here/nfwd-lab.sh"
lab_requirements

VNI=$((0x200000 + $$ % 0xeffff))
DEV=$(printf 'nfwd%06x' $VNI)
N=50

lab_up
nx "$NS_SRC" "$NETFWD" prepare -N $VNI -l $SRCIP -r $TGTIP -i "$VIF_SRC" |
    grep -q "$DEV prepared" || fail "prepare"
nx "$NS_SRC" "$NETFWD" arm -N $VNI -i "$VIF_SRC" | grep -q "$DEV armed" ||
    fail "arm"
move_vif
nx "$NS_TGT" "$NETFWD" attach -N $VNI -l $TGTIP -r $SRCIP -i "$VIF_TGT" |
    grep -q "$DEV attached" || fail "attach"
before=$(stat_of "$NS_SRC" "$DEV" tx_packets)

ip netns exec "$NS_GST" "$STREAM" recv 9000 "$WORK/rx" 1500 </dev/null >/dev/null &
rxp=$!
PIDS="$PIDS $rxp"
sleep 0.2
nx "$NS_CLI" "$STREAM" send $GIP 9000 200 $N "$WORK/tx" 1472 df ||
    fail "sender"
wait $rxp
got=$(awk '$3 == 1472 { n++ } END { print n + 0 }' "$WORK/rx")
fwd=$(($(stat_of "$NS_SRC" "$DEV" tx_packets) - before))
rt=$(ip -n "$NS_CLI" route get $GIP | tr '\n' ' ')
echo "mtu: sent=$N size=1472 df=1 received=$got tunnel_tx=$fwd route: $rt"
[ "$got" -eq $N ] || fail "only $got of $N full-size DF datagrams arrived"
[ "$fwd" -ge $N ] || fail "the tunnel carried $fwd, not the datagrams"
case $rt in
*"mtu "*) fail "client path MTU lowered: $rt" ;;
esac

nx "$NS_SRC" "$NETFWD" teardown -N $VNI | grep -q "$DEV done" ||
    fail "source teardown"
nx "$NS_TGT" "$NETFWD" teardown -N $VNI | grep -q "$DEV done" ||
    fail "target teardown"
echo "report: $got of $N full-size DF packets (1500 bytes) forwarded, tunnel tx $fwd, client path mtu untouched"
