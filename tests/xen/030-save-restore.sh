#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1200
#
# 'xl save' / 'xl restore' of the PVH test guest in dom0 A with the memory
# check; prints the save file's size, both times and the guest-observed gap.
# shellcheck source=tests/lab/lib.sh
. "$(dirname "$0")/../lab/lib.sh"
lab_test_begin stock

g=x030 ip=192.168.77.22 f=/tmp/x030.save
lab_guest_create A $g pvh 128 $ip 100
lab_guest_ask A $ip reset >/dev/null

out=$(lab_exec -t 600 A "
    rm -f $f
    t0=\$(cut -d' ' -f1 /proc/uptime)
    xl save $g $f || exit 1
    t1=\$(cut -d' ' -f1 /proc/uptime)
    xl list $g >/dev/null 2>&1 && { echo 'still listed after save'; exit 1; }
    echo size=\$(wc -c <$f)
    xl restore $f || exit 2
    t2=\$(cut -d' ' -f1 /proc/uptime)
    rm -f $f
    echo \$t0 \$t1 \$t2 | awk '{ printf \"save_s=%.2f restore_s=%.2f\\n\", \$2 - \$1, \$3 - \$2 }'
") || {
    printf '%s\n' "$out"
    lab_fail "xl save/restore failed"
}
printf '%s\n' "$out" | sed 's/^/    /'
size=$(sed -n 's/^size=//p' <<<"$out")
[ "${size:-0}" -gt $((128 << 20)) ] || lab_fail "save file of ${size:-0} bytes"

st=$(lab_guest_state A $g) || lab_fail "$g not running after restore"
v=$(lab_guest_verify A $ip) || lab_fail "memory check after restore: $v"
gap=$(lab_guest_max_gap_ms A $ip)
lab_log "save/restore: $(grep -o 'save_s=.*' <<<"$out"), file $size bytes," \
    "guest-observed gap $gap ms, state $st, memory check: $v"

lab_guest_destroy A $g
lab_leak_check
