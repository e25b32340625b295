/*
 * tests/test_run.c - rt_executor_run(): it returns the main future's output,
 * an executor can run several times, and a deadlock stops the program, as
 * do a second run at once (nested on one thread, or from another thread)
 * and destroying an executor while it runs.
 */
#include "harness.h"

#include <pthread.h>

TEST_SINCE_PHASE(1);

START_TEST(run_returns_main_output)
{
    struct test_value f = test_value(42);

    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 42);
}
END_TEST

START_TEST(run_returns_after_main_pends)
{
    int polls = 0;
    struct test_yield f = test_yield(3, -7, &polls);

    ck_assert_int_eq(test_run(&f.future, sizeof(f)), -7);
    /* The copy inside the task was polled; the caller's counter saw every poll. */
    ck_assert_int_eq(polls, 4);
}
END_TEST

START_TEST(run_twice_on_one_executor)
{
    struct rt_executor *ex = test_executor();
    struct test_value a = test_value(1);
    struct test_value b = test_value(2);

    ck_assert_int_eq(rt_executor_run(ex, &a.future, sizeof(a)), 1);
    ck_assert_int_eq(rt_executor_run(ex, &b.future, sizeof(b)), 2);
    ck_assert_ptr_null(rt_executor_current());
    ck_assert_uint_eq(rt_executor_task_count(ex), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* The misuse, run by test_expect_die(): a main future that waits for a wake-up nobody will send. */
static void run_a_deadlock(void *arg)
{
    struct rt_waker slot = {0};
    struct test_wait f = test_wait(&slot, 0);

    (void)arg;
    test_run(&f.future, sizeof(f));
}

START_TEST(deadlock_stops_the_program)
{
    test_expect_die(run_a_deadlock, NULL,
                    "deadlock: the main future is pending and no task can run");
}
END_TEST

/* ----------------------------------- an executor used where it is running */

/* What the misuse future below does when it is polled on a running executor. */
enum run_misuse { NESTED_RUN, RUN_FROM_ANOTHER_THREAD, DESTROY_WHILE_RUNNING };

struct misuse_main {
    struct rt_future future;
    enum run_misuse what;
};

/* Runs the executor `arg` from a thread of its own, with a main future that is ready at once. */
static void *run_it_here(void *arg)
{
    struct test_value v = test_value(1);

    rt_executor_run(arg, &v.future, sizeof(v));
    return NULL;
}

static enum rt_poll misuse_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct misuse_main *f = (struct misuse_main *)self;
    struct rt_executor *running = rt_executor_current();

    (void)cx;
    if (f->what == NESTED_RUN) {
        struct rt_executor *inner = test_executor();
        struct test_value v = test_value(1);

        rt_executor_run(inner, &v.future, sizeof(v)); /* this thread already runs `running` */
    } else if (f->what == RUN_FROM_ANOTHER_THREAD) {
        pthread_t other;

        /* The other thread stops the program; this task waits for it, still running. */
        ck_assert_int_eq(pthread_create(&other, NULL, run_it_here, running), 0);
        pthread_join(other, NULL);
    } else {
        rt_executor_destroy(running); /* it is polling us right now */
    }
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable misuse_main_vtable = {.poll = misuse_main_poll};

/* The misuse, run by test_expect_die(): `arg` points at the enum run_misuse to commit. */
static void run_misuse_main(void *arg)
{
    struct misuse_main f = {{&misuse_main_vtable}, *(const enum run_misuse *)arg};

    test_run(&f.future, sizeof(f));
}

/*
 * One thread runs one executor at a time, and an executor runs on one thread
 * at a time: run() refuses a second executor on a thread that is running
 * one, and an executor that some thread is running already. Let through, the
 * inner run would take over `current` and leave it NULL under the outer one;
 * two threads would share tasks whose state is not atomic.
 */
START_TEST(running_twice_at_once_stops_the_program)
{
    enum run_misuse nested = NESTED_RUN, other = RUN_FROM_ANOTHER_THREAD;

    test_expect_die(run_misuse_main, &nested,
                    "rt_executor_run: an executor is already running on this thread");
    test_expect_die(run_misuse_main, &other,
                    "rt_executor_run: this executor is already running on another thread");
}
END_TEST

/* Destroying the executor from one of its own tasks would free it, and the task, under run(). */
START_TEST(destroy_while_running_stops_the_program)
{
    enum run_misuse destroy = DESTROY_WHILE_RUNNING;

    test_expect_die(run_misuse_main, &destroy, "rt_executor_destroy: the executor is running");
}
END_TEST

Suite *suite_run(void)
{
    Suite *s = suite_create("run");
    TCase *tc = test_case("run");

    tcase_add_test(tc, run_returns_main_output);
    tcase_add_test(tc, run_returns_after_main_pends);
    tcase_add_test(tc, run_twice_on_one_executor);
    tcase_add_test(tc, deadlock_stops_the_program);
    tcase_add_test(tc, running_twice_at_once_stops_the_program);
    tcase_add_test(tc, destroy_while_running_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
