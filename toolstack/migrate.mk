# SPDX-License-Identifier: MIT
#
# migrate / migrate-receive: the channel transports and xl protocol
# (toolstack/transport/), the Xen adapters (toolstack/xen/), linked into
# the xlmig binary with the Xen libraries.  The session and precopy logic
# are pure and live in toolstack/engine/ (the engine library).

TRANSPORT_SRCS := $(wildcard toolstack/transport/*.c)
TRANSPORT_OBJS := $(TRANSPORT_SRCS:%.c=$(O)/%.o)
XEN_ADAPTER_SRCS := $(wildcard toolstack/xen/*.c)
XEN_ADAPTER_OBJS := $(XEN_ADAPTER_SRCS:%.c=$(O)/%.o)

XEN_PKGS := xenlight xenguest xencontrol xenstore xentoollog
XEN_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(XEN_PKGS) 2>/dev/null)
XEN_LIBS := $(shell $(PKG_CONFIG) --libs $(XEN_PKGS) 2>/dev/null || \
	echo -lxenlight -lxenguest -lxenctrl -lxenstore -lxentoollog)

CFLAGS_toolstack/xen := $(XEN_CFLAGS)
# The xlmig rule's prerequisites were expanded before this fragment: add
# ours as extra prerequisites, and the engine library once more after them
# (the recipe expands XLMIG_LIBS late) for the symbols they need.
XLMIG_OBJS += $(TRANSPORT_OBJS) $(XEN_ADAPTER_OBJS)
$(O)/xlmig: $(TRANSPORT_OBJS) $(XEN_ADAPTER_OBJS)
XLMIG_LIBS += $(ENGINE_LIB) $(XEN_LIBS) -lpthread

DEPS_PKGS += libxen-dev
