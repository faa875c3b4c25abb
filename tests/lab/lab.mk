# SPDX-License-Identifier: MIT
#
# tests/lab/: the two-host nested-Xen lab (front end tests/lab/lab, see
# docs/lab.md) and tests/xen/: the baseline tests that run on it.
#
# The lab's host images are built from Debian packages only: QEMU runs two
# Xen 4.17 hosts whose dom0 is a busybox initramfs carrying Debian's xl and
# libraries; the shadow-paging hypervisor is rebuilt from Debian's xen source
# package.  Images live in $(XLMIG_CACHE)/lab/, never in the tree.

DEPS_PKGS += qemu-system-x86 xen-utils-4.17 xen-utils-common xenstore-utils \
	libxen-dev busybox-static cpio socat iproute2 kmod bridge-utils \
	util-linux nftables procps flex bison python3 dpkg-dev gcc make xz-utils \
	zlib1g libzstd1 liblz4-1 libgnutls30 libmnl0 qemu-system-xen

# The baseline tests of stock xl on real (nested) Xen.
TESTS_XEN += tests/xen/010-pvh-migrate.sh \
	tests/xen/020-pv-migrate-stock-fails.sh \
	tests/xen/030-save-restore.sh \
	tests/xen/040-pv-migrate-shadow.sh
