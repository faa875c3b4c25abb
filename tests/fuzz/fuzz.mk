# SPDX-License-Identifier: MIT
#
# libFuzzer targets ('make fuzz FUZZ_TIME=20'): the stream parser with the
# codec as a round-trip oracle, and the decoder.  Seed corpora in
# tests/fuzz/corpus/<name>/ (small streams made by codec-mkstream).
FUZZ_CODEC_SRCS := toolstack/engine/xstream.c toolstack/engine/codec.c \
	toolstack/engine/page_codec.c toolstack/engine/wire.c \
	toolstack/common/log.c

FUZZ_TARGETS += parse decode
FUZZ_SRCS_parse := tests/fuzz/fuzz_parse.c $(FUZZ_CODEC_SRCS)
FUZZ_LIBS_parse := -lz -lzstd -llz4
FUZZ_SRCS_decode := tests/fuzz/fuzz_decode.c $(FUZZ_CODEC_SRCS)
FUZZ_LIBS_decode := -lz -lzstd -llz4
