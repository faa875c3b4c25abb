# SPDX-License-Identifier: MIT
#
# toolstack/: the xlmig binary.
#   common/  logging and small utilities          (pure)
#   engine/  stream parser, codec, wire format... (pure: no Xen, GnuTLS or
#            netlink header; checked by 'make lint')
#   cli/     the xlmig verbs (cli/main.c holds the verb table)
# The pure parts form $(O)/libxlmig-engine.a, which tests, fuzzers and
# benchmarks link.  New .c files in these folders are picked up by wildcard.

ENGINE_SRCS := $(wildcard toolstack/common/*.c toolstack/engine/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(O)/%.o)
ENGINE_LIB := $(O)/libxlmig-engine.a
ENGINE_LIBS := -lz -lzstd -llz4 -lm

CLI_SRCS := $(wildcard toolstack/cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/%.o)
XLMIG_OBJS := $(CLI_OBJS)
XLMIG_LIBS := $(ENGINE_LIBS)

DEPS_PKGS += zlib1g-dev libzstd-dev liblz4-dev

$(ENGINE_LIB): $(ENGINE_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/xlmig: $(XLMIG_OBJS) $(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(XLMIG_LIBS)

INSTALL_BINS += $(O)/xlmig
include toolstack/migrate.mk
include toolstack/daemon/daemon.mk
