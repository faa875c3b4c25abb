# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034
#
# The namespace model of docs/net-forward.md (research net-forward.md §3),
# sourced by the tests/netns/netfwd-*.sh tests:
#
#   $NS_CLI  client 10.99.0.1 (02:00:00:00:00:01)
#     | veth
#   $NS_FAB  bridge fab0: the L2 fabric (stp off, ageing 300 s)
#     | veth                       | veth
#   $NS_SRC  source dom0           $NS_TGT  target dom0
#     xenbr0 10.99.0.11 (s-up)       xenbr0 10.99.0.12 (t-up)
#     | vif5.0                        (vif7.0 appears at "migration")
#   $NS_GST  guest geth 00:16:3e:aa:bb:cc 10.99.0.50
#
# Namespace names carry the test's pid, so parallel runs do not collide;
# lab_down runs from an EXIT trap.  Addresses exist only inside them.

NETFWD=${XLMIG_BUILD:-build}/xlmig-netfwd
STREAM=${XLMIG_BUILD:-build}/tests/netns/nfwd_stream
TAG=nfw$$
NS_CLI=$TAG-cli NS_FAB=$TAG-fab NS_SRC=$TAG-src NS_TGT=$TAG-tgt
NS_GST=$TAG-gst
LAB_NS="$NS_CLI $NS_FAB $NS_SRC $NS_TGT $NS_GST"
GMAC=00:16:3e:aa:bb:cc GIP=10.99.0.50
CMAC=02:00:00:00:00:01 CIP=10.99.0.1
SRCIP=10.99.0.11 TGTIP=10.99.0.12
NFWD_PRIO=28262 # NFWD_TC_PRIO
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nfwd-test.XXXXXX")
PIDS=""

lab_down() {
    local n p
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for n in $LAB_NS; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$WORK"
    return 0
}
trap 'lab_down' EXIT
trap 'exit 130' INT TERM

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# Skip only what genuinely cannot run here.
lab_requirements() {
    [ "$(id -u)" = 0 ] || skip "network namespaces need root"
    command -v ip >/dev/null || skip "iproute2 missing (make deps)"
    command -v tc >/dev/null || skip "tc missing (make deps)"
    [ -x "$NETFWD" ] || fail "$NETFWD not built"
    [ -x "$STREAM" ] || fail "$STREAM not built"
    local out
    if ! out=$("$NETFWD" probe 2>&1); then
        echo "$out"
        skip "kernel lacks a feature: $(echo "$out" | grep missing | tr '\n' ' ')"
    fi
}

nx() { # nx NS CMD...: run in a namespace
    local n=$1
    shift
    ip netns exec "$n" "$@"
}

now_ns() { date +%s%N; }

lab_up() {
    local n h
    for n in $LAB_NS; do
        ip netns add "$n" || fail "cannot create namespace $n"
        ip -n "$n" link set lo up
        nx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
    done
    ip -n "$NS_FAB" link add fab0 type bridge stp_state 0 \
        ageing_time 30000 forward_delay 0
    ip -n "$NS_FAB" link set fab0 up
    ip link add c-eth0 netns "$NS_CLI" address $CMAC type veth \
        peer name fp-cli netns "$NS_FAB"
    ip link add s-up netns "$NS_SRC" type veth peer name fp-src netns "$NS_FAB"
    ip link add t-up netns "$NS_TGT" type veth peer name fp-tgt netns "$NS_FAB"
    for n in fp-cli fp-src fp-tgt; do
        ip -n "$NS_FAB" link set $n master fab0 up
    done
    ip -n "$NS_CLI" addr add $CIP/24 dev c-eth0
    ip -n "$NS_CLI" link set c-eth0 up
    for h in SRC TGT; do
        n=NS_$h
        ip -n "${!n}" link add xenbr0 type bridge stp_state 0 forward_delay 0
        ip -n "${!n}" link set "$( [ $h = SRC ] && echo s-up || echo t-up)" \
            master xenbr0 up
        ip -n "${!n}" link set xenbr0 up
    done
    ip -n "$NS_SRC" addr add $SRCIP/24 dev xenbr0
    ip -n "$NS_TGT" addr add $TGTIP/24 dev xenbr0
    ip link add vif5.0 netns "$NS_SRC" type veth peer name geth netns "$NS_GST"
    ip -n "$NS_GST" link set geth address $GMAC
    ip -n "$NS_GST" addr add $GIP/24 dev geth
    ip -n "$NS_GST" link set geth up
    ip -n "$NS_SRC" link set vif5.0 master xenbr0 up
    # no ARP during the run: an ARP from the guest would announce it
    ip -n "$NS_GST" neigh replace $CIP lladdr $CMAC dev geth nud permanent
    ip -n "$NS_CLI" neigh replace $GIP lladdr $GMAC dev c-eth0 nud permanent
    sleep 0.3
    # teach the fabric where the guest is, and resolve the hosts
    nx "$NS_GST" "$STREAM" send $CIP 9 1000 3 /dev/null
    nx "$NS_SRC" "$STREAM" send $TGTIP 9 1000 3 /dev/null
    nx "$NS_TGT" "$STREAM" send $SRCIP 9 1000 3 /dev/null
    sleep 0.2
}

VIF_SRC="mac=$GMAC,bridge=xenbr0,vif=vif5.0"
VIF_TGT="mac=$GMAC,bridge=xenbr0,vif=vif7.0"

# "Migration": the guest's vif leaves the source bridge and appears in the
# target bridge as vif7.0; the guest side keeps its state.
move_vif() {
    ip -n "$NS_SRC" link set vif5.0 netns "$NS_TGT"
    ip -n "$NS_TGT" link set vif5.0 name vif7.0
    ip -n "$NS_TGT" link set vif7.0 master xenbr0 up
}

# Filters of ours (prio NFWD_PRIO) on a link's ingress.
our_filters() { # our_filters NS DEV
    tc -n "$1" filter show dev "$2" ingress 2>/dev/null |
        grep -c "pref $NFWD_PRIO .*fh 800::" || true
}

nfwd_links() { # nfwd_links NS: names of nfwd* devices
    ip -n "$1" -o link show 2>/dev/null | awk -F': ' '{print $2}' |
        sed 's/@.*//' | grep '^nfwd' || true
}

stat_of() { # stat_of NS DEV COUNTER (e.g. tx_packets)
    nx "$1" cat "/sys/class/net/$2/statistics/$3" 2>/dev/null || echo 0
}

# analyse TXLOG RXLOG T_DETACH_NS T_ATTACH_NS -> key=value summary
analyse() {
    awk -v td="$3" -v ta="$4" '
        FNR == NR { tx[$1] = $2; n++; next }
        { if ($1 in rx) dups++; rx[$1] = 1 }
        END {
            for (s in tx) {
                if (s in rx) continue
                lost++
                if (tx[s] + 0 >= ta + 0) after++
                else if (tx[s] + 0 >= td + 0) sw++
                else before++
            }
            printf "sent=%d lost=%d lost_before_detach=%d lost_switchover=%d lost_after_attach=%d dups=%d switchover_ms=%.1f\n",
                n, lost, before, sw, after, dups, (ta - td) / 1e6
        }' "$1" "$2"
}

field() { # field KEY SUMMARY
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
