/*
 * tests/harness.c - the test runner's main() and the helpers in harness.h.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void test_assert_no_leaks(void)
{
    long live = rt__alloc_live();

    ck_assert_msg(live == 0, "%ld block(s) allocated by the runtime were not freed", live);
}

TCase *test_case(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    /* A checked teardown runs in the test's own process, after the body, and can fail it. */
    tcase_add_checked_fixture(tc, NULL, test_assert_no_leaks);
    return tc;
}

void test_skip(const char *test, const char *reason)
{
    const char *require = getenv("REQUIRE_ALL");

    if (require && strcmp(require, "1") == 0)
        ck_abort_msg("%s was skipped (%s), and REQUIRE_ALL=1 makes a skip a failure", test, reason);
    fprintf(stderr, "SKIP %s: %s\n", test, reason);
    /* Each test runs in a process of its own (fork mode): ending it here reports a pass. */
    exit(EXIT_SUCCESS);
}

struct rt_executor *test_executor_with(const struct rt_builder *b)
{
    struct rt_executor *ex = NULL;
    int err = rt_executor_create(b, &ex);

#if PHASE >= 2
    /* From phase 2 on, an executor needs an io_uring, which a machine may not offer. */
    if (err < 0 && (!b || b->cpu == RT_CPU_ANY))
        test_skip("test_executor", rt_last_error());
#endif
    ck_assert_msg(err == 0, "rt_executor_create failed: %s", strerror(-err));
    return ex;
}

struct rt_executor *test_executor(void)
{
    return test_executor_with(NULL);
}

intptr_t test_run(struct rt_future *f, size_t size)
{
    struct rt_executor *ex = test_executor();
    intptr_t out = rt_executor_run(ex, f, size);

    rt_executor_destroy(ex);
    return out;
}

void test_expect_death(void (*fn)(void), const char *words)
{
    char out[1024] = "";
    size_t len = 0;
    ssize_t n;
    int fds[2], status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while (len < sizeof(out) - 1 && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    out[len] = '\0';
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "the misuse did not stop the program (status %d): %s", status, out);
    ck_assert_msg(strstr(out, words), "the message \"%s\" does not say \"%s\"", out, words);
}

/* ------------------------------------------------ small futures tests share */

static enum rt_poll value_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)cx;
    *out = ((struct test_value *)self)->value;
    return RT_READY;
}

static const struct rt_future_vtable value_vtable = {.poll = value_poll};

struct test_value test_value(intptr_t value)
{
    return (struct test_value){.future = {&value_vtable}, .value = value};
}

static enum rt_poll yield_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct test_yield *f = (struct test_yield *)self;

    if (f->polls)
        (*f->polls)++;
    if (f->pending > 0) {
        f->pending--;
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    *out = f->value;
    return RT_READY;
}

static const struct rt_future_vtable yield_vtable = {.poll = yield_poll};

struct test_yield test_yield(int pending, intptr_t value, int *polls)
{
    return (struct test_yield){
        .future = {&yield_vtable}, .pending = pending, .value = value, .polls = polls};
}

static enum rt_poll wait_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct test_wait *f = (struct test_wait *)self;

    if (!f->registered) {
        rt_waker_register(f->slot, cx);
        f->registered = true;
        return RT_PENDING;
    }
    if (!rt_waker_is_empty(f->slot))
        return RT_PENDING; /* polled, but our waker has not been used yet */
    *out = f->value;
    return RT_READY;
}

static void wait_drop(struct rt_future *self)
{
    rt_waker_drop(((struct test_wait *)self)->slot);
}

static const struct rt_future_vtable wait_vtable = {.poll = wait_poll, .drop = wait_drop};

struct test_wait test_wait(struct rt_waker *slot, intptr_t value)
{
    return (struct test_wait){.future = {&wait_vtable}, .slot = slot, .value = value};
}

static enum rt_poll canceller_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)cx;
    *out = rt_join_cancel(((struct test_canceller *)self)->victim);
    return RT_READY;
}

static const struct rt_future_vtable canceller_vtable = {.poll = canceller_poll};

struct test_canceller test_canceller(struct rt_join_handle *victim)
{
    return (struct test_canceller){.future = {&canceller_vtable}, .victim = victim};
}

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

#define X(name) srunner_add_suite(sr, suite_##name());
    TEST_SUITES
#undef X
    /* Fork mode is what makes timeouts, crashes and the per-test leak check work. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
