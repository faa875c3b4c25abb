#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 300
#
# Streams of the simulated guest (a test instrument) for both flavours and
# every workload must pass Xen's own checker, verify-stream-v2 from
# xen-utils-4.17 (installed by 'make deps'), and restore byte for byte.
# A truncated stream must be refused by both.
set -eu

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XLMIG_BUILD:-$root/build}
sim=$build/tests/sim/sim-guest
verify=/usr/lib/xen-4.17/bin/verify-stream-v2
export PYTHONPATH=/usr/lib/xen-4.17/lib/python

if [ ! -x "$verify" ]; then
    echo "verify-stream-v2 not installed: run 'make deps' (xen-utils-4.17)"
    exit 77
fi
[ -x "$sim" ] || { echo "missing $sim: run 'make tests'"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail=0
for flavour in pv hvm; do
    for wl in idle increment hotset text random zero; do
        args=(--flavour "$flavour" --workload "$wl" --pages 2048 --seed 7)
        f=$tmp/$flavour-$wl.xl
        "$sim" gen "${args[@]}" -o "$f"
        if "$verify" -f xl -i "$f" >"$tmp/out" 2>&1; then
            echo "ok: verify-stream-v2 accepts $flavour/$wl ($(stat -c %s "$f") bytes)"
        else
            echo "FAIL: verify-stream-v2 refuses $flavour/$wl:"
            sed 's/^/    /' "$tmp/out"
            fail=1
        fi
        if "$sim" check "${args[@]}" -i "$f" 2>"$tmp/out"; then
            echo "ok: restore of $flavour/$wl identical"
        else
            echo "FAIL: restore check of $flavour/$wl:"
            sed 's/^/    /' "$tmp/out"
            fail=1
        fi
    done
done

# The checker is not a rubber stamp: it refuses a cut stream, and so does
# the restore side; a flipped page byte passes the checker (it does not
# look at page contents) but not the restore check.
f=$tmp/pv-text.xl
head -c 1000000 "$f" >"$tmp/cut.xl"
if "$verify" -f xl -i "$tmp/cut.xl" >/dev/null 2>&1; then
    echo "FAIL: verify-stream-v2 accepted a truncated stream"
    fail=1
else
    echo "ok: verify-stream-v2 refuses a truncated stream"
fi
if "$sim" check --flavour pv --workload text --pages 2048 --seed 7 \
    -i "$tmp/cut.xl" 2>/dev/null; then
    echo "FAIL: restore accepted a truncated stream"
    fail=1
else
    echo "ok: restore refuses a truncated stream"
fi
size=$(stat -c %s "$f")
cp "$f" "$tmp/flip.xl"
# a byte inside the last page sent (the libxc/libxl tails are < 64 KiB)
off=$((size - 70000))
printf '\x5a' | dd of="$tmp/flip.xl" bs=1 seek="$off" conv=notrunc status=none
if cmp -s "$f" "$tmp/flip.xl"; then
    printf '\xa5' | dd of="$tmp/flip.xl" bs=1 seek="$off" conv=notrunc \
        status=none
fi
if "$sim" check --flavour pv --workload text --pages 2048 --seed 7 \
    -i "$tmp/flip.xl" 2>"$tmp/out"; then
    echo "FAIL: restore check missed a flipped byte at offset $off"
    fail=1
else
    echo "ok: restore check catches a flipped byte: $(head -n1 "$tmp/out")"
fi
exit $fail
