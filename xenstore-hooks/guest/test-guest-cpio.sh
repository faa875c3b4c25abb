#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The guest side of xenstore hooks, on this machine: the listener is a
# static program (the test guest has no libc), the lab's extra cpio holds
# it and /xsh-init, and its usage and the missing-xenstore path behave.
set -u
root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
b=${XLMIG_BUILD:-$root/build}
g=$b/xenstore-hooks/guest/xlmig-notice-guest
cpio_gz=$b/xenstore-hooks/guest/xsh-guest-extra.cpio.gz
fail() {
    echo "FAIL: $*"
    exit 1
}
[ -x "$g" ] || fail "no $g (make tests)"
[ -f "$cpio_gz" ] || fail "no $cpio_gz (make tests)"
# with SAN=1 everything is dynamic (ASan); the lab uses the plain build
if [ "$(basename "$b")" = build ]; then
    readelf -l "$g" | grep -q INTERP && fail "$g is not static"
fi
list=$(gzip -dc "$cpio_gz" | cpio -it --quiet 2>/dev/null | sort | tr '\n' ' ')
[ "$list" = "bin bin/xlmig-notice-guest xsh-init " ] ||
    fail "cpio holds '$list'"
"$g" -h >/dev/null 2>&1 || fail "-h exits $?"
"$g" -Z >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad option does not exit 2"
# no xenstore here: a clear failure, exit 2, never a hang
out=$(XENSTORED_PATH=/nonexistent/socket timeout 10 "$g" 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "without xenstore: exit $rc ($out)"
grep -q 'cannot subscribe: No such file' <<<"$out" || fail "without xenstore: '$out'"
echo "report: static listener $(stat -c %s "$g") bytes, cpio $(stat -c %s "$cpio_gz") bytes"
