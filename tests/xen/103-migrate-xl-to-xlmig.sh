#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1200
#
# stock 'xl migrate' -> 'xlmig migrate-receive': a stock sender never sets
# the optional flag, so xlmig answers nothing extra and restores the stock
# stream; the PVH guest runs on B with its memory intact.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin stock

g=mig103 ip=192.168.77.43
lab_guest_create A "$g" pvh 128 "$ip" 100 0 32
mig_hop A B "$g" "$ip" xl xlmig
# shellcheck disable=SC2154 # set by mig_hop
grep -q 'info 0x3/0x0/' <<<"$mig_out" ||
    lab_fail "stock sender's header not as expected"
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
