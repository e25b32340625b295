# The one entry point. Every phase directory is a complete executor; this file
# builds each of them out of tree, under build/phaseN/, and runs them.
#
#   make phase2 test     build phase 2 and run the tests that apply to it
#   make phase2          build phase 2: library, examples, benchmarks, tests
#   make test            test every phase present (make check: the same)
#   make bench           run the benchmarks (make phase1 bench: one phase)
#   make demo            build every phase's examples and run its showcase, with narration
#   make exercise E=1.1  build and run the test of the book's exercise 1.1 (make exercise: list them)
#   make fuzz            kv_server's parser and commands under libFuzzer, briefly (needs clang)
#   make diffs           build/diffs/: per step, the whole diff and the runtime-only one, in reading order
#   make book-check      every listing in BOOK.md and docs/tracing.md still appears in its file
#   make format          clang-format every C file (make format-check: only look)
#   make clean           remove build/
#
#   SAN=1                build with AddressSanitizer + UndefinedBehaviorSanitizer
#   SAN=thread           build with ThreadSanitizer
#   CC=clang             build with clang instead of cc (gcc on Debian)
#   B=dir                build under dir/ instead of build/
#   LTO=0                build phase 4 without link-time optimization, to compare
#   TESTS_SIDE_BY_SIDE=1 with make -j -O test: the phases' tests run at the same time (CI)
#   V=1                  show whole command lines
#
# CC needs no line here: it is make's own variable, `cc` unless the command line
# or the environment sets it.
SAN ?=
B ?= build

PHASE_DIRS := $(sort $(wildcard phase[0-9]-*))
ALL_PHASES := $(foreach d,$(PHASE_DIRS),$(patsubst phase%,%,$(firstword $(subst -, ,$(d)))))
# "make phase2 test" limits test/bench/demo to the phases named on the command line.
GOAL_PHASES := $(patsubst phase%,%,$(filter $(addprefix phase,$(ALL_PHASES)),$(MAKECMDGOALS)))
PHASES := $(or $(GOAL_PHASES),$(ALL_PHASES))

# The order in which the book's chapter for phase N reads phase N's library files.
# `make diffs` writes the runtime-only diff from phase N-1 to phase N in this
# order, so that it reads like the chapter; library files not listed here follow
# alphabetically (a new file is never left out). A new phase adds its line.
READING_ORDER_2 := reactor.h reactor.c io.h io.c executor.c executor.h file.h file.c \
	net.h net.c timer.h timer.c
READING_ORDER_3 := reactor.h reactor.c executor.h executor.c timers.h timers.c timer.h timer.c \
	preempt.h preempt.c scheduling.h task_queue.h task_queue.c run_queue.h task.h task.c rt.h
READING_ORDER_4 := placement.h placement.c pool.h pool.c executor.h executor.c channel.h channel.c \
	deferred.h mesh.h mesh.c percore.h percore.c task.h task.c reactor.h reactor.c join.c io.h \
	io.c net.h net.c rt.h

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
else ifeq ($(SAN),thread)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=thread
else ifeq ($(SAN),)
CFLAGS_OPT := -O2
else
$(error SAN=$(SAN) is not a build mode: use SAN=1 (AddressSanitizer + UBSan) or SAN=thread (ThreadSanitizer))
endif
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS)

# Link-time optimization, for the phases listed (book section 4.8, "Calls
# between files"). Each .o then holds the compiler's intermediate code, and the
# library and the program are optimized together when they are linked, so a
# call from one of the runtime's files into another can be inlined. Not in the
# sanitizer builds: those check the code, not its speed. LTO=0 leaves it out.
LTO_PHASES := 4
LTO ?= 1
CFLAGS_LTO := $(if $(filter 1,$(LTO)),$(if $(SAN),,-flto=auto))

