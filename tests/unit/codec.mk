# SPDX-License-Identifier: MIT
#
# Unit tests of the stream parser and codec (toolstack/engine/xstream.c,
# codec.c, page_codec.c, wire.c), the xlmig(1) man page, and the shell
# test of 'xlmig stream'.
CODEC_TESTLIB := $(O)/tests/unit/codec_testlib.o

TEST_OBJS_test_codec := $(CODEC_TESTLIB)
$(eval $(call unit_test,test_codec))
TEST_OBJS_test_xstream := $(CODEC_TESTLIB)
$(eval $(call unit_test,test_xstream))
$(eval $(call unit_test,test_page_codec))

MAN_PAGES += man/xlmig.1

# Test instrument: small synthetic xl streams for the shell test.
$(O)/tests/unit/codec-mkstream: $(O)/tests/unit/codec-mkstream.o \
		$(CODEC_TESTLIB) $(ENGINE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(XLDFLAGS) $(LDFLAGS) $^ -o $@ $(ENGINE_LIBS)
TEST_BINS += $(O)/tests/unit/codec-mkstream
TESTS_SH += tests/unit/stream-cli.sh

# Round trips over the simulated guest's streams (tests/sim/, a test
# instrument: linked into this test only).
TEST_OBJS_test_codec_sim := $(CODEC_TESTLIB) $(O)/tests/sim/sim_guest.o \
	$(O)/tests/sim/sim_restore.o
$(eval $(call unit_test,test_codec_sim))
