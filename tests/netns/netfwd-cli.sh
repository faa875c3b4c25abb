#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 30
#
# xlmig-netfwd's interface against its man page (no root, no namespace):
# every command and long option of the usage text is documented in
# xlmig-netfwd(8), every documented command is accepted, and bad usage
# exits 2 with one line on stderr and nothing on stdout.
set -u
root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
NETFWD=${XLMIG_BUILD:-build}/xlmig-netfwd
MAN=$root/man/xlmig-netfwd.8
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$NETFWD" ] || fail "$NETFWD not built"

help=$("$NETFWD" --help) || fail "--help failed"
cmds=$(echo "$help" | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && $1 ~ /^[a-z]+$/ { print $1 }')
[ "$(echo "$cmds" | wc -w)" -eq 8 ] || fail "expected 8 commands, got: $cmds"
for c in $cmds; do
    grep -q "^\.It Cm $c\$" "$MAN" || fail "command '$c' not documented"
done
while read -r c; do
    echo "$cmds" | grep -qx "$c" || fail "documented command '$c' unknown"
done < <(sed -n 's/^\.It Cm \([a-z]*\)$/\1/p' "$MAN")
for o in $(echo "$help" | grep -o -- '--[a-z-]*' | sort -u); do
    grep -q "Fl Fl ${o#--}" "$MAN" || fail "option '$o' not documented"
done

n=0
for args in "" "frobnicate" "prepare -N" "prepare -N 0" "prepare -N 16777216" \
    "prepare -N 5 -l 10.0.0.1 -r 10.0.0.2" "arm -N 5 -i mac=01:00:5e:00:00:01" \
    "arm -N 5 -i mac=00:16:3e:00:00:01,bridge=br0,vif=v,colour=red" \
    "attach -N 5 -l ::1 -r 10.0.0.2 -i mac=00:16:3e:00:00:01" \
    "announce" "announce -i mac=00:16:3e:00:00:01 -s 9,8" \
    "announce -i mac=00:16:3e:00:00:01 -s 0 --rounds 3" \
    "announce -i mac=00:16:3e:00:00:01 --rounds 17" \
    "teardown" "teardown -N 5 --cap-ms x" "abort -N 5 extra" "sweep -N -1" \
    "-z probe"; do
    # shellcheck disable=SC2086 # the arguments are meant to split
    out=$("$NETFWD" $args 2>"${TMPDIR:-/tmp}/nfwd-cli.$$")
    rc=$?
    err=$(cat "${TMPDIR:-/tmp}/nfwd-cli.$$")
    rm -f "${TMPDIR:-/tmp}/nfwd-cli.$$"
    [ $rc -eq 2 ] || fail "'$args' exited $rc, not 2"
    [ -z "$out" ] || fail "'$args' wrote to stdout: $out"
    if [ -n "$args" ]; then
        [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "'$args': $err"
        case $err in xlmig-netfwd:*) ;; *) fail "'$args': $err" ;; esac
    fi
    n=$((n + 1))
done
echo "report: 8 commands and $(echo "$help" | grep -o -- '--[a-z-]*' | sort -u | wc -l) long options documented; $n bad usages exit 2 with one line"
