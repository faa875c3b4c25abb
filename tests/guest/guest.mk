# SPDX-License-Identifier: MIT
#
# tests/guest/: the test guest of the nested-Xen lab.
#   memtest.c            memory-integrity workload (runs inside the guest)
#   build-guest-initrd   OUT.cpio.gz MODULES_DIR: busybox + xen-netfront +
#                        memtest + /init (called by the lab)
#   test-memtest.sh      memtest on this machine over loopback
#
# memtest is linked static (the guest initramfs has no libc); with SAN=1 it
# is linked dynamically instead, since ASan cannot be linked static, and is
# then only good for the host-side test.

MEMTEST := $(O)/tests/guest/memtest
MEMTEST_OBJS := $(O)/tests/guest/memtest.o $(O)/toolstack/common/log.o

$(MEMTEST): $(MEMTEST_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $(if $(filter 1,$(SAN)),,-static) \
	    $^ -o $@ -pthread

TEST_BINS += $(MEMTEST)

# udpecho: the brownout tests' 1 kHz UDP stream (serve in the guest, stream
# on the client namespace); static for the same reason as memtest.
UDPECHO := $(O)/tests/guest/udpecho

$(UDPECHO): $(O)/tests/guest/udpecho.o
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $(if $(filter 1,$(SAN)),,-static) \
	    $^ -o $@

TEST_BINS += $(UDPECHO)
TESTS_SH += tests/guest/test-memtest.sh tests/guest/test-guest-initrd.sh

# libc6-dev carries libc.a for the static link.
DEPS_PKGS += libc6-dev busybox-static cpio gzip kmod xz-utils
