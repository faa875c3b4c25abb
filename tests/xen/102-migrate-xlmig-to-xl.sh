#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: stock
# timeout: 1200
#
# xlmig -> stock 'xl migrate-receive': the receiver gets the stock stream
# (it never answers the optional flag, so xlmig never switches), the PVH
# guest runs on B with its memory intact.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin stock

g=mig102 ip=192.168.77.42
lab_guest_create A "$g" pvh 128 "$ip" 100 0 32
mig_hop A B "$g" "$ip" xlmig xl
[ "$(mig_json_field compressed)" = false ] ||
    lab_fail "compressed stream sent to a stock receiver"
[ "$(mig_json_field peer)" = xl ] || lab_fail "stock peer not recognised"
lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
