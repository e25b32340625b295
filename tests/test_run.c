/*
 * tests/test_run.c - rt_executor_run(): it returns the main future's output,
 * an executor can run several times, and a deadlock stops the program.
 */
#include "harness.h"

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

Suite *suite_run(void)
{
    Suite *s = suite_create("run");
    TCase *tc = test_case("run");

    tcase_add_test(tc, run_returns_main_output);
    tcase_add_test(tc, run_returns_after_main_pends);
    tcase_add_test(tc, run_twice_on_one_executor);
    tcase_add_test(tc, deadlock_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
