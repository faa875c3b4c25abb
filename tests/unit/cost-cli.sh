#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The cost model's options of 'xlmig migrate' (docs/cost-model.md): bad
# values exit 2 with one line naming the option, before any guest is
# touched; good ones pass the parser (the run then fails later, exit 1,
# on this machine without Xen); --help documents every option.
set -u
root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${XLMIG_BUILD:-$root/build}/xlmig
[ -x "$bin" ] || { echo "no $bin: run make"; exit 1; }
fail=0 n=0

bad() # bad OPTION VALUE
{
    local out rc
    out=$("$bin" migrate "--$1" "$2" g1 host 2>&1)
    rc=$?
    n=$((n + 1))
    if [ "$rc" -ne 2 ] || [ "$out" != "xlmig migrate: invalid value '$2' for --$1" ]; then
        echo "FAIL --$1 '$2': exit $rc, output: $out"
        fail=1
    fi
}

for v in 0 -5 abc 12x '' 3600001; do bad max-downtime "$v"; done
for v in 0 -1 1.5 604801; do bad max-time "$v"; done

out=$(XLMIG_STATE_DIR=$(mktemp -d) "$bin" migrate --max-downtime 100 \
    --max-time 60 --no-throttle --throttle --abort-if-busy g1 host 2>&1)
rc=$?
n=$((n + 1))
if [ "$rc" -ne 1 ]; then
    echo "FAIL good options: exit $rc (expected 1: no Xen here): $out"
    fail=1
fi

help=$("$bin" migrate -h)
for o in --max-downtime --max-time --throttle --no-throttle --abort-if-busy; do
    n=$((n + 1))
    grep -q -- "$o" <<<"$help" || { echo "FAIL $o not in --help"; fail=1; }
    grep -q -- "^\\.It Fl Fl ${o#--}" "$root/man/xlmig.1" ||
        grep -q -- "Fl Fl ${o#--}" "$root/man/xlmig.1" ||
        { echo "FAIL $o not in xlmig(1)"; fail=1; }
done
echo "report: $n checks of the cost options"
exit $fail