# ---------------------------------------------------------------- packages
# liburing, Check and pkg-config may not be installed yet when make starts:
# `deps` (.ci/deps) installs them. So their flags are read with `=`, not `:=`:
# pkg-config runs when a recipe uses them, and every rule that compiles or links
# has `| deps`, an order-only prerequisite, which makes deps run (and finish)
# before any compile, also under make -j, without making anything "out of date"
# because deps ran. The `||` fallbacks are for a pkg-config that does not know the
# package; Debian's libcheck is static and also needs subunit, libm and librt.
URING_CFLAGS = $(shell pkg-config --cflags liburing 2>/dev/null)
LIBS = $(shell pkg-config --libs liburing 2>/dev/null || echo -luring) -pthread
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)

# Under the sanitizers everything runs slower: give each test more time before it counts as hung.
TEST_ENV := CK_TIMEOUT_MULTIPLIER=$(if $(SAN),4,1) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	TSAN_OPTIONS=halt_on_error=1

# Quiet by default: "CC file" per compile. V=1 shows the whole command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

# The recipe of a generated file: write the lines given (each a quoted shell
# word) only if the file does not already hold exactly them, so that its date,
# and everything compiled from it, stay as they are when nothing changed.
write_if_changed = @mkdir -p $(@D); printf '%s\n' $(1) | cmp -s - $@ || printf '%s\n' $(1) > $@

