# SPDX-License-Identifier: MIT
#
# xenstore-hooks/: guest notice, dom0 state subtree and hook scripts
# (issue 11, docs/xenstore-hooks.md, xlmig-hooks(7)).
#   xsh.c         notice, state keys, observer, target wrapper (pure: the
#                 xenstore is an ops table)
#   xsh_hooks.c   hook-script runner (fork/exec, timeout, process group)
#   xsh_libxs.c   the libxenstore adapter
#   guest/xlmig-notice-guest.c   the guest-side reference program, static
#                 (it runs in the test guest's initramfs), over
#   guest/xsg.c   its own xenstore wire client (not libxenstore: see xsg.h)
#   guest/xsg_zero.c   -z: the guest's free memory handed back zeroed

XSH_CORE_OBJS := $(O)/xenstore-hooks/xsh.o $(O)/xenstore-hooks/xsh_hooks.o
XSH_OBJS := $(XSH_CORE_OBJS) $(O)/xenstore-hooks/xsh_libxs.o
XSH_XS_CFLAGS := $(shell $(PKG_CONFIG) --cflags xenstore 2>/dev/null)
CFLAGS_xenstore-hooks := -Ixenstore-hooks $(XSH_XS_CFLAGS)
CFLAGS_xenstore-hooks/guest := $(XSH_XS_CFLAGS)

# linked into xlmig (libxenstore is already in XEN_LIBS); the migrate
# verbs include xsh.h
CFLAGS_toolstack/cli += -Ixenstore-hooks
XLMIG_OBJS += $(XSH_OBJS)
$(O)/xlmig: $(XSH_OBJS)

# The guest program: static, for the initramfs; it speaks the xenstore
# wire protocol itself (xen/io/xs_wire.h from libxen-dev), because the
# static libxenstore.a has no reader thread and loses replies to watch
# events (guest/xsg.h).  With SAN=1 dynamic, like memtest.
XSG_OBJ := $(O)/xenstore-hooks/guest/xsg.o $(O)/toolstack/common/fileio.o
XSG_ZERO_OBJ := $(O)/xenstore-hooks/guest/xsg_zero.o
XSH_GUEST := $(O)/xenstore-hooks/guest/xlmig-notice-guest
$(XSH_GUEST): $(O)/xenstore-hooks/guest/xlmig-notice-guest.o $(XSG_OBJ) \
	    $(XSG_ZERO_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $(if $(filter 1,$(SAN)),,-static) \
	    $^ -o $@
all: $(XSH_GUEST)
TEST_BINS += $(XSH_GUEST)

DEPS_PKGS += libxen-dev xenstore-utils
MAN_PAGES += man/xlmig-hooks.7

# For the lab tests: a cpio to append to the test guest's initramfs (the
# kernel unpacks concatenated archives in order), booted with
# rdinit=/xsh-init (xenstore-hooks/guest/xsh-init).
XSH_GUEST_CPIO := $(O)/xenstore-hooks/guest/xsh-guest-extra.cpio.gz
$(XSH_GUEST_CPIO): $(XSH_GUEST) xenstore-hooks/guest/xsh-init
	$(call say,CPIO,$@)
	$(Q)rm -rf $@.d && mkdir -p $@.d/bin && \
	    install -m 755 $(XSH_GUEST) $@.d/bin/xlmig-notice-guest && \
	    install -m 755 xenstore-hooks/guest/xsh-init $@.d/xsh-init && \
	    (cd $@.d && find . -mindepth 1 | LC_ALL=C sort | \
	        cpio -o -H newc -R 0:0 --quiet) | gzip -9n >$@.tmp && \
	    mv $@.tmp $@ && rm -rf $@.d
TEST_BINS += $(XSH_GUEST_CPIO)
DEPS_PKGS += cpio gzip
TESTS_SH += xenstore-hooks/guest/test-guest-cpio.sh
