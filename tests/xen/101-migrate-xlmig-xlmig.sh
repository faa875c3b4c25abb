#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# xlmig -> xlmig, PVH guest with the memory-integrity workload: A -> B over
# xl's rune (-s '' with socat, the Ganeti way), B -> A over --tcp/--listen.
# The stream must be compressed (negotiated); the guest runs on the target
# with its memory intact, is gone from the source, nothing is left behind.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin stock

g=mig101 ip=192.168.77.41
lab_guest_create A "$g" pvh 128 "$ip" 100 0 32

mig_hop A B "$g" "$ip" xlmig xlmig
[ "$(mig_json_field compressed)" = true ] ||
    lab_fail "xlmig -> xlmig did not negotiate compression"
[ "$(mig_json_field peer)" = xlmig ] || lab_fail "peer not seen as xlmig"
lab_log "A -> B: compressed, ratio $(mig_json_field ratio)," \
    "blackout (suspend to report) $(mig_json_field blackout_ms) ms"

# back over the plain TCP channel
port=5199
lab_exec -t 30 A "(/xlmig/xlmig migrate-receive --listen $port \
        >/tmp/mig-listen.log 2>&1 </dev/null
    echo \"receiver exit status \$?\" >>/tmp/mig-listen.log) >/dev/null 2>&1 &
    i=0; until grep -q 'listening on port' /tmp/mig-listen.log; do
        i=\$((i + 1)); [ \$i -gt 100 ] && exit 1; sleep 0.1; done" ||
    lab_fail "xlmig receiver --listen did not start on A"
out=$(lab_exec -t 1200 B "/xlmig/xlmig migrate --no-progress \
    --json /tmp/mig-back.json --tcp $(lab_host_ip A):$port $g 2>&1; echo rc=\$?")
printf '%s\n' "$out" | sed 's/^/    send| /'
lab_exec -t 60 A "sleep 1; cat /tmp/mig-listen.log" | sed 's/^/    recv| /'
grep -q '^rc=0$' <<<"$out" || lab_fail "B -> A over --tcp failed"
lab_move_guest B A "$g"
lab_check_placement A B "$g"
lab_report_hop A "$g" "$ip"

lab_guest_destroy A "$g"
mig_no_leftovers
lab_leak_check
