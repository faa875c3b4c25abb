# SPDX-License-Identifier: MIT
# TLS and xlmigd tests on this machine (test PKI from mk-certs, certtool).
TESTS_SH += tests/tls/xlmigd-auth.sh
DEPS_PKGS += gnutls-bin
