/*
 * tests/exercises/ex_1_5.c - exercise 1.5: the per-turn bound.
 *
 * This test is the first half of the exercise's answer, and it works the
 * other way round from the others: it passes on phase 1 as it is, and it
 * must time out once run_ready_tasks() is changed to pop until the queue is
 * empty. A detached task that yields forever then keeps the loop from ever
 * looking at main again.
 *
 * Run: make exercise E=1.5
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

/* Wakes its own task and is pending, on every poll, forever. */
static enum rt_poll spin_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)out;
    rt_waker_wake_by_ref(cx->waker);
    return RT_PENDING;
}

static const struct rt_future_vtable spin_vtable = {.poll = spin_poll};

/* Spawns the spinner, detaches it, yields a few times, and returns 42. */
struct spin_main {
    struct rt_async async;
    struct test_yield pause;
};

static enum rt_poll spin_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spin_main *f = (struct spin_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future spinner = {&spin_vtable};
        struct rt_join_handle h = rt_spawn(&spinner, sizeof(spinner));
        rt_join_detach(&h);
    }
    f->pause = test_yield(3, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ASYNC_RETURN(42);
    ASYNC_END;
}

static const struct rt_future_vtable spin_main_vtable = {spin_main_poll, rt_async_drop};

START_TEST(main_returns_while_a_task_yields_forever)
{
    struct spin_main f = {.async = RT_ASYNC_INIT(&spin_main_vtable)};
    struct rt_executor *ex = test_executor();

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 42);
    ck_assert_uint_eq(rt_executor_task_count(ex), 1); /* the spinner, still queued */
    rt_executor_destroy(ex);                          /* cancels and frees it */
}
END_TEST

Suite *suite_ex_1_5(void)
{
    Suite *s = suite_create("ex_1_5");
    TCase *tc = test_case("ex_1_5");

    tcase_add_test(tc, main_returns_while_a_task_yields_forever);
    suite_add_tcase(s, tc);
    return s;
}
