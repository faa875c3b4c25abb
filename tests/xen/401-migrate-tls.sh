#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 3000
#
# Migration over authenticated TLS through xlmigd on real (nested) Xen.
# A test PKI (tests/tls/mk-certs) goes to build/tls-lab (/xlmig/tls-lab in
# each dom0).  xlmigd runs on both hosts.
#   1. a client with an expired certificate is refused by xlmigd on B
#      before any stream byte: no domain is created, the guest stays on A
#   2. xlmig migrate A -> B through xlmig-tls-connect and xlmigd (the
#      xlmig protocol, compressed): memory check on B
#   3. stock xl migrate B -> A with xlmig-tls-connect as its ssh command,
#      into xlmigd on A: memory check on A
# then nothing is left behind (domains, --incoming, processes).
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
lab_test_begin stock

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XLMIG_BUILD:-$root/build}
pki=$build/tls-lab
rm -rf "$pki"
"$root/tests/tls/mk-certs" "$pki" >/dev/null || lab_fail "mk-certs failed"
mkconf() { # mkconf FILE CERT PEER
    printf '%s\n' "mode = x509" "ca = /xlmig/tls-lab/ca.pem" \
        "cert = /xlmig/tls-lab/$2.pem" "key = /xlmig/tls-lab/$2.key" \
        "allow = $3" "port = 8002" "handshake-timeout-ms = 20000" >"$1"
}
mkconf "$pki/a.conf" host-a host-b
mkconf "$pki/b.conf" host-b host-a
mkconf "$pki/expired.conf" expired host-b
chmod -R a+r "$pki"

daemon_start() { # daemon_start HOST CONF
    lab_exec -t 60 "$1" "
        killall xlmigd 2>/dev/null && sleep 1; rm -f /tmp/xlmigd.log
        /xlmig/xlmigd -F -c /xlmig/tls-lab/$2 --receiver /xlmig/xlmig \
            >/tmp/xlmigd.log 2>&1 </dev/null &
        i=0; until grep -q 'listening on port' /tmp/xlmigd.log; do
            i=\$((i + 1)); [ \$i -gt 100 ] && { cat /tmp/xlmigd.log; exit 1; }
            sleep 0.1; done" || lab_fail "xlmigd did not start on $1"
}
daemon_log() { lab_exec -t 30 "$1" "cat /tmp/xlmigd.log" | sed "s/^/    xlmigd $1| /"; }
daemons_stop() {
    local h
    for h in A B; do lab_exec -t 30 "$h" "killall xlmigd; sleep 0.5; killall -9 xlmigd" >/dev/null 2>&1; done
}
trap 'rc=$?; daemons_stop; lab_test_end $rc' EXIT

# bg_run HOST TAG CMD: run CMD in the background in HOST's dom0 and poll
# with short commands (a connection held for minutes through QEMU's user
# networking does not survive a starved machine); prints CMD's output and
# a last line "rc=N s=SECONDS".  Only the deadline ends the wait: a dom0
# busy with a migration under emulation may not answer for minutes (the
# failed run under load gave up after 30 unanswered polls).
bg_run() {
    local h=$1 tag=$2 cmd=$3 deadline=$((SECONDS + 1500)) misses=0 out=""
    lab_exec -t 60 "$h" "
        rm -f /tmp/tls-$tag.log /tmp/tls-$tag.out
        (t0=\$(cut -d' ' -f1 /proc/uptime)
         $cmd >/tmp/tls-$tag.out 2>&1
         rc=\$?
         t1=\$(cut -d' ' -f1 /proc/uptime)
         echo \"rc=\$rc s=\$(echo \$t0 \$t1 | awk '{ printf \"%.2f\", \$2 - \$1 }')\" >>/tmp/tls-$tag.out
         mv /tmp/tls-$tag.out /tmp/tls-$tag.log) </dev/null >/dev/null 2>&1 &" ||
        lab_fail "cannot start '$tag' on $h"
    while [ $SECONDS -lt $deadline ]; do
        sleep 3
        if out=$(lab_exec -t 30 "$h" "cat /tmp/tls-$tag.log 2>/dev/null"); then
            [ -n "$out" ] && break
        else
            misses=$((misses + 1))
        fi
    done
    [ -n "$out" ] || out="no result from $h before the deadline ($misses polls unanswered)"
    [ $misses -gt 0 ] && lab_log "$tag: $misses polls of $h unanswered (starved dom0)" >&2
    printf '%s\n' "$out"
}

