/*
 * tests/exercises/ex_1_2.c - exercise 1.2: a per-task poll counter.
 *
 * The exercise adds a field to struct rt_task that rt__task_run() increments
 * each time it polls the task's future, and declares in join.h:
 *
 *     unsigned rt_join_polls(const struct rt_join_handle *h);
 *
 * which returns that count for the handle's task (the handle must not be
 * empty).
 *
 * Run: make exercise E=1.2   (this test does not build until rt_join_polls exists)
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

/* Wakes its own task twice during its first poll; ready on the second. */
struct wake_twice {
    struct rt_future future;
    bool woke; /* the first poll happened */
};

static enum rt_poll wake_twice_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct wake_twice *f = (struct wake_twice *)self;

    if (!f->woke) {
        f->woke = true;
        rt_waker_wake_by_ref(cx->waker);
        rt_waker_wake_by_ref(cx->waker); /* queued already: one more poll, not two */
        return RT_PENDING;
    }
    *out = 7;
    return RT_READY;
}

static const struct rt_future_vtable wake_twice_vtable = {.poll = wake_twice_poll};

/* Spawns one child, lets the executor turn a few times, then reads the child's poll count. */
struct count_main {
    struct rt_async async;
    bool cancel;               /* cancel the child before its first poll */
    struct rt_join_handle job; /* the child */
    struct test_yield pause;   /* three turns: more than the child needs */
    intptr_t out;
};

static enum rt_poll count_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct count_main *f = (struct count_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct wake_twice child = {.future = {&wake_twice_vtable}};
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_uint_eq(rt_join_polls(&f->job), 0); /* spawned, not polled yet */
    if (f->cancel)
        rt_join_cancel(&f->job);
    f->pause = test_yield(3, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    f->out = rt_join_polls(&f->job);
    rt_join_detach(&f->job);
    ASYNC_RETURN(f->out);
    ASYNC_END;
}

static const struct rt_future_vtable count_main_vtable = {count_main_poll, rt_async_drop};

START_TEST(woken_twice_in_one_poll_is_polled_twice)
{
    struct count_main f = {.async = RT_ASYNC_INIT(&count_main_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 2);
}
END_TEST

START_TEST(cancelled_before_first_poll_is_polled_zero_times)
{
    struct count_main f = {.async = RT_ASYNC_INIT(&count_main_vtable), .cancel = true};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_ex_1_2(void)
{
    Suite *s = suite_create("ex_1_2");
    TCase *tc = test_case("ex_1_2");

    tcase_add_test(tc, woken_twice_in_one_poll_is_polled_twice);
    tcase_add_test(tc, cancelled_before_first_poll_is_polled_zero_times);
    suite_add_tcase(s, tc);
    return s;
}
