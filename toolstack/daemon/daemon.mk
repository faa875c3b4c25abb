# SPDX-License-Identifier: MIT
#
# The TLS channel (toolstack/transport/tls*.c, GnuTLS) and xlmigd, the
# receiver daemon (toolstack/daemon/).  Included at the end of
# toolstack/toolstack.mk, after migrate.mk: the xlmig rule already lists
# the TLS objects (TRANSPORT_SRCS is a wildcard); they are taken out of
# TRANSPORT_OBJS here so that tests linking the other transports do not
# need GnuTLS.

GNUTLS_CFLAGS := $(shell $(PKG_CONFIG) --cflags gnutls 2>/dev/null)
GNUTLS_LIBS := $(shell $(PKG_CONFIG) --libs gnutls 2>/dev/null || echo -lgnutls)
TLS_OBJS := $(filter $(O)/toolstack/transport/tls%,$(TRANSPORT_OBJS))
TRANSPORT_OBJS := $(filter-out $(TLS_OBJS),$(TRANSPORT_OBJS))
CFLAGS_toolstack/transport := $(GNUTLS_CFLAGS)
XLMIG_LIBS += $(GNUTLS_LIBS)

# xlmigd (receiver) and xlmig-tls-connect (the sender's transport rune)
TLS_BIN_OBJS := $(TLS_OBJS) $(O)/toolstack/transport/channel.o
$(O)/xlmigd: $(O)/toolstack/daemon/xlmigd.o $(TLS_BIN_OBJS) $(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(GNUTLS_LIBS) -lpthread
$(O)/xlmig-tls-connect: $(O)/toolstack/daemon/tls_connect.o $(TLS_BIN_OBJS) \
		$(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(GNUTLS_LIBS) -lpthread

INSTALL_SBINS += $(O)/xlmigd
INSTALL_BINS += $(O)/xlmig-tls-connect
MAN_PAGES += man/xlmigd.8 man/xlmig.conf.5 man/xlmig-tls-connect.1
DEPS_PKGS += libgnutls28-dev gnutls-bin

.PHONY: install-daemon
install: install-daemon
install-daemon: all
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/xlmig
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(BINDIR)|g' \
	    toolstack/daemon/xlmigd.service > $(DESTDIR)$(UNITDIR)/xlmigd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/xlmigd.service
	install -m 644 toolstack/daemon/xlmig.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/xlmig/xlmig.conf.example
