/*
 * tests/test_teardown.c - destroying an executor frees every task it still
 * has: tasks waiting for a wake-up, tasks never polled, and tasks awaiting
 * other tasks, and passes over a task that finished (its future is not
 * dropped twice). The harness's leak check after each test is the proof.
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

/* Ready at once with 7; counts its drops. */
static int finished_drops;

static enum rt_poll finished_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 7;
    return RT_READY;
}

static void finished_drop(struct rt_future *self)
{
    (void)self;
    finished_drops++;
}

static const struct rt_future_vtable finished_vtable = {finished_poll, finished_drop};

/* Spawns a child, lets it finish, and returns without joining: the handle goes out in *kept. */
struct keep_handle {
    struct rt_async async;
    struct rt_join_handle *kept;
    struct test_yield pause;
};

static enum rt_poll keep_handle_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct keep_handle *f = (struct keep_handle *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&finished_vtable};

        *f->kept = rt_spawn(&child, sizeof(child));
    }
    f->pause = test_yield(1, 0, NULL); /* one turn: the child runs and finishes */
    AWAIT(&f->pause.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable keep_handle_vtable = {keep_handle_poll, rt_async_drop};

/*
 * A task that finished, its output not yet taken, is still the executor's
 * when it is destroyed: destroy's cancel must pass it by. Its future was
 * dropped when it finished; cancelling it as if it were pending dropped
 * the future a second time. The handle, kept outside, is let go after.
 */
START_TEST(destroy_passes_over_a_finished_task)
{
    struct rt_join_handle kept;
    struct keep_handle f = {.async = RT_ASYNC_INIT(&keep_handle_vtable), .kept = &kept};
    struct rt_executor *ex = test_executor();

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert_int_eq(finished_drops, 1); /* dropped when it finished */
    ck_assert_uint_eq(rt_executor_task_count(ex), 1);
    rt_executor_destroy(ex);
    ck_assert_int_eq(finished_drops, 1);
    rt_join_detach(&kept);
    ck_assert_int_eq(finished_drops, 1);
}
END_TEST

Suite *suite_teardown(void)
{
    Suite *s = suite_create("teardown");
    TCase *tc = test_case("teardown");

    tcase_add_test(tc, destroy_frees_pending_tasks);
    tcase_add_test(tc, destroy_frees_tasks_never_polled);
    tcase_add_test(tc, destroy_an_idle_executor);
    tcase_add_test(tc, destroy_passes_over_a_finished_task);
    suite_add_tcase(s, tc);
    return s;
}