COMMON_SRCS := $(wildcard common/*.c)
TEST_HARNESS := tests/harness.c

.PHONY: all test check bench demo exercise fuzz fuzz-cc diffs book-check format format-check clean deps \
	$(foreach n,$(ALL_PHASES),phase$(n) test-$(n) bench-$(n) demo-$(n))
all: $(addprefix phase,$(PHASES))
check: test

# ---------------------------------------------------------------- one phase
# $(1) is the phase number. Every output of phase N lands under build/phaseN/.
#
# About $$: this template is expanded twice. $(call PHASE_RULES,2) replaces $(1)
# by 2 and expands every $(...) once; then $(eval) reads the result as makefile
# text. So $(1) and $(CC) are filled in by the call, while $$(P$(1)_DIR) comes
# out of it as $(P2_DIR), which is expanded later, once P2_DIR is defined above
# it (or, in a recipe, when the recipe runs: $$@ becomes $@ there). A $ meant for
# the shell (a shell variable in a recipe) needs $$$$: two expansions, two halvings.
define PHASE_RULES
P$(1)_DIR := $(filter phase$(1)-%,$(PHASE_DIRS))
P$(1)_OUT := $(B)/phase$(1)
P$(1)_SRCS := $$(wildcard $$(P$(1)_DIR)/*.c)
P$(1)_OBJS := $$(patsubst $$(P$(1)_DIR)/%.c,$$(P$(1)_OUT)/obj/%.o,$$(P$(1)_SRCS)) \
	$$(patsubst common/%.c,$$(P$(1)_OUT)/obj/common/%.o,$(COMMON_SRCS))
P$(1)_LIB := $$(P$(1)_OUT)/librt.a
P$(1)_EXAMPLES := $$(patsubst $$(P$(1)_DIR)/examples/%.c,$$(P$(1)_OUT)/examples/%,$$(wildcard $$(P$(1)_DIR)/examples/*.c))
# An example too big for one file has a folder, examples/<dir>/: one program, build/phaseN/examples/<dir>.
P$(1)_EXAMPLE_DIRS := $$(sort $$(patsubst $$(P$(1)_DIR)/examples/%/,%,$$(dir $$(wildcard $$(P$(1)_DIR)/examples/*/*.c))))
P$(1)_EXAMPLES += $$(addprefix $$(P$(1)_OUT)/examples/,$$(P$(1)_EXAMPLE_DIRS))
P$(1)_BENCHES := $$(patsubst $$(P$(1)_DIR)/bench/%.c,$$(P$(1)_OUT)/bench/%,$$(wildcard $$(P$(1)_DIR)/bench/*.c))
# A test file applies from the phase it names in TEST_SINCE_PHASE(n) onwards.
P$(1)_TESTS := $$(sort $$(shell grep -l '^TEST_SINCE_PHASE([1-$(1)]);' tests/test_*.c 2>/dev/null))
P$(1)_SUITES := $$(foreach t,$$(P$(1)_TESTS),X($$(patsubst tests/test_%.c,%,$$(t))))
P$(1)_TEST_OBJS := $$(patsubst tests/%.c,$$(P$(1)_OUT)/tests/%.o,$$(P$(1)_TESTS) $(TEST_HARNESS))
P$(1)_CFLAGS := $(CFLAGS_ALL) $(if $(filter $(1),$(LTO_PHASES)),$(CFLAGS_LTO)) -I. \
	-I$$(P$(1)_DIR) -DPHASE=$(1)
# Every .d file the compiler may have written for this phase (-MMD): which headers each object read.
# The last pattern: the objects of the examples that have a folder (EXAMPLE_DIR_RULES).
P$(1)_DEPFILES := $$(P$(1)_OBJS:.o=.d) $$(P$(1)_TEST_OBJS:.o=.d) \
	$$(addsuffix .d,$$(P$(1)_EXAMPLES) $$(P$(1)_BENCHES)) $$(P$(1)_OUT)/obj/examples/*/*.d

phase$(1): $$(P$(1)_LIB) $$(P$(1)_EXAMPLES) $$(P$(1)_BENCHES) $$(P$(1)_OUT)/tests/run_tests

# Rebuild everything of a phase when the compiler or the flags change (SAN=1, CC=clang).
$$(P$(1)_OUT)/.flags: FORCE
	$$(call write_if_changed,'$(CC) $$(P$(1)_CFLAGS)')

# The list of the phase's test suites, for the harness (tests/harness.h includes it).
# A file of its own, so that adding a test file recompiles the tests, not the library.
$$(P$(1)_OUT)/tests/suites.h: FORCE
	$$(call write_if_changed,'/* Generated by the Makefile: the test suites of phase $(1). */' \
		'#define TEST_SUITES $$(P$(1)_SUITES)')

$$(P$(1)_OUT)/obj/%.o: $$(P$(1)_DIR)/%.c $$(P$(1)_OUT)/.flags | deps
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(URING_CFLAGS) -MMD -MP -c $$< -o $$@

$$(P$(1)_OUT)/obj/common/%.o: common/%.c $$(P$(1)_OUT)/.flags | deps
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) -MMD -MP -c $$< -o $$@

$$(P$(1)_LIB): $$(P$(1)_OBJS)
	@rm -f $$@
	$$(call say,AR,$$@)
	$(Q)ar rcs $$@ $$^

$$(P$(1)_OUT)/examples/%: $$(P$(1)_DIR)/examples/%.c $$(P$(1)_LIB) $$(P$(1)_OUT)/.flags | deps
	@mkdir -p $$(@D)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(URING_CFLAGS) -MMD -MP $$< $$(P$(1)_LIB) $$(LIBS) -o $$@

$$(P$(1)_OUT)/bench/%: $$(P$(1)_DIR)/bench/%.c $$(P$(1)_LIB) $$(P$(1)_OUT)/.flags | deps
	@mkdir -p $$(@D)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(URING_CFLAGS) -MMD -MP $$< $$(P$(1)_LIB) $$(LIBS) -lm -o $$@

$$(P$(1)_OUT)/tests/%.o: tests/%.c $$(P$(1)_OUT)/.flags $$(P$(1)_OUT)/tests/suites.h | deps
	@mkdir -p $$(@D)
	$$(call say,CC,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(URING_CFLAGS) $$(CHECK_CFLAGS) -I$$(@D) -MMD -MP -c $$< -o $$@

$$(P$(1)_OUT)/tests/run_tests: $$(P$(1)_TEST_OBJS) $$(P$(1)_LIB) | deps
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$(P$(1)_TEST_OBJS) $$(P$(1)_LIB) $$(CHECK_LIBS) $$(LIBS) -o $$@

test-$(1): phase$(1)
	@echo "== phase $(1): $$(P$(1)_DIR) ($$(words $$(P$(1)_TESTS)) test files)"
	@$(TEST_ENV) $$(P$(1)_OUT)/tests/run_tests

bench-$(1): phase$(1)
	@echo "== phase $(1) benchmarks ($$$$(nproc) CPUs, $$$$(uname -r))"
	@for b in $$(P$(1)_BENCHES); do $$$$b || exit 1; done

# The demo runs the examples only: it needs neither the tests nor the benchmarks.
demo-$(1): $$(P$(1)_EXAMPLES)
	@sh $$(P$(1)_DIR)/examples/demo.sh $$(P$(1)_OUT)

-include $$(wildcard $$(P$(1)_DEPFILES))
endef

$(foreach n,$(ALL_PHASES),$(eval $(call PHASE_RULES,$(n))))

# $(1) is the phase, $(2) an example folder: its .c files, compiled like the library's
# (build/phaseN/obj/examples/<dir>/), linked into build/phaseN/examples/<dir>.
define EXAMPLE_DIR_RULES
$$(P$(1)_OUT)/examples/$(2): $$(patsubst $$(P$(1)_DIR)/%.c,$$(P$(1)_OUT)/obj/%.o,$$(wildcard $$(P$(1)_DIR)/examples/$(2)/*.c)) $$(P$(1)_LIB)
	@mkdir -p $$(@D)
	$$(call say,LINK,$$@)
	$(Q)$(CC) $$(P$(1)_CFLAGS) $$^ $(LIBS) -o $$@
endef

$(foreach n,$(ALL_PHASES),$(foreach d,$(P$(n)_EXAMPLE_DIRS),$(eval $(call EXAMPLE_DIR_RULES,$(n),$(d)))))

FORCE:

# ---------------------------------------------------------------- every phase
# TESTS_SIDE_BY_SIDE=1 (CI's later steps): under make -j the phases' test runs go side by side
# instead of in turn, the last phase's (the longest) first. Give make -O (--output-sync) too, so
# that each phase's output is printed whole when its run ends.
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
ifeq ($(TESTS_SIDE_BY_SIDE),1)
test: $(addprefix test-,$(call reverse,$(PHASES)))
else
test: $(addprefix test-,$(PHASES))
endif
bench: $(addprefix bench-,$(PHASES))
demo: $(addprefix demo-,$(PHASES))

# Under make -j the phases build side by side, but their runs take turns, in
# phase order, so that two phases' output never interleaves (and benchmarks do
# not compete for the CPUs): $(call in_turn,test,1 2 3) adds "test-2: | test-1"
# and "test-3: | test-2". (Tests under TESTS_SIDE_BY_SIDE=1 excepted: see above.)
in_turn = $(if $(word 2,$(2)),$(eval $(1)-$(word 2,$(2)): | $(1)-$(word 1,$(2)))$(call in_turn,$(1),$(wordlist 2,$(words $(2)),$(2))))
$(if $(filter 1,$(TESTS_SIDE_BY_SIDE)),,$(call in_turn,test,$(PHASES)))
$(call in_turn,bench,$(PHASES))
$(call in_turn,demo,$(PHASES))

# A make goal named like a phase ("make phase1 test") is already a target above.

# Install liburing, Check and pkg-config when they are missing (apt-get as root, or sudo),
# and check that liburing is 2.3 or later; otherwise stop with one line that says what to do.
deps:
	@CC='$(CC)' sh .ci/deps

# ---------------------------------------------------------------- exercises
# make exercise E=1.1 builds a test runner holding only the suite of
# tests/exercises/ex_1_1.c, against the phase its TEST_SINCE_PHASE(n) names,
# with the same harness, and runs it. Exercise tests fail until the reader has
# done the exercise (but 1.5, 3.3 and 3.4, see their files), so they are not
# part of make test (tests/exercises/README.md).
EXERCISE_LIST = for f in $$(ls tests/exercises/ex_*.c 2>/dev/null | sort -V); do \
	e=$${f\#tests/exercises/ex_}; e=$$(echo "$${e%.c}" | tr _ .); \
	printf '  make exercise E=%-6s phase %s  %s\n' "$$e" \
		"$$(sed -n 's/^TEST_SINCE_PHASE(\([0-9]*\));.*/\1/p' "$$f")" \
		"$$(sed -n 's/^ \* tests\/exercises\/ex_[0-9_]*\.c - //p' "$$f" | head -n 1)"; \
	done

ifeq ($(E),)
exercise:
	@echo "The book's exercises that come with a test (each fails until you have done it, but 1.5, 3.3 and 3.4: see their files):"
	@$(EXERCISE_LIST)
	@ls tests/exercises/ex_*.c >/dev/null 2>&1 || echo "  none yet (tests/exercises/README.md says how they work)"
else
EX := ex_$(subst .,_,$(E))
EX_SRC := tests/exercises/$(EX).c
EX_PHASE := $(shell sed -n 's/^TEST_SINCE_PHASE(\([0-9]*\));.*/\1/p' $(EX_SRC) 2>/dev/null)
EX_OUT := $(B)/phase$(EX_PHASE)/exercises/$(EX)
ifneq ($(filter exercise,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(EX_SRC)),)
$(error there is no exercise $(E): $(EX_SRC) does not exist ("make exercise" lists them))
endif
ifeq ($(filter $(EX_PHASE),$(ALL_PHASES)),)
$(error $(EX_SRC) must start with TEST_SINCE_PHASE(n) for a phase this repository has ($(ALL_PHASES)))
endif
endif

exercise: $(EX_OUT)/run_tests
	@echo "== exercise $(E), against phase $(EX_PHASE): $(EX_SRC)"
	@$(TEST_ENV) $(EX_OUT)/run_tests

$(EX_OUT)/suites.h: FORCE
	$(call write_if_changed,'/* Generated by the Makefile: the one suite of exercise $(E). */' \
		'#define TEST_SUITES X($(EX))')

$(EX_OUT)/%.o: tests/%.c $(B)/phase$(EX_PHASE)/.flags $(EX_OUT)/suites.h | deps
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(P$(EX_PHASE)_CFLAGS) $(URING_CFLAGS) $(CHECK_CFLAGS) -Itests -I$(EX_OUT) -MMD -MP -c $< -o $@

$(EX_OUT)/%.o: tests/exercises/%.c $(B)/phase$(EX_PHASE)/.flags $(EX_OUT)/suites.h | deps
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(P$(EX_PHASE)_CFLAGS) $(URING_CFLAGS) $(CHECK_CFLAGS) -Itests -I$(EX_OUT) -MMD -MP -c $< -o $@

$(EX_OUT)/run_tests: $(EX_OUT)/$(EX).o $(EX_OUT)/harness.o $(P$(EX_PHASE)_LIB) | deps
	$(call say,LINK,$@)
	$(Q)$(CC) $(P$(EX_PHASE)_CFLAGS) $(filter %.o,$^) $(P$(EX_PHASE)_LIB) $(CHECK_LIBS) $(LIBS) -o $@

-include $(wildcard $(EX_OUT)/*.d)
endif

# ---------------------------------------------------------------- fuzzing
# make fuzz: kv_server's RESP parser and its commands under libFuzzer
# (tests/fuzz/ says what each target checks), built under $(B)/fuzz/ with
# clang whatever CC is (libFuzzer comes with clang), and with AddressSanitizer
# and UBSan. Each target starts from its seeds (tests/fuzz/seeds/<name>/) and
# runs FUZZ_RUNS inputs from a fixed random seed: the same inputs on every
# run, so CI runs it too and what fails there fails here. That takes two more
# things: no rereading of the corpus directory on a timer (-reload=0), and the
# same addresses, because libFuzzer also learns from the values the code
# compares, pointers among them: no address randomization (setarch -R, where
# it is allowed), and the same stack, so the same environment and arguments
# (env -i, and the seeds copied into a corpus directory named the same
# wherever $(B) is).
# FUZZ_TIME=600 runs each for ten minutes from a new seed instead, to look
# further. An input that fails is saved as $(B)/fuzz/crash-*;
# `$(B)/fuzz/fuzz_<name> <that file>` replays it.
# Every tests/fuzz/fuzz_<name>.c is a target; one that #includes the source it tests needs no
# rule of its own (the pattern rule below), one that links more has its rule (kv_commands).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_RUNS ?= 500000
FUZZ_ARGS = -max_len=2048 -reload=0 \
	$(if $(FUZZ_TIME),-max_total_time=$(FUZZ_TIME),-seed=1 -runs=$(FUZZ_RUNS))
# The phase-4 flags without gcc's one warning that clang lacks; the runtime's sources are compiled
# in too (the commands call rt_shard_of()), since $(B)/phase4's library may come from gcc.
FUZZ_CFLAGS = $(filter-out -Wjump-misses-init,$(CFLAGS_BASE)) -Wconditional-uninitialized -O1 \
	-fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I. -I$(P4_DIR) -DPHASE=4
KV_DIR = $(P4_DIR)/examples/kv_server
FUZZ_HEADERS = $(wildcard $(KV_DIR)/*.h $(P4_DIR)/*.h common/*.h)

fuzz: $(addprefix $(B)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@set -e; fixed=$$(setarch -R true 2>/dev/null && echo 'setarch -R'); \
	for t in $(FUZZ_TARGETS); do \
		printf '== fuzz_%s: %s\n' $$t "$(if $(FUZZ_TIME),$(FUZZ_TIME) s,$(FUZZ_RUNS) inputs)"; \
		rm -rf $(B)/fuzz/corpus-$$t; mkdir -p $(B)/fuzz/corpus-$$t; \
		if [ -d tests/fuzz/seeds/$$t ]; then cp tests/fuzz/seeds/$$t/* $(B)/fuzz/corpus-$$t/; fi; \
		if ! (cd $(B)/fuzz && env -i PATH=/usr/bin:/bin $$fixed ./fuzz_$$t $(FUZZ_ARGS) corpus-$$t \
			>fuzz_$$t.log 2>&1); then tail -n 30 $(B)/fuzz/fuzz_$$t.log; exit 1; fi; \
		grep -E '^(Done|#[0-9]+.*DONE)' $(B)/fuzz/fuzz_$$t.log | tail -n 2; \
	done

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard $(KV_DIR)/*.c) $(FUZZ_HEADERS) | deps fuzz-cc
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)clang $(FUZZ_CFLAGS) $< -o $@

$(B)/fuzz/fuzz_kv_commands: tests/fuzz/fuzz_kv_commands.c $(addprefix $(KV_DIR)/,commands.c \
		admin.c store.c resp.c) $(P4_SRCS) $(COMMON_SRCS) $(FUZZ_HEADERS) | deps fuzz-cc
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)clang $(FUZZ_CFLAGS) $(URING_CFLAGS) $(filter %.c,$^) $(LIBS) -o $@

fuzz-cc:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (Debian: apt-get install clang)"; exit 1; }

# ---------------------------------------------------------------- diffs
# One step per pair of consecutive phases: "1:2 2:3 ...". .ci/diffs writes the
# whole diff and the runtime-only one, in the reading order given above.
DIFF_STEPS := $(join $(addsuffix :,$(filter-out $(lastword $(ALL_PHASES)),$(ALL_PHASES))), \
	$(wordlist 2,$(words $(ALL_PHASES)),$(ALL_PHASES)))
diff_step = sh .ci/diffs $(P$(1)_DIR) $(P$(2)_DIR) $(B)/diffs $(READING_ORDER_$(2))

diffs:
	@$(if $(DIFF_STEPS),true,echo "only one phase so far: nothing to diff")
	@set -e; $(foreach s,$(DIFF_STEPS),$(call diff_step,$(firstword $(subst :, ,$(s))),$(lastword $(subst :, ,$(s))));)

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
