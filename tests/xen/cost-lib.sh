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
