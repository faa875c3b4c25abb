#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 2400
#
# Round trip of streams captured from a real Xen guest (nested lab, Xen
# 4.17): an `xl save -c` file and the byte stream of a live `xl migrate`
# A -> B (several precopy rounds, log-dirty), both checked by Xen's
# verify-stream-v2, then xlmig stream encode -> decode must give the same
# sha256 for every method, and a corrupted byte must make decode fail.
# Under TCG on a loaded 2-core machine it took 22 minutes, most of it
# booting the guest and copying two ~145 MB streams out of dom0.
set -eu

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XLMIG_BUILD:-$root/build}
xlmig=$build/xlmig
verify=/usr/lib/xen-4.17/bin/verify-stream-v2
export PYTHONPATH=/usr/lib/xen-4.17/lib/python
# shellcheck source=tests/lab/lib.sh
. "$root/tests/lab/lib.sh"

[ -x "$xlmig" ] || lab_fail "missing $xlmig: run 'make'"
[ -x "$verify" ] || lab_fail "verify-stream-v2 missing: run 'make deps'"
lab_test_begin stock

tmp=$(mktemp -d)
trap 'rc=$?; rm -rf "$tmp"; lab_test_end $rc' EXIT
name=simrt ip=192.168.77.61 port=5061
sha() { sha256sum "$1" | cut -d' ' -f1; }

# A 128 MiB PVH guest of the lab's image (64 MiB cannot hold its kernel).
# Only a running guest is needed, not its workload: wait for its ping.
lab_guests+=("A $name")
lab_run -t 180 A "cat >/tmp/$name.cfg <<'CFG'
name = \"$name\"
type = \"pvh\"
kernel = \"/lab/guest/vmlinuz\"
ramdisk = \"/lab/guest/initrd.gz\"
extra = \"console=hvc0 rdinit=/init quiet gip=$ip mt_mb=32 mt_rate=50\"
memory = 128
vcpus = 1
vif = [ \"bridge=xenbr0,mac=00:16:3e:00:00:3d\" ]
CFG
xl create /tmp/$name.cfg" || lab_fail "xl create of $name failed"
for i in $(seq 60); do
    lab_run -t 30 A "ping -c 1 -W 3 $ip" >/dev/null 2>&1 && break
    [ "$i" -eq 60 ] && lab_fail "guest $name does not answer ping"
    sleep 5
done
lab_log "guest $name runs (ping answered after $i tries)"

lab_log "xl save -c $name on A"
lab_run -t 600 A "xl save -c $name /tmp/$name.save >/tmp/$name.save.log 2>&1" ||
    lab_fail "xl save: $(lab_run A "cat /tmp/$name.save.log")"
"$root/tests/lab/lab" cp-out A "/tmp/$name.save" "$tmp/save.xl"
lab_run A "rm -f /tmp/$name.save"

# Live migration A -> B; the sender's transport tees the stream.
dip=$(lab_host_ip B)
lab_run -t 60 B "
    (socat -b524288 TCP-LISTEN:$port,reuseaddr EXEC:'xl migrate-receive' \
        >/tmp/$name-recv.log 2>&1) >/dev/null 2>&1 </dev/null &
    i=0
    until netstat -ltn | grep -q ':$port '; do
        i=\$((i + 1)); [ \$i -gt 100 ] && exit 1; sleep 0.1
    done" || lab_fail "receiver on B did not start"
lab_log "xl migrate $name A -> B, stream captured on A"
out=$(lab_run -t 900 A "xl migrate -s '' $name \
    'tee /tmp/$name.live | socat -b524288 - TCP:$dip:$port' 2>&1; echo rc=\$?")
printf '%s\n' "$out" | sed 's/^/    /'
grep -q '^rc=0$' <<<"$out" || lab_fail "xl migrate failed"
lab_move_guest A B "$name"
"$root/tests/lab/lab" cp-out A "/tmp/$name.live" "$tmp/live.raw"
lab_run A "rm -f /tmp/$name.live"

# After the stream, the sender wrote xl's GO message on the same fd.
go='domain is yours, you are cleared to unpause'
size=$(stat -c %s "$tmp/live.raw")
if [ "$(tail -c 44 "$tmp/live.raw" | head -c 43)" != "$go" ]; then
    lab_fail "live capture does not end with xl's GO message"
fi
head -c $((size - 44)) "$tmp/live.raw" >"$tmp/live.xl"

fail=0
for s in save live; do
    f=$tmp/$s.xl
    if "$verify" -f xl -i "$f" >"$tmp/out" 2>&1; then
        lab_log "ok: verify-stream-v2 accepts the $s stream ($(stat -c %s "$f") bytes)"
    else
        sed 's/^/    /' "$tmp/out"
        lab_log "FAIL: verify-stream-v2 refuses the $s stream"
        fail=1
        continue
    fi
    for m in adaptive raw zlib zstd lz4; do
        if "$xlmig" stream encode -m "$m" <"$f" >"$tmp/enc" 2>"$tmp/err" &&
            "$xlmig" stream decode <"$tmp/enc" >"$tmp/dec" 2>>"$tmp/err" &&
            [ "$(sha "$f")" = "$(sha "$tmp/dec")" ]; then
            lab_log "ok: $s -m $m: $(stat -c %s "$f") -> $(stat -c %s "$tmp/enc") bytes, sha256 equal"
        else
            lab_log "FAIL: $s -m $m round trip: $(head -n3 "$tmp/err")"
            fail=1
        fi
    done
    "$xlmig" stream encode <"$f" >"$tmp/enc"
    off=$(($(stat -c %s "$tmp/enc") / 2))
    byte=$(od -An -tu1 -j "$off" -N1 "$tmp/enc" | tr -d ' ')
    printf '%b' "\\$(printf '%03o' $((byte ^ 0x40)))" |
        dd of="$tmp/enc" bs=1 seek="$off" conv=notrunc status=none
    set +e
    "$xlmig" stream decode <"$tmp/enc" >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    if [ "$rc" -eq 1 ]; then
        lab_log "ok: $s corrupt byte at $off: $(head -n1 "$tmp/err")"
    else
        lab_log "FAIL: $s corrupt byte at $off: decode rc $rc"
        fail=1
    fi
done
exit $fail
