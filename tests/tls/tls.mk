# SPDX-License-Identifier: MIT
# TLS and xlmigd tests on this machine (test PKI from mk-certs, certtool).
TESTS_SH += tests/tls/xlmigd-auth.sh
DEPS_PKGS += gnutls-bin
# libFuzzer: the handshake a hostile client drives, and xlmig.conf
FUZZ_TARGETS += tls
FUZZ_SRCS_tls := tests/fuzz/fuzz_tls.c toolstack/transport/tls.c \
	toolstack/transport/tls_conf.c toolstack/transport/channel.c \
	toolstack/common/log.c
FUZZ_LIBS_tls := $(GNUTLS_LIBS) -lpthread
