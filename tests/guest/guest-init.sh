#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the test guest (PVH or PV), run by the kernel as PID 1 from the
# initramfs that build-guest-initrd makes.  Kernel command line:
#   gip=A.B.C.D                  static address, /24 on eth0
#                                (default 192.168.77.10)
#   mt_mb= mt_rate= mt_hot= mt_seed=   memtest parameters (memtest reads
#                                /proc/cmdline itself)
# udpecho serves UDP port 7001 (tests/guest/udpecho.c).
# Console lines for the lab: "MEMTEST-UP ..." (from memtest) then
# "GUEST-UP ip=... memtest=PID", or "GUEST-FAILED reason".
# Afterwards busybox init becomes PID 1: it reaps orphans and keeps a shell
# on the console (xl console).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1

failed() {
    echo "GUEST-FAILED $*"
    exec /sbin/init
}

# xen-netfront and whatever it needs, in the order the builder computed
while read -r m; do
    insmod "/lib/modules/$m" || echo "guest-init: insmod $m failed"
done </lib/modules/load-order

ip=$(sed -n 's/.*[[:space:]]gip=\([0-9.]*\).*/\1/p; s/^gip=\([0-9.]*\).*/\1/p' \
    /proc/cmdline | head -n1)
ip=${ip:-192.168.77.10}
ip link set lo up
# netfront probes asynchronously: give the vif a few seconds to appear
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -e /sys/class/net/eth0 ] || failed "no eth0 (is there a vif?)"
ip link set eth0 up
ip addr add "$ip/24" dev eth0 || failed "cannot set $ip on eth0"

# the brownout tests' UDP responder (counts and echoes, port 7001)
/bin/udpecho serve 7001 >/dev/null 2>&1 &
/bin/memtest &
mt=$!
# memtest listens on port 7000 (0x1B58) once its memory is filled
i=0
while ! grep -q ':1B58 00000000:0000 0A' /proc/net/tcp 2>/dev/null; do
    kill -0 "$mt" 2>/dev/null || failed "memtest exited"
    [ $i -lt 3000 ] || failed "memtest not listening after 300 s"
    sleep 0.1
    i=$((i + 1))
done
echo "GUEST-UP ip=$ip memtest=$mt"

exec /sbin/init
