#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Golden tests of 'xlmig migrate' and 'xlmig migrate-receive': usage, the
# one-line errors for bad option values and their exit codes (2, before
# any guest is touched: these run on a machine without Xen), and the xl
# phrases that scripts grep for, byte for byte in the binary.
# Regenerate a golden file: XLMIG_GOLDEN_UPDATE=1 tests/golden/migrate-cli.sh
set -u
root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${XLMIG_BUILD:-$root/build}/xlmig
gold=$root/tests/golden/migrate
[ -x "$bin" ] || { echo "no $bin: run make"; exit 1; }
fail=0 n=0

check() # check NAME EXPECTED_RC ARGS...
{
    local name=$1 want=$2 out rc
    shift 2
    out=$("$bin" "$@" 2>&1)
    rc=$?
    n=$((n + 1))
    out="rc=$rc"$'\n'"$out"
    if [ -n "${XLMIG_GOLDEN_UPDATE:-}" ]; then
        printf '%s\n' "$out" >"$gold/$name.txt"
    fi
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"
        fail=1
    fi
    if ! diff -u "$gold/$name.txt" <(printf '%s\n' "$out"); then
        echo "FAIL $name: output differs from $gold/$name.txt"
        fail=1
    fi
}

check migrate-no-args 2 migrate
check migrate-help 0 migrate -h
check migrate-one-arg 2 migrate g1
check migrate-bad-compress 2 migrate --compress=fast g1 host
check migrate-bad-bandwidth 2 migrate --max-bandwidth=-5 g1 host
check migrate-bad-bandwidth-unit 2 migrate --max-bandwidth 10X g1 host
check migrate-bad-tcp 2 migrate --tcp justahost g1
check migrate-bad-json 2 migrate --json /nonexistent/dir/events g1 host
check migrate-bad-option 2 migrate -Z g1 host
check migrate-bad-long-option 2 migrate --bogus g1 host
check migrate-missing-value 2 migrate g1 host -s
check migrate-extra-arg 2 migrate g1 host extra
check receive-extra-arg 2 migrate-receive extra
check receive-bad-compress 2 migrate-receive --compress=maybe
check receive-remus 2 migrate-receive -r
check receive-bad-listen 2 migrate-receive --listen 99999
# xenstore hooks (xlmig-hooks(7))
check migrate-bad-notice 2 migrate --notice 1h g1 host
check migrate-bad-notice-range 2 migrate --notice 3601 g1 host
check migrate-bad-hook-timeout 2 migrate --hook-timeout 0 g1 host
check receive-bad-hook-timeout 2 migrate-receive --hook-timeout -1

# The phrases of tools/xl/xl_migrate.c that scripts and people grep for.
phrases=(
    "migration target: Ready to receive domain."
    "migration target: Transfer complete, requesting permission to start domain."
    "migration target: Got permission, starting domain."
    "migration target: Domain started successsfully."
    "migration target: Failure, destroying our copy."
    "migration target: Cleanup OK, granting sender permission to resume."
    "migration target: Domain creation failed (code %d)."
    "migration sender: Target has acknowledged transfer."
    "migration sender: Giving target permission to start."
    "migration sender: Target reports successful startup."
    "migration sender: Target reports startup failure (status code %d)."
    "migration sender: Trying to resume at our end."
    "migration sender: Resumed OK."
    "Migration successful."
    "Migration failed, resuming at sender."
    "Migration failed, failed to suspend at sender."
    "Migration failed due to problems at target."
    "** Migration failed during final handshake **"
    "%s contained unexpected data instead of %s"
    "(command run was: %s )"
    "xl migration receiver ready, send binary domain data."
    "domain received, ready to unpause"
    "domain is yours, you are cleared to unpause"
    "my copy unpause results are as follows"
    "%s is an invalid domain identifier (rc=%d)"
    "No config file stored for running domain and none supplied - cannot migrate."
)
strs=$(strings -n 8 "$bin")
for p in "${phrases[@]}"; do
    n=$((n + 1))
    grep -qF -- "$p" <<<"$strs" || {
        echo "FAIL phrase missing from xlmig: $p"
        fail=1
    }
done
echo "$n golden checks"
exit $fail
