# SPDX-License-Identifier: MIT
# The TLS channel (throwaway PKI from tests/tls/mk-certs at test time).
TEST_OBJS_test_tls := $(TLS_OBJS) $(O)/toolstack/transport/channel.o
TEST_LIBS_test_tls := $(GNUTLS_LIBS) -lpthread
$(eval $(call unit_test,test_tls))
