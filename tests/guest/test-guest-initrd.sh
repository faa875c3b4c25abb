#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 180
#
# build-guest-initrd on this machine: a fake lib/modules tree (ELF objects
# with a .modinfo section, one xz-compressed, with dependencies) and, when
# the lab has unpacked a Debian kernel in XLMIG_CACHE, the real one.  Checks
# the archive's layout, the module load order, that busybox is intact, that
# memtest is the static build, /init's syntax, and failure without output.
set -u

root=${XLMIG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
builder=$root/tests/guest/build-guest-initrd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*"
    exit 1
}

for t in gcc cpio modinfo xz readelf; do
    command -v "$t" >/dev/null || { echo "no $t (make deps)"; exit 77; }
done

# the memtest the builder takes: the static one from the normal build, even
# when this test runs under SAN=1 (whose memtest is dynamic)
make -s -C "$root" build/tests/guest/memtest SAN=0 ||
    fail "cannot build the static memtest"
memtest=$root/build/tests/guest/memtest
make -s -C "$root" build/tests/guest/udpecho SAN=0 ||
    fail "cannot build the static udpecho"

# fake_module DIR FILE NAME DEPENDS: an ELF object that modinfo can read
fake_module() {
    mkdir -p "$1"
    printf 'static const char mi[] __attribute__((section(".modinfo"), used))\n = "license=GPL\\0depends=%s\\0name=%s\\0";\n' \
        "$4" "$3" >"$tmp/m.c"
    gcc -c "$tmp/m.c" -o "$1/$2" || fail "cannot build fake module $2"
}

mods=$tmp/lib/modules/6.1.0-test
fake_module "$mods/kernel/drivers/net" xen-netfront.ko xen_netfront \
    fake_dep,other_mod
fake_module "$mods/kernel/lib" fake-dep.ko fake_dep other_mod
xz "$mods/kernel/lib/fake-dep.ko"
fake_module "$mods/kernel/lib" other_mod.ko other_mod ""

# unpack OUT DIR
unpack() {
    mkdir -p "$2"
    (cd "$2" && gzip -dc "$1" | cpio -id --quiet) || fail "cannot unpack $1"
}

# check_tree DIR: the layout every guest initramfs must have
check_tree() {
    local d=$1 bb
    if [ ! -f "$d/bin/busybox" ] || [ -L "$d/bin/busybox" ]; then
        fail "bin/busybox is not a regular file"
    fi
    bb=$(command -v busybox)
    cmp -s "$d/bin/busybox" "$(readlink -f "$bb")" ||
        fail "bin/busybox differs from $bb"
    for a in sbin/init bin/sh bin/mount sbin/insmod sbin/ip bin/sed bin/grep \
        bin/cttyhack bin/sleep bin/umount; do
        [ "$(readlink "$d/$a")" = /bin/busybox ] ||
            fail "$a is not a link to /bin/busybox"
    done
    [ -x "$d/init" ] || fail "no executable /init"
    "$d/bin/busybox" sh -n "$d/init" || fail "/init: syntax error"
    cmp -s "$d/bin/memtest" "$memtest" || fail "bin/memtest is not $memtest"
    readelf -l "$d/bin/memtest" | grep -q INTERP && fail "memtest is dynamic"
    "$d/bin/memtest" --help | grep -q '^Usage: memtest' ||
        fail "bin/memtest does not run"
    cmp -s "$d/bin/udpecho" "$root/build/tests/guest/udpecho" ||
        fail "bin/udpecho is not the static udpecho"
    readelf -l "$d/bin/udpecho" | grep -q INTERP && fail "udpecho is dynamic"
    grep -q 'udpecho serve 7001' "$d/init" || fail "/init does not start udpecho"
    grep -q '^::respawn:/bin/cttyhack /bin/sh$' "$d/etc/inittab" ||
        fail "no console shell in /etc/inittab"
    for x in proc sys dev tmp run etc; do
        [ -d "$d/$x" ] || fail "no /$x"
    done
}

# ---- fake tree: dependencies first, compressed module unpacked
"$builder" "$tmp/out/guest.cpio.gz" "$mods" >"$tmp/log" 2>&1 ||
    fail "builder failed: $(cat "$tmp/log")"
cat "$tmp/log"
unpack "$tmp/out/guest.cpio.gz" "$tmp/x"
check_tree "$tmp/x"
order=$(tr '\n' ' ' <"$tmp/x/lib/modules/load-order")
[ "$order" = "other_mod.ko fake_dep.ko xen-netfront.ko " ] ||
    fail "load order '$order'"
modinfo -F name "$tmp/x/lib/modules/fake_dep.ko" | grep -qx fake_dep ||
    fail "fake_dep.ko was not decompressed"
cnt=$(gzip -dc "$tmp/out/guest.cpio.gz" | cpio -it --quiet |
    grep -cE '^(\./)?bin/busybox$')
[ "$cnt" -eq 1 ] || fail "bin/busybox is $cnt times in the archive"
echo "ok: fake modules tree, load order: $order"

# ---- failures leave no output behind
rm -f "$mods/kernel/lib/other_mod.ko"
"$builder" "$tmp/out/bad.cpio.gz" "$mods" >"$tmp/log" 2>&1 &&
    fail "builder succeeded with a missing dependency"
grep -q 'module other_mod not found' "$tmp/log" ||
    fail "no message for a missing module: $(cat "$tmp/log")"
"$builder" "$tmp/out/bad.cpio.gz" "$tmp/nowhere" >"$tmp/log" 2>&1 &&
    fail "builder succeeded without a modules tree"
"$builder" "$tmp/out/bad.cpio.gz" >"$tmp/log" 2>&1 &&
    fail "builder succeeded without arguments"
for f in "$tmp"/out/bad*; do
    [ -e "$f" ] && fail "a failed build left $f"
done
echo "ok: failures leave no output"

# ---- the real Debian kernel's tree, when the lab has unpacked one
real=""
for d in "${XLMIG_CACHE:-$HOME/.cache/xlmig}"/lab/base-*/x/lib/modules/*; do
    [ -d "$d/kernel" ] && real=$d && break
done
if [ -n "$real" ]; then
    "$builder" "$tmp/out/real.cpio.gz" "$real" >"$tmp/log" 2>&1 ||
        fail "builder failed on $real: $(cat "$tmp/log")"
    cat "$tmp/log"
    unpack "$tmp/out/real.cpio.gz" "$tmp/real"
    check_tree "$tmp/real"
    grep -qx xen-netfront.ko "$tmp/real/lib/modules/load-order" ||
        fail "no xen-netfront.ko in the load order"
    modinfo -F vermagic "$tmp/real/lib/modules/xen-netfront.ko" |
        grep -q "^${real##*/} " || fail "xen-netfront.ko is not for ${real##*/}"
    echo "ok: real modules tree $real"
else
    echo "note: no unpacked Debian kernel in the lab cache; fake tree only"
fi
echo "all build-guest-initrd checks passed"
