#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 900
#
# Round trips through the codec with streams of the simulated guest (a test
# instrument): for both flavours and every workload, original -> xlmig
# stream encode -> decode gives the same sha256 and the restore check passes
# on the decoded stream; every method round-trips; a corrupted byte in the
# encoded stream makes decode fail cleanly (exit 1, one error line naming
# the offset, never a crash).
set -eu

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XLMIG_BUILD:-$root/build}
sim=$build/tests/sim/sim-guest
xlmig=$build/xlmig
for b in "$sim" "$xlmig"; do
    [ -x "$b" ] || { echo "missing $b: run 'make tests'"; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
sha() { sha256sum "$1" | cut -d' ' -f1; }

roundtrip() { # roundtrip NAME FILE SIMARGS... -- ENCODE_ARGS...
    local name=$1 f=$2 simargs=() encargs=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do simargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    encargs=("$@")
    if ! "$xlmig" stream encode "${encargs[@]}" <"$f" >"$tmp/enc" \
        2>"$tmp/err"; then
        echo "FAIL: $name: encode failed: $(head -n3 "$tmp/err")"
        fail=1
        return
    fi
    if ! "$xlmig" stream decode <"$tmp/enc" >"$tmp/dec" 2>"$tmp/err"; then
        echo "FAIL: $name: decode failed: $(head -n3 "$tmp/err")"
        fail=1
        return
    fi
    if [ "$(sha "$f")" != "$(sha "$tmp/dec")" ]; then
        echo "FAIL: $name: sha256 of the decoded stream differs"
        fail=1
        return
    fi
    if ! "$sim" check "${simargs[@]}" -i "$tmp/dec" 2>"$tmp/err"; then
        echo "FAIL: $name: restore check of the decoded stream:"
        sed 's/^/    /' "$tmp/err"
        fail=1
        return
    fi
    echo "ok: $name: $(stat -c %s "$f") -> $(stat -c %s "$tmp/enc") bytes," \
        "sha256 equal, restore identical"
}

for flavour in pv hvm; do
    for wl in idle increment hotset text random zero; do
        args=(--flavour "$flavour" --workload "$wl" --pages 1024 --seed 11)
        f=$tmp/$flavour-$wl.xl
        "$sim" gen "${args[@]}" -o "$f"
        roundtrip "$flavour/$wl adaptive" "$f" "${args[@]}"
    done
done

# Every forced method, and the adaptive choice at both modelled links.
args=(--flavour hvm --workload hotset --pages 1024 --seed 11)
for m in raw "zlib -l 1" "zlib -l 6" "zstd -l 1" "zstd -l 3" lz4 \
    "adaptive -b 125000000" "adaptive -b 1250000000"; do
    # shellcheck disable=SC2086 # $m holds the method and its options
    roundtrip "hvm/hotset -m $m" "$tmp/hvm-hotset.xl" "${args[@]}" -- -m $m
done

# Corruption: one byte flipped at spread offsets of the encoded stream.
for flavour in pv hvm; do
    "$xlmig" stream encode <"$tmp/$flavour-text.xl" >"$tmp/enc"
    size=$(stat -c %s "$tmp/enc")
    for pct in 5 25 50 75 95 99; do
        off=$((size * pct / 100))
        cp "$tmp/enc" "$tmp/bad"
        byte=$(od -An -tu1 -j "$off" -N1 "$tmp/bad" | tr -d ' ')
        printf '%b' "\\$(printf '%03o' $((byte ^ 0x40)))" |
            dd of="$tmp/bad" bs=1 seek="$off" conv=notrunc status=none
        set +e
        "$xlmig" stream decode <"$tmp/bad" >"$tmp/dec" 2>"$tmp/err"
        rc=$?
        set -e
        if [ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -ge 1 ] &&
            grep -q 'offset' "$tmp/err"; then
            echo "ok: $flavour corrupt byte at $off/$size: $(head -n1 "$tmp/err")"
        else
            echo "FAIL: $flavour corrupt byte at $off/$size: rc $rc," \
                "stderr: $(head -n2 "$tmp/err")"
            fail=1
        fi
        if cmp -s "$tmp/dec" "$tmp/$flavour-text.xl"; then
            echo "FAIL: decode of a corrupt stream produced the original"
            fail=1
        fi
    done
done
exit $fail
