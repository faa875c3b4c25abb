# SPDX-License-Identifier: MIT
# xenstore hooks on the nested-Xen lab (docs/xenstore-hooks.md): a listening
# guest is noticed and acks, a non-listening one is not waited for, state
# subtree, hooks, no leaks, the guest cannot touch the dom0 subtree.
TESTS_XEN += tests/xen/301-xsh-notice.sh \
	tests/xen/302-xsh-no-listener-abort.sh
