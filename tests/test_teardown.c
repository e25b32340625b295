/*
 * tests/test_teardown.c - destroying an executor frees every task it still
 * has: tasks waiting for a wake-up, tasks never polled, and tasks awaiting
 * other tasks. The harness's leak check after each test is the proof.
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

#define WAITERS 100

static struct rt_waker slots[WAITERS];

/*
 * Awaits the handle it was given. It owns that handle from the start, not
 * only while suspended on it, so it needs its own drop: rt_async_drop alone
 * would miss the handle if the future is dropped before its first poll.
 */
struct awaits_other {
    struct rt_async async;
    struct rt_join_handle other;
};

static enum rt_poll awaits_other_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct awaits_other *f = (struct awaits_other *)self;

    ASYNC_BEGIN(f, cx, out);
    AWAIT(&f->other.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static void awaits_other_drop(struct rt_future *self)
{
    struct awaits_other *f = (struct awaits_other *)self;

    rt_async_drop(self);
    rt_join_detach(&f->other); /* no-op if the await above already consumed it */
}

static const struct rt_future_vtable awaits_other_vtable = {awaits_other_poll, awaits_other_drop};

struct leave_work_behind {
    struct rt_async async;
    bool poll_them; /* let the waiters register their wakers before main returns */
    struct test_yield pause;
    int i;
};

static enum rt_poll leave_work_behind_poll(struct rt_future *self, struct rt_context *cx,
                                           intptr_t *out)
{
    struct leave_work_behind *f = (struct leave_work_behind *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < WAITERS; f->i++) {
        struct test_wait waiter = test_wait(&slots[f->i], 0);
        struct rt_join_handle h = rt_spawn(&waiter.future, sizeof(waiter));
        if (f->i % 2 == 0) {
            rt_join_detach(&h);
        } else {
            /* A second task awaits this one: a chain of references for teardown to untangle. */
            struct awaits_other chained = {.async = RT_ASYNC_INIT(&awaits_other_vtable),
                                           .other = h};
            struct rt_join_handle c = rt_spawn(&chained.async.future, sizeof(chained));
            rt_join_detach(&c);
        }
    }
    if (f->poll_them) {
        f->pause = test_yield(2, 0, NULL);
        AWAIT(&f->pause.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable leave_work_behind_vtable = {leave_work_behind_poll,
                                                                 rt_async_drop};

static void leave_work_and_destroy(bool poll_them)
{
    struct leave_work_behind f = {.async = RT_ASYNC_INIT(&leave_work_behind_vtable),
                                  .poll_them = poll_them};
    struct rt_executor *ex = test_executor();
    int i, waiting = 0;

    rt_executor_run(ex, &f.async.future, sizeof(f));
    ck_assert_uint_eq(rt_executor_task_count(ex), WAITERS + WAITERS / 2);
    for (i = 0; i < WAITERS; i++)
        waiting += !rt_waker_is_empty(&slots[i]);
    ck_assert_int_eq(waiting, poll_them ? WAITERS : 0);

    rt_executor_destroy(ex);
    /* Every waiter's future was dropped, and with it the waker it kept. */
    for (i = 0; i < WAITERS; i++)
        ck_assert(rt_waker_is_empty(&slots[i]));
}

START_TEST(destroy_frees_pending_tasks)
{
    leave_work_and_destroy(true);
}
END_TEST

START_TEST(destroy_frees_tasks_never_polled)
{
    leave_work_and_destroy(false);
}
END_TEST

START_TEST(destroy_an_idle_executor)
{
    struct rt_executor *ex = test_executor();

    ck_assert_uint_eq(rt_executor_task_count(ex), 0);
    rt_executor_destroy(ex);
}
END_TEST

Suite *suite_teardown(void)
{
    Suite *s = suite_create("teardown");
    TCase *tc = test_case("teardown");

    tcase_add_test(tc, destroy_frees_pending_tasks);
    tcase_add_test(tc, destroy_frees_tasks_never_polled);
    tcase_add_test(tc, destroy_an_idle_executor);
    suite_add_tcase(s, tc);
    return s;
}
