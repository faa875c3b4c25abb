#!/bin/bash
# SPDX-License-Identifier: MIT
# lab: hvm
# timeout: 1800
#
# HVM guest (device model qemu-system-xen in dom0: the lab's HVM dom0
# variant, 'tests/lab/lab up --hvm'), the test guest's kernel and initramfs
# by direct kernel boot, with the memory-integrity workload.  xlmig sends
# HVM guests through libxl's own save path (libxl_domain_suspend: libxl adds
# the device model's records); between xlmig ends the stream must still be
# compressed.  A -> B xlmig -> xlmig, B -> A xlmig -> stock xl, A -> B stock
# xl -> xlmig; after each hop the guest runs on the target with its memory
# intact and is gone from the source; nothing is left behind.
set -u
# shellcheck source=tests/xen/migrate-lib.sh
. "$(dirname "$0")/migrate-lib.sh"
mig_test_begin hvm

g=mig108 ip=192.168.77.48
t0=$SECONDS
lab_guest_create A "$g" hvm 128 "$ip" 100 0 32
echo "report: HVM guest created and answering in $((SECONDS - t0)) s"

mig_hop A B "$g" "$ip" xlmig xlmig
[ "$(mig_json_field compressed)" = true ] ||
    lab_fail "xlmig -> xlmig did not compress the HVM guest's stream"
[ "$(mig_json_field peer)" = xlmig ] || lab_fail "peer not seen as xlmig"
echo "report: A -> B xlmig -> xlmig ${mig_s} s, compressed," \
    "$(mig_json_field raw_bytes) -> $(mig_json_field wire_bytes) bytes" \
    "(ratio $(mig_json_field ratio)), blackout $(mig_json_field blackout_ms) ms"

mig_hop B A "$g" "$ip" xlmig xl
[ "$(mig_json_field compressed)" = false ] ||
    lab_fail "compressed stream sent to a stock receiver"
[ "$(mig_json_field peer)" = xl ] || lab_fail "stock peer not recognised"
echo "report: B -> A xlmig -> stock xl ${mig_s} s, uncompressed"

mig_hop A B "$g" "$ip" xl xlmig
echo "report: A -> B stock xl -> xlmig ${mig_s} s"

lab_guest_destroy B "$g"
mig_no_leftovers
lab_leak_check
echo "report: whole test $SECONDS s"
