# SPDX-License-Identifier: MIT
#
# tests/netns/: net-forward in network namespaces that each test creates
# and removes itself (root; nothing leaves the machine).  nfwd-lab.sh is
# the shared lab model, nfwd_stream the traffic instrument.

$(O)/tests/netns/nfwd_stream: $(O)/tests/netns/nfwd_stream.o
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@

TEST_BINS += $(O)/tests/netns/nfwd_stream
TESTS_SH += tests/netns/netfwd-loss.sh tests/netns/netfwd-mtu.sh \
	tests/netns/netfwd-lifecycle.sh tests/netns/netfwd-cli.sh
