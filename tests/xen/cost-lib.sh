#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Helpers of the cost-model lab tests (tests/xen/2NN-*.sh), on top of
# tests/xen/migrate-lib.sh.
#
#   cost_json_field EVENT NAME   value of "NAME" in the last EVENT line of
#                                mig_json (e.g. blackout predicted_blackout_ms)
#   cost_cap HOST NAME           the scheduler cap of NAME on HOST
#   cost_state HOST              the cost-state file in HOST's dom0
#   cost_report                  report: lines of the last migration

# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/migrate-lib.sh"

cost_json_field() # cost_json_field EVENT NAME
{
    grep "\"event\":\"$1\"" <<<"$mig_json" | tail -n1 |
        sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p"
}

# The cap column of 'xl sched-credit2' (Debian's default scheduler), or of
# 'xl sched-credit' on a credit host.
cost_cap() # cost_cap HOST NAME
{
    lab_exec -t 30 "$1" "
        if xl sched-credit2 -d $2 >/tmp/cost-sched 2>/dev/null; then :
        else xl sched-credit -d $2 >/tmp/cost-sched 2>&1; fi
        awk 'NR == 1 { for (i = 1; i <= NF; i++) if (\$i == \"Cap\") c = i }
             NR == 2 && c { print \$c }' /tmp/cost-sched"
}

cost_state() # cost_state HOST
{
    lab_exec -t 30 "$1" "cat /var/lib/xlmig/cost-state 2>/dev/null; true"
}

cost_report()
{
    local p m r rounds
    p=$(cost_json_field blackout predicted_blackout_ms)
    m=$(cost_json_field blackout measured_blackout_ms)
    r=$(cost_json_field blackout stop_reason)
    rounds=$(mig_json_field rounds)
    echo "report: rounds $rounds, stop $r, predicted ${p:-?} ms," \
        "measured ${m:-?} ms, guest gap ${cost_gap:-?} ms," \
        "total ${mig_s:-?} s"
}

# The lab link, rate-limited with tc inside the dom0s.  The dom0 image has
# neither tc nor the qdisc modules: cost_tc_stage copies this machine's tc
# with its libraries (same Debian) and the dom0 kernel's sch_tbf.ko into
# the share (build/lab-tc, /xlmig/lab-tc in dom0).
cost_tc_stage()
{
    local d=$lab_share/lab-tc tc lib ko
    tc=$(command -v tc) || lab_fail "no tc on this machine (package iproute2)"
    ko=$(find "$lab_cache"/base-*/x/lib/modules -name sch_tbf.ko 2>/dev/null |
        head -n1)
    [ -n "$ko" ] || lab_fail "no sch_tbf.ko for the dom0 kernel in $lab_cache"
    mkdir -p "$d" || lab_fail "cannot create $d"
    cp "$tc" "$ko" "$d/" || lab_fail "cannot stage tc"
    for lib in $(ldd "$tc" | awk '$3 ~ /^\// { print $3 }'); do
        cp -L "$lib" "$d/" || lab_fail "cannot stage $lib"
    done
}

# cost_link_limit HOST KBIT: token bucket of KBIT kbit/s on the egress of
# HOST's lab-link NIC; KBIT 0 removes it.
cost_link_limit()
{
    local h=$1 kbit=$2 out
    out=$(lab_exec -t 60 "$h" "
        dev=\$(cat /run/lab-link-dev)
        grep -q '^sch_tbf ' /proc/modules || insmod /xlmig/lab-tc/sch_tbf.ko || exit 1
        tc() { LD_LIBRARY_PATH=/xlmig/lab-tc /xlmig/lab-tc/tc \"\$@\"; }
        tc qdisc del dev \$dev root 2>/dev/null
        if [ $kbit -gt 0 ]; then
            tc qdisc add dev \$dev root tbf rate ${kbit}kbit burst 256kb latency 500ms || exit 1
        fi
        tc qdisc show dev \$dev") || lab_fail "tc on $h: $out"
    lab_log "lab link of $h: ${kbit} kbit/s ($(head -n1 <<<"$out"))"
}
