/*
 * tests/harness.h - the one Check harness every phase's tests share.
 *
 * Each test file covers one concept and starts with TEST_SINCE_PHASE(n): the
 * Makefile compiles it into the test runner of phase n and of every later
 * phase, against that phase's code (the public API only grows). A file
 * defines `Suite *suite_<file name without test_>(void)`.
 *
 * What the harness gives every test:
 *   - its own process (Check's fork mode), so a crash fails one test only;
 *   - a timeout: a hang is a failure, never a stuck CI (test_case());
 *   - a leak check after the test body: every block the runtime allocated
 *     on this thread must be freed (test_case() installs it);
 *   - TEST_SKIP(reason) for a kernel feature this machine lacks: the test
 *     prints why and ends there as a pass, counted apart at the end of the
 *     run, unless REQUIRE_ALL=1 (as in CI), where a skip is a failure.
 *     test_executor() skips this way when the machine cannot make an
 *     executor (phase 2 on: no usable io_uring);
 *   - test_expect_die() for misuse that must stop the program: it runs the
 *     misuse in a process of its own and checks both that it died and what
 *     it said, so a green run prints no "fatal:" line.
 *
 * The Makefile writes suites.h (under build/phaseN/tests/): the list of the
 * phase's suites, TEST_SUITES, as X(name) X(name) ...
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "common/alloc.h"
#include "rt.h"

/* The first phase this file applies to; checked against the phase it is built for. */
#define TEST_SINCE_PHASE(n) _Static_assert(PHASE >= (n), "this test starts at phase " #n)

/* Seconds a test may take before it counts as hung (times CK_TIMEOUT_MULTIPLIER). */
#define TEST_TIMEOUT_S 20

/* A test case with the harness's timeout and the leak check after every test. */
TCase *test_case(const char *name);

/* Fails the running test unless every rt__malloc'd block has been freed. */
void test_assert_no_leaks(void);

/*
 * Ends the running test as skipped, saying why; it names the test itself
 * (Check's tcase_name()), so a skip inside a helper still names the test.
 */
_Noreturn void test_skip(const char *reason);
#define TEST_SKIP(reason) test_skip(reason)

/*
 * Runs misuse(arg) in a child process with its stderr captured, and passes
 * only if the child stopped with SIGABRT (as rt__die() does) and what it
 * printed contains `message`. Anything the misuse leaves behind dies with
 * the child, so the test's own leak check is not disturbed.
 */
void test_expect_die(void (*misuse)(void *arg), void *arg, const char *message);

/* Make an executor (b: NULL for the defaults); skips the test if the machine cannot. */
struct rt_executor *test_executor_with(const struct rt_builder *b);
struct rt_executor *test_executor(void);

/* Run `f` (of `size` bytes) as the main future of a new executor, destroy it, return the output. */
intptr_t test_run(struct rt_future *f, size_t size);

/*
 * The fake machine `machine` under tests/fixtures/topology/ (phase 4's
 * placement tests), as a path that works from wherever the tests run; "" is
 * the directory itself. The string lives until the next call.
 */
const char *test_topology(const char *machine);

/*
 * A program built for this phase, build/phaseN/<rel> ("examples/cat"), into
 * `path`: found from the test runner's own path, build/phaseN/tests/run_tests
 * or, for an exercise's runner, build/phaseN/exercises/ex_N_M/run_tests, a
 * level deeper. Fails the test if it is not there.
 */
void test_built(const char *rel, char *path, size_t len);

/* What one run of a built program did (test_run_built). */
struct test_program {
    int status;     /* its exit status, or -1 if a signal ended it */
    char out[4096]; /* what it wrote to standard output, NUL-terminated */
    char err[4096]; /* ... and to standard error */
};

/*
 * Run the program test_built() finds at `rel` with `argv` (argv[0] first,
 * NULL-terminated), as a user would: its standard output and error into
 * pipes, or its standard output closed if `closed_out`; wait for it. It
 * must print less than a pipe holds (64 KiB): the pipes are read after it
 * exits. Skips the test where the machine cannot make an executor, which
 * the examples need.
 */
void test_run_built(const char *rel, const char *const *argv, bool closed_out,
                    struct test_program *r);

/* A new temporary file holding the `len` bytes at `bytes`; its path into `path` (64 bytes). */
void test_temp_file(char *path, const void *bytes, size_t len);

/*
 * How many file descriptors below 4096 are open: a count before and after
 * shows what a call left open (probed one by one; opening /proc/self/fd
 * would count itself).
 */
int test_fd_count(void);

/*
 * A limit for RLIMIT_NOFILE that leaves exactly `free` descriptors unused
 * below it (the open ones need not be contiguous): a test sets it to make
 * the next open, or the one after, fail with EMFILE.
 */
rlim_t test_fd_limit_leaving(int free);

/* ------------------------------------------------ small futures tests share */

/* Ready at once with `value`. */
struct test_value {
    struct rt_future future;
    intptr_t value;
};
struct test_value test_value(intptr_t value);

/* Pending `pending` times (waking itself each time, like a yield), then ready with `value`. */
struct test_yield {
    struct rt_future future;
    int pending;    /* polls left that return RT_PENDING */
    intptr_t value; /* output */
    int *polls;     /* if not NULL, counts every poll */
};
struct test_yield test_yield(int pending, intptr_t value, int *polls);

/*
 * Pending until the test wakes the waker it keeps in `*slot` with
 * rt_waker_wake() (which empties the slot); ready with `value` after that.
 * Dropping it drops the waker if it is still there, as every future that
 * keeps a waker must.
 */
struct test_wait {
    struct rt_future future;
    struct rt_waker *slot; /* the test's: where the waker is kept */
    bool registered;       /* a waker was put in the slot */
    intptr_t value;
};
struct test_wait test_wait(struct rt_waker *slot, intptr_t value);

/* Cancels the task behind `*victim` when polled (rt_join_cancel); output: what that returned. */
struct test_canceller {
    struct rt_future future;
    struct rt_join_handle *victim;
};
struct test_canceller test_canceller(struct rt_join_handle *victim);

/* Every suite of this phase, declared from the list the Makefile writes. */
#include "suites.h"
#define X(name) Suite *suite_##name(void);
TEST_SUITES
#undef X

#endif /* TESTS_HARNESS_H */
