#!/bin/bash
# SPDX-License-Identifier: MIT
#
# xlmig stream inspect/encode/decode: round trips, the listing of a
# compressed stream equals that of the original, malformed input gives
# exit 1 and one line naming the offset, bad usage exit 2.
set -eu

build=${XLMIG_BUILD:-build}
xlmig=$build/xlmig
mk=$build/tests/unit/codec-mkstream
for b in "$xlmig" "$mk"; do
    [ -x "$b" ] || { echo "missing $b (run make tests)"; exit 1; }
done
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for kind in zero ff text random; do
    "$mk" 700 3 "$kind" >"$t/orig"
    for m in adaptive raw zlib zstd lz4; do
        "$xlmig" stream encode -m "$m" <"$t/orig" >"$t/enc"
        "$xlmig" stream decode <"$t/enc" >"$t/dec"
        cmp -s "$t/orig" "$t/dec" || fail "$kind/$m: decoded stream differs"
    done
    # a stock stream decodes to itself
    "$xlmig" stream decode <"$t/orig" >"$t/dec"
    cmp -s "$t/orig" "$t/dec" || fail "$kind: stock stream not passed through"
done

"$mk" 2000 2 text >"$t/orig"
"$xlmig" stream encode -s <"$t/orig" >"$t/enc" 2>"$t/err"
grep -q '^encode: .* bytes in' "$t/err" || fail "no encode statistics"
[ "$(stat -c %s "$t/enc")" -lt "$(stat -c %s "$t/orig")" ] ||
    fail "encoded stream not smaller"
"$xlmig" stream encode --json <"$t/orig" 2>&1 >/dev/null |
    grep -q '"pages_delta":' || fail "no JSON statistics"

# inspect: one line per record, the same for the compressed form
"$xlmig" stream inspect "$t/orig" >"$t/i1"
"$xlmig" stream inspect - <"$t/enc" >"$t/i2"
grep -q 'libxc  PAGE_DATA .*pfn 0-0x3ff, 1024 pages, 0% zero' "$t/i1" ||
    fail "no PAGE_DATA line"
grep -q '^summary: 4000 pages with data in 4 PAGE_DATA records' "$t/i1" ||
    fail "bad summary"
grep -q 'xlmig wire bytes' "$t/i2" || fail "compressed form not reported"
diff <(grep -v '^summary' "$t/i1") <(grep -v '^summary' "$t/i2") ||
    fail "listings of the original and compressed streams differ"
"$xlmig" stream inspect --json "$t/orig" | tail -n1 |
    grep -q '"summary":{"stream_bytes":' || fail "no JSON summary"

# truncated and corrupt input: exit 1, one line with the offset
len=$(stat -c %s "$t/enc")
for cut in 7 100 1000 $((len / 2)) $((len - 1)); do
    rc=0
    head -c "$cut" "$t/enc" | "$xlmig" stream decode >"$t/out" 2>"$t/err" ||
        rc=$?
    [ "$rc" -eq 1 ] || fail "truncated at $cut: exit $rc"
    [ "$(wc -l <"$t/err")" -eq 1 ] || fail "truncated at $cut: $(cat "$t/err")"
    grep -q 'offset [0-9]' "$t/err" || fail "no offset: $(cat "$t/err")"
    cmp -s "$t/out" <(head -c "$(stat -c %s "$t/out")" "$t/orig") ||
        fail "truncated at $cut: output is not a prefix of the original"
    rc=0
    head -c "$cut" "$t/enc" | "$xlmig" stream inspect - >"$t/out" \
        2>"$t/err" || rc=$?
    [ "$rc" -eq 1 ] || fail "inspect truncated at $cut: exit $rc"
    ! grep -q '^summary' "$t/out" || fail "summary printed after an error"
done
# a flipped byte in a wire record: checksum
cp "$t/enc" "$t/bad"
printf '\x55' | dd of="$t/bad" bs=1 seek=$((len / 2)) conv=notrunc 2>/dev/null
rc=0
"$xlmig" stream decode <"$t/bad" >/dev/null 2>"$t/err" || rc=$?
[ "$rc" -eq 1 ] || fail "corrupt stream: exit $rc"
grep -q 'checksum mismatch\|malformed' "$t/err" || fail "$(cat "$t/err")"
rc=0
echo "not a stream at all" | "$xlmig" stream encode >"$t/out" 2>"$t/err" ||
    rc=$?
if [ "$rc" -ne 1 ] || [ -s "$t/out" ]; then fail "garbage: exit $rc"; fi
grep -q 'offset 0 .*not an xl' "$t/err" || fail "garbage: $(cat "$t/err")"

# usage
rc=0
"$xlmig" stream encode -m gzip </dev/null 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "bad method: exit $rc"
rc=0
"$xlmig" stream frobnicate 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "bad subcommand: exit $rc"
echo "stream-cli: ok"
