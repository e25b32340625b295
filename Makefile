# The one entry point. Every phase directory is a complete executor; this file
# builds each of them out of tree, under build/phaseN/, and runs them.
#
#   make phase2 test     build phase 2 and run the tests that apply to it
#   make phase2          build phase 2: library, examples, benchmarks, tests
#   make test            test every phase present (make check: the same)
#   make bench           run the benchmarks (make phase1 bench: one phase)
#   make demo            run every phase's showcase, with narration
#   make diffs           build/diffs/phaseN-1_to_phaseN.diff, with a summary
#   make book-check      every listing in BOOK.md and docs/tracing.md still appears in its file
#   make format          clang-format every C file (make format-check: only look)
#   make clean           remove build/
#
#   SAN=1                build with AddressSanitizer + UndefinedBehaviorSanitizer
#   CC=clang             build with clang instead of gcc

CC ?= cc
SAN ?=
B ?= build

PHASE_DIRS := $(sort $(wildcard phase[0-9]-*))
ALL_PHASES := $(foreach d,$(PHASE_DIRS),$(patsubst phase%,%,$(firstword $(subst -, ,$(d)))))
# "make phase2 test" limits test/bench/demo to the phases named on the command line.
GOAL_PHASES := $(patsubst phase%,%,$(filter $(addprefix phase,$(ALL_PHASES)),$(MAKECMDGOALS)))
PHASES := $(or $(GOAL_PHASES),$(ALL_PHASES))

# -D_DEFAULT_SOURCE: C11 plus the POSIX and BSD interfaces (clock_gettime, sockets);
# a file that needs GNU extensions defines _GNU_SOURCE itself and says why.
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -g -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
# A local whose initialization an AWAIT's jump skips (see async.h) is caught by
# a different warning in each compiler.
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),)
CFLAGS_BASE += -Wconditional-uninitialized
else
CFLAGS_BASE += -Wjump-misses-init
endif
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
CFLAGS_OPT := -O2
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS)
LIBS := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring) -pthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

# Under the sanitizers everything runs slower: give each test more time before it counts as hung.
TEST_ENV := CK_TIMEOUT_MULTIPLIER=$(if $(filter 1,$(SAN)),4,1) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

# Quiet by default: "CC file" per compile. V=1 shows the whole command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

