# SPDX-License-Identifier: MIT
#
# net-forward/: source forwarding + target announce for the post-migration
# brownout (docs/net-forward.md, xlmig-netfwd(8)).
#   nfwd_core.c   parsing, frames, u32 keys, timers, lifecycle (pure: no
#                 netlink header; the kernel is reached through an ops table)
#   nfwd_mnl.c    the libmnl adapter (rtnetlink, nfnetlink, AF_PACKET)
#   xlmig-netfwd  the CLI for administrators and tests
# The library $(O)/libnfwd.a is what the migration engine links later.

NFWD_SRCS := net-forward/nfwd_core.c net-forward/nfwd_mnl.c
NFWD_OBJS := $(NFWD_SRCS:%.c=$(O)/%.o)
NFWD_LIB := $(O)/libnfwd.a
NFWD_LIBS := $(shell $(PKG_CONFIG) --libs libmnl 2>/dev/null || echo -lmnl)
CFLAGS_net-forward := -Inet-forward

DEPS_PKGS += libmnl-dev iproute2 nftables

$(NFWD_LIB): $(NFWD_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/xlmig-netfwd: $(O)/net-forward/xlmig-netfwd.o $(NFWD_LIB) $(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(NFWD_LIBS) $(ENGINE_LIBS)

INSTALL_SBINS += $(O)/xlmig-netfwd
MAN_PAGES += man/xlmig-netfwd.8

# libFuzzer target over every parser of outside input (make fuzz).
FUZZ_TARGETS += nfwd
FUZZ_SRCS_nfwd := net-forward/fuzz/fuzz_nfwd.c $(NFWD_SRCS) \
	toolstack/common/log.c
FUZZ_LIBS_nfwd := $(NFWD_LIBS)

# xlmig itself forwards (toolstack/cli/nfwd_migrate.c, issue 12): the cli
# sees the library's headers and the binary links it with libmnl.
CFLAGS_toolstack/cli += -Inet-forward
XLMIG_OBJS += $(NFWD_LIB)
$(O)/xlmig: $(NFWD_LIB)
XLMIG_LIBS += $(NFWD_LIB) $(NFWD_LIBS)