g=mig401 ip=192.168.77.43
ipa=$(lab_host_ip A) ipb=$(lab_host_ip B)
lab_guest_create A "$g" pvh 128 "$ip" 100 0 32
daemon_start B b.conf
daemon_start A a.conf

# 1. refused before any stream byte
out=$(bg_run A refused "/xlmig/xlmig migrate --no-progress -s '' $g \
    'exec /xlmig/xlmig-tls-connect -c /xlmig/tls-lab/expired.conf $ipb:8002'")
printf '%s\n' "$out" | sed 's/^/    send| /'
grep -q '^rc=0 ' <<<"$out" && lab_fail "an expired client certificate got through"
daemon_log B
lab_exec -t 30 B "grep -q 'refused .*expired certificate' /tmp/xlmigd.log" ||
    lab_fail "xlmigd on B did not log the refusal"
lab_exec -t 30 B "grep -q 'migration target' /tmp/xlmigd.log" &&
    lab_fail "the receiver ran for a refused client"
lab_check_placement A B "$g"
v=$(lab_guest_verify A "$ip") || lab_fail "memory check after the refusal: $v"
lab_log "refusal ok: expired client refused by xlmigd, $g runs on A, memory $v"

# 2. xlmig -> xlmigd over TLS
mig_port=8002
lab_log "migrate $g A -> B: xlmig over TLS (xlmig-tls-connect -> xlmigd)"
mig_out=$(bg_run A hop1 "/xlmig/xlmig migrate --no-progress \
    --json /tmp/mig-$g.json -s '' $g \
    'exec /xlmig/xlmig-tls-connect -c /xlmig/tls-lab/a.conf $ipb:8002'")
printf '%s\n' "$mig_out" | sed 's/^/    send| /'
mig_json=$(lab_exec -t 30 A "cat /tmp/mig-$g.json")
sleep 2
daemon_log B
grep -q '^rc=0 ' <<<"$mig_out" || lab_fail "xlmig over TLS failed"
grep -q "authenticated as 'host-a'" < <(lab_exec -t 30 B "cat /tmp/xlmigd.log") ||
    lab_fail "xlmigd on B did not authenticate host-a"
[ "$(mig_json_field peer)" = xlmig ] || lab_fail "peer not seen as xlmig"
lab_move_guest A B "$g"
lab_check_placement B A "$g"
lab_mig_s=$(sed -n 's/^rc=0 s=//p' <<<"$mig_out")
lab_mig_bytes="$(mig_json_field wire_bytes) (TLS payload)"
lab_report_hop B "$g" "$ip"

# 3. stock xl -> xlmigd over TLS (xlmig-tls-connect as xl's ssh command)
lab_log "migrate $g B -> A: stock xl over TLS (-s xlmig-tls-connect)"
out=$(bg_run B hop2 "xl migrate \
    -s '/xlmig/xlmig-tls-connect -c /xlmig/tls-lab/b.conf' $g $ipa")
printf '%s\n' "$out" | sed 's/^/    send| /'
sleep 2
daemon_log A
grep -q '^rc=0 ' <<<"$out" || lab_fail "stock xl over TLS failed"
lab_move_guest B A "$g"
lab_check_placement A B "$g"
lab_mig_s=$(sed -n 's/^rc=0 s=//p' <<<"$out") lab_mig_bytes="?"
lab_report_hop A "$g" "$ip"

lab_guest_destroy A "$g"
daemons_stop
mig_no_leftovers
lab_leak_check
echo "report: TLS 1.3 mutual X.509 through xlmigd: xlmig A->B and stock xl B->A, memory intact; expired client refused"
