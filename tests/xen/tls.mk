# SPDX-License-Identifier: MIT
# TLS migrations through xlmigd on the nested-Xen lab.
TESTS_XEN += tests/xen/401-migrate-tls.sh
