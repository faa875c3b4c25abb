# SPDX-License-Identifier: MIT
#
# tests/: unit tests (cmocka), shell tests on this machine, tests on the
# nested-Xen lab, fuzzers and benchmarks.  Each sub-folder with tests has
# its own fragment, included here.

CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

# Build a cmocka test binary from tests/unit/NAME.c plus the engine library.
# Extra objects: TEST_OBJS_NAME.
define unit_test
$(O)/tests/unit/$(1): $(O)/tests/unit/$(1).o $$(TEST_OBJS_$(1)) $$(ENGINE_LIB)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(XLDFLAGS) $$(LDFLAGS) $$^ -o $$@ $$(CMOCKA_LIBS) \
	    $$(ENGINE_LIBS) $$(TEST_LIBS_$(1))
TEST_BINS += $(O)/tests/unit/$(1)
TESTS_UNIT += $(O)/tests/unit/$(1)
endef

-include $(wildcard tests/*/*.mk)
