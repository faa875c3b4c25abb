# SPDX-License-Identifier: MIT
# TLS migrations through xlmigd on the nested-Xen lab.  401 failed once
# under load because it gave up after 30 unanswered polls of a dom0
# starved by the migration; it now waits for its deadline only (34 and 67
# unanswered polls seen since).  Passed twice on lab 101 (533 s, and
# 1158 s with four labs on the machine, exactly-once build).
TESTS_XEN += tests/xen/401-migrate-tls.sh
