#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1500
#
# Back-out of xlmig migrate on real Xen: failure at connect, during the
# config exchange (a peer that is not a migration receiver), mid-precopy
# (the target cuts the compressed stream), at suspend (the guest cannot
# see the suspend request), before "ready" (the target's answer never
# arrives) and a target that rejects the stream (it cannot create the
# incoming domain).  Each time the guest keeps running on the source with
# its memory intact and log-dirty off, nothing is left on either host (no
# --incoming or nameless domain, no process, no xenstore node of a gone
# domain); then the next migration succeeds.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin stock

g=mig104 ip=192.168.77.44
lab_guest_create A "$g" pvh 128 "$ip" 100 0 32

# 1. connect: nothing listens on the target
mig_port=5150
mig_send A B "$g" xlmig
mig_expect_backout connect "reading banner" "$g" "$ip"

# 2. config exchange: the peer speaks, but not xl's protocol
mig_port=5151
mig_recv_start B "$mig_port" "sh:echo 'SSH-2.0-OpenSSH_9.2 not a migration receiver, sorry, really not'; sleep 5"
mig_send A B "$g" xlmig
mig_recv_log B "$mig_port"
mig_expect_backout "config exchange" "contained unexpected data instead of banner" "$g" "$ip"

# 3. mid-precopy: the target's transport dies after 8 MB of the stream
mig_port=5152
mig_recv_start B "$mig_port" "sh:head -c 8000000 | /xlmig/xlmig migrate-receive"
mig_send A B "$g" xlmig
mig_recv_log B "$mig_port"
mig_expect_backout mid-precopy "Migration failed, resuming at sender." "$g" "$ip"

# 4. at suspend: the guest cannot read its control/shutdown node, so it
#    never sees libxl's suspend request; libxl gives up after 60 s
mig_port=5154
domid=$(lab_exec -t 30 A "xl domid $g") || lab_fail "no domid for $g"
node=/local/domain/$domid/control/shutdown
perms=$(lab_exec -t 30 A "xenstore-ls -p /local/domain/$domid/control |
    sed -n 's/^shutdown = .*(\\(.*\\))\$/\\1/p' | tr ',' ' '")
lab_log "control/shutdown perms: '$perms'"
[ -n "$perms" ] || lab_fail "cannot read the perms of $node"
lab_exec -t 30 A "xenstore-chmod $node n0" || lab_fail "xenstore-chmod"
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig
mig_recv_log B "$mig_port"
# what libxl left in the node (it cancels a request it timed out on; a
# "suspend" left there would reach the guest once it can read the node)
lab_log "control/shutdown after the failed suspend:" \
    "'$(lab_exec -t 30 A "xenstore-read $node")'"
# shellcheck disable=SC2086 # one argument per permission
lab_exec -t 30 A "xenstore-write $node '' && xenstore-chmod $node $perms" ||
    lab_fail "xenstore-chmod back"
mig_expect_backout "at suspend" "Migration failed, failed to suspend at sender." "$g" "$ip"

# 5. before "ready": the target's back channel passes the banner and the
#    capability answer (54 + 16 bytes), then swallows one byte of "ready"
#    and goes silent (the connection stays up); the sender (suspended by
#    then) gives up waiting for "ready" (30 s here, XLMIG_HANDOVER_TIMEOUT_MS;
#    10 min by default) and resumes, the target sees the connection close
#    and destroys its copy
mig_port=5155
mig_recv_start B "$mig_port" "sh:/xlmig/xlmig migrate-receive | { dd bs=1 count=70 2>/dev/null; dd bs=1 count=1 of=/dev/null 2>/dev/null; }"
mig_send_env=XLMIG_HANDOVER_TIMEOUT_MS=30000
mig_send A B "$g" xlmig
mig_send_env=
mig_recv_log B "$mig_port"
grep -q '"event":"suspended"' <<<"$(lab_exec -t 30 A "cat /tmp/mig-$g.json")" ||
    lab_fail "before ready: the guest was never suspended (not this case)"
mig_expect_backout "before ready" "Migration failed, resuming at sender." "$g" "$ip"

# 6. the target rejects the stream: a domain named NAME--incoming already
#    exists there, so libxl refuses to create the incoming one
lab_exec -t 120 B "cat >/tmp/mig-blocker.cfg <<'MIG_EOF'
name = \"$g--incoming\"
type = \"pvh\"
kernel = \"/lab/guest/vmlinuz\"
ramdisk = \"/lab/guest/initrd.gz\"
memory = 128
MIG_EOF
xl create -p /tmp/mig-blocker.cfg" || lab_fail "cannot create the blocker"
mig_port=5156
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig
mig_recv_log B "$mig_port"
lab_exec -t 120 B "xl destroy $g--incoming" ||
    lab_fail "the blocker domain is gone: the target did not refuse"
mig_expect_backout "target rejects" "Migration failed, resuming at sender." "$g" "$ip"

# 7. and the next migration succeeds
mig_hop A B "$g" "$ip" xlmig xlmig
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
