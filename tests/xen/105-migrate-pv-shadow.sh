#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: shadow
# timeout: 1500
#
# PV guest on the shadow-paging hypervisor: xlmig -> xlmig A -> B
# (compressed), then xlmig -> stock xl back, memory check each time.
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
lab_guest_destroy A "$g"
mig_no_leftovers
lab_leak_check
