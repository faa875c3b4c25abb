#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1800
#
# Back-out of xlmig migrate on real Xen: failure at connect, during the
# config exchange (a peer that is not a migration receiver), mid-precopy
# (the target cuts the compressed stream) and a target that rejects the
# stream (it cannot create the incoming domain).  Each time the guest
# keeps running on the source with its memory intact, nothing is left on
# either host; then the next migration succeeds.
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

# 4. the target rejects the stream: a domain named NAME--incoming already
#    exists there, so libxl refuses to create the incoming one
lab_exec -t 120 B "cat >/tmp/mig-blocker.cfg <<'MIG_EOF'
name = \"$g--incoming\"
type = \"pvh\"
kernel = \"/lab/guest/vmlinuz\"
ramdisk = \"/lab/guest/initrd.gz\"
memory = 128
MIG_EOF
xl create -p /tmp/mig-blocker.cfg" || lab_fail "cannot create the blocker"
mig_port=5153
mig_recv_start B "$mig_port" xlmig
mig_send A B "$g" xlmig
mig_recv_log B "$mig_port"
lab_exec -t 120 B "xl destroy $g--incoming" ||
    lab_fail "the blocker domain is gone: the target did not refuse"
mig_expect_backout "target rejects" "Migration failed, resuming at sender." "$g" "$ip"

# 5. and the next migration succeeds
mig_hop A B "$g" "$ip" xlmig xlmig
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