COMMON_SRCS := $(wildcard common/*.c)
TEST_HARNESS := tests/harness.c

.PHONY: all test check bench demo diffs book-check format format-check clean deps \
	$(addprefix phase,$(ALL_PHASES))
all: $(addprefix phase,$(PHASES))
check: test

# ---------------------------------------------------------------- one phase
# $(1) is the phase number. Every output of phase N lands under build/phaseN/.
define PHASE_RULES
P$(1)_DIR := $(filter phase$(1)-%,$(PHASE_DIRS))
P$(1)_OUT := $(B)/phase$(1)
P$(1)_SRCS := $$(wildcard $$(P$(1)_DIR)/*.c)
P$(1)_OBJS := $$(patsubst $$(P$(1)_DIR)/%.c,$$(P$(1)_OUT)/obj/%.o,$$(P$(1)_SRCS)) \
	$$(patsubst common/%.c,$$(P$(1)_OUT)/obj/common/%.o,$(COMMON_SRCS))
P$(1)_LIB := $$(P$(1)_OUT)/librt.a
P$(1)_EXAMPLES := $$(patsubst $$(P$(1)_DIR)/examples/%.c,$$(P$(1)_OUT)/examples/%,$$(wildcard $$(P$(1)_DIR)/examples/*.c))
P$(1)_BENCHES := $$(patsubst $$(P$(1)_DIR)/bench/%.c,$$(P$(1)_OUT)/bench/%,$$(wildcard $$(P$(1)_DIR)/bench/*.c))
# A test file applies from the phase it names in TEST_SINCE_PHASE(n) onwards.
P$(1)_TESTS := $$(sort $$(shell grep -l '^TEST_SINCE_PHASE([1-$(1)]);' tests/test_*.c 2>/dev/null))
P$(1)_SUITES := $$(foreach t,$$(P$(1)_TESTS),X($$(patsubst tests/test_%.c,%,$$(t))))
P$(1)_TEST_OBJS := $$(patsubst tests/%.c,$$(P$(1)_OUT)/tests/%.o,$$(P$(1)_TESTS) $(TEST_HARNESS))
P$(1)_CFLAGS := $(CFLAGS_ALL) -I. -I$$(P$(1)_DIR) -DPHASE=$(1)

phase$(1): deps $$(P$(1)_LIB) $$(P$(1)_EXAMPLES) $$(P$(1)_BENCHES) $$(P$(1)_OUT)/tests/run_tests

# Rebuild everything of a phase when the compiler or the flags change (SAN=1, CC=clang).
$$(P$(1)_OUT)/.flags: FORCE
	@mkdir -p $$(@D)
	@echo '$(CC) $$(P$(1)_CFLAGS) $$(P$(1)_SUITES)' | cmp -s - $$@ || \
		echo '$(CC) $$(P$(1)_CFLAGS) $$(P$(1)_SUITES)' > $$@

$$(P$(1)_OUT)/obj/%.o: $$(P$(1)_DIR)/%.c $$(P$(1)_OUT)/.flags
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) -MMD -MP -c $$< -o $$@

$$(P$(1)_OUT)/obj/common/%.o: common/%.c $$(P$(1)_OUT)/.flags
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) -MMD -MP -c $$< -o $$@

$$(P$(1)_LIB): $$(P$(1)_OBJS)
	@rm -f $$@
	$$(call say,AR,$$@)
	$(Q)ar rcs $$@ $$^

$$(P$(1)_OUT)/examples/%: $$(P$(1)_DIR)/examples/%.c $$(P$(1)_LIB) $$(P$(1)_OUT)/.flags
	@mkdir -p $$(@D)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) -MMD -MP $$< $$(P$(1)_LIB) $(LIBS) -o $$@

$$(P$(1)_OUT)/bench/%: $$(P$(1)_DIR)/bench/%.c $$(P$(1)_LIB) $$(P$(1)_OUT)/.flags
	@mkdir -p $$(@D)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) -MMD -MP $$< $$(P$(1)_LIB) $(LIBS) -lm -o $$@

$$(P$(1)_OUT)/tests/%.o: tests/%.c $$(P$(1)_OUT)/.flags
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(shell pkg-config --cflags check 2>/dev/null) \
		'-DTEST_SUITES=$$(P$(1)_SUITES)' -MMD -MP -c $$< -o $$@

$$(P$(1)_OUT)/tests/run_tests: $$(P$(1)_TEST_OBJS) $$(P$(1)_LIB)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(P$(1)_TEST_OBJS) $$(P$(1)_LIB) $(CHECK_LIBS) $(LIBS) -o $$@

test-$(1): phase$(1)
	@echo "== phase $(1): $$(P$(1)_DIR) ($$(words $$(P$(1)_TESTS)) test files)"
	@$(TEST_ENV) $$(P$(1)_OUT)/tests/run_tests

bench-$(1): phase$(1)
	@echo "== phase $(1) benchmarks ($$$$(nproc) CPUs, $$$$(uname -r))"
	@for b in $$(P$(1)_BENCHES); do $$$$b || exit 1; done

demo-$(1): phase$(1)
	@sh $$(P$(1)_DIR)/examples/demo.sh $$(P$(1)_OUT)

-include $$(shell find $$(P$(1)_OUT) -name '*.d' 2>/dev/null)
endef

$(foreach n,$(ALL_PHASES),$(eval $(call PHASE_RULES,$(n))))

FORCE:

# ---------------------------------------------------------------- every phase
test: $(addprefix test-,$(PHASES))
bench: $(addprefix bench-,$(PHASES))
demo: $(addprefix demo-,$(PHASES))

# A make goal named like a phase ("make phase1 test") is already a target above.

# Install liburing, Check and pkg-config when they are missing (apt-get as root, or sudo);
# otherwise stop with one line that says what to install.
deps:
	@sh .ci/deps

diffs:
	@mkdir -p $(B)/diffs
	@set -- $(PHASE_DIRS); \
	while [ $$# -ge 2 ]; do \
		from=$$1; to=$$2; shift; \
		n0=$${from%%-*}; n1=$${to%%-*}; \
		out=$(B)/diffs/$${n0}_to_$${n1}.diff; \
		diff -ruN $$from $$to > $$out; \
		printf '%s -> %s: %s files changed, +%s -%s lines  (%s)\n' $$from $$to \
			"$$(grep -c '^diff ' $$out)" \
			"$$(grep '^+' $$out | grep -vc '^+++ ')" "$$(grep '^-' $$out | grep -vc '^--- ')" $$out; \
	done; \
	[ $(words $(PHASE_DIRS)) -ge 2 ] || echo "only one phase so far: nothing to diff"

book-check:
	@sh .ci/book-check BOOK.md
	@sh .ci/book-check docs/tracing.md

C_FILES = $(shell find common tests $(PHASE_DIRS) -name '*.[ch]')

format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format-check: $(words $(C_FILES)) files formatted"

clean:
	rm -rf $(B)
