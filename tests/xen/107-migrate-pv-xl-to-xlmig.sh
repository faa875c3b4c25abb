#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: shadow
# timeout: 1500
#
# PV guest on the shadow-paging hypervisor, stock xl -> xlmig A -> B: the
# stock stream (no xlmig flag in the header), restored by xlmig
# migrate-receive; the guest runs on B with its memory intact.  With 105
# (xlmig -> xlmig, xlmig -> xl) all three directions are covered for PV.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin shadow

g=mig107 ip=192.168.77.47
lab_guest_create A "$g" pv 128 "$ip" 100 0 32
mig_hop A B "$g" "$ip" xl xlmig
# shellcheck disable=SC2154 # set by mig_hop
grep -q 'info 0x3/0x0/' <<<"$mig_out" ||
    lab_fail "stock sender's header not as expected"
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
