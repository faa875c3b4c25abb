#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: shadow
# timeout: 2400
#
# PV guest on the shadow-paging hypervisor, all three directions: xlmig ->
# xlmig A -> B (compressed), xlmig -> stock xl back to A, then stock xl ->
# xlmig A -> B (the stock stream, restored by xlmig migrate-receive);
# memory check each time.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin shadow

g=mig105 ip=192.168.77.45
lab_guest_create A "$g" pv 128 "$ip" 100 0 32
mig_hop A B "$g" "$ip" xlmig xlmig
[ "$(mig_json_field compressed)" = true ] ||
    lab_fail "xlmig -> xlmig did not negotiate compression"
mig_hop B A "$g" "$ip" xlmig xl
mig_hop A B "$g" "$ip" xl xlmig
# shellcheck disable=SC2154 # set by mig_hop
grep -q 'info 0x3/0x0/' <<<"$mig_out" ||
    lab_fail "stock sender's header not as expected"
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
