/*
 * tests/test_join.c - join handles: detach, cancel (before the first poll,
 * while still in the run queue, while pending, after completion, from
 * another task, from the task itself), a handle dropped without awaiting,
 * a handle detached after it was polled, and awaiting a consumed handle.
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

/*
 * One main future drives every scenario: it spawns the child the scenario
 * needs, lets the executor run for `turns` turns, does the scenario's action,
 * then awaits the handle if it still can.
 */
enum scenario { DETACH, DROP, CANCEL_BEFORE_POLL, CANCEL_PENDING, CANCEL_DONE };

struct join_main {
    struct rt_async async;
    enum scenario scenario;
    struct rt_join_handle job;
    struct test_yield pause;
    struct rt_waker slot; /* the waiting child's waker, for CANCEL_PENDING */
    int child_polls;
    bool cancelled_now; /* what rt_join_cancel returned */
    intptr_t out;
};

static enum rt_poll join_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct join_main *f = (struct join_main *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->scenario == CANCEL_PENDING) {
        struct test_wait child = test_wait(&f->slot, 5);
        f->job = rt_spawn(&child.future, sizeof(child));
    } else {
        struct test_yield child =
            test_yield(f->scenario == CANCEL_DONE ? 0 : 3, 5, &f->child_polls);
        f->job = rt_spawn(&child.future, sizeof(child));
    }

    switch (f->scenario) {
    case DETACH:
        rt_join_detach(&f->job);
        ck_assert(rt_join_is_empty(&f->job));
        ck_assert(!rt_join_cancel(&f->job)); /* nothing left to cancel through it */
        break;
    case DROP:
        rt_future_drop(&f->job.future);
        ck_assert(rt_join_is_empty(&f->job));
        break;
    case CANCEL_BEFORE_POLL:
        f->cancelled_now = rt_join_cancel(&f->job);
        break;
    case CANCEL_PENDING:
    case CANCEL_DONE:
        break;
    }

    /* Let the child run: it needs at most four polls. */
    f->pause = test_yield(5, 0, NULL);
    AWAIT(&f->pause.future, NULL);

    if (f->scenario == DETACH || f->scenario == DROP) {
        ck_assert_int_eq(f->child_polls, 4); /* it ran to the end on its own */
        ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1); /* and was freed */
        ASYNC_RETURN(0);
    }
    if (f->scenario == CANCEL_PENDING) {
        ck_assert(!rt_waker_is_empty(&f->slot)); /* the child is waiting for its wake-up */
        f->cancelled_now = rt_join_cancel(&f->job);
        ck_assert(rt_waker_is_empty(&f->slot)); /* its future was dropped, and its waker with it */
    }
    if (f->scenario == CANCEL_DONE)
        f->cancelled_now = rt_join_cancel(&f->job);
    /* The first cancel cancels unless the task had completed; a second one never does. */
    ck_assert(f->cancelled_now == (f->scenario != CANCEL_DONE));
    ck_assert(!rt_join_cancel(&f->job));

    AWAIT(&f->job.future, &f->out);
    ASYNC_RETURN(f->job.cancelled ? -1 : f->out);
    ASYNC_END;
}

static const struct rt_future_vtable join_main_vtable = {join_main_poll, rt_async_drop};

/* Run one scenario; returns the child's output, or -1 if the child was cancelled. */
static intptr_t run_scenario(enum scenario scenario)
{
    struct join_main f = {.async = RT_ASYNC_INIT(&join_main_vtable), .scenario = scenario};
    struct rt_executor *ex = test_executor();
    intptr_t out = rt_executor_run(ex, &f.async.future, sizeof(f));

    ck_assert_uint_eq(rt_executor_task_count(ex), 0);
    rt_executor_destroy(ex);
    return out;
}

START_TEST(detach_lets_the_task_finish)
{
    ck_assert_int_eq(run_scenario(DETACH), 0);
}
END_TEST

START_TEST(dropped_handle_lets_the_task_finish)
{
    ck_assert_int_eq(run_scenario(DROP), 0);
}
END_TEST

START_TEST(cancel_before_first_poll)
{
    ck_assert_int_eq(run_scenario(CANCEL_BEFORE_POLL), -1);
}
END_TEST

START_TEST(cancel_while_pending)
{
    ck_assert_int_eq(run_scenario(CANCEL_PENDING), -1);
}
END_TEST

START_TEST(cancel_after_completion_keeps_the_output)
{
    ck_assert_int_eq(run_scenario(CANCEL_DONE), 5);
}
END_TEST

/* The child's poll count, seen from outside the executor through a static. */
static int polls_seen;
static bool cancel_result;

struct cancel_first {
    struct rt_async async;
    struct rt_join_handle job;
    intptr_t out;
};

static enum rt_poll cancel_first_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_first *f = (struct cancel_first *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_yield child = test_yield(0, 9, &polls_seen);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    cancel_result = rt_join_cancel(&f->job);
    AWAIT(&f->job.future, &f->out);
    ck_assert(f->job.cancelled);
    ck_assert_int_eq(f->out, 0); /* a cancelled task has no output */
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_first_vtable = {cancel_first_poll, rt_async_drop};

START_TEST(cancelled_before_first_poll_is_never_polled)
{
    struct cancel_first f = {.async = RT_ASYNC_INIT(&cancel_first_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 1);
    ck_assert(cancel_result);
    ck_assert_int_eq(polls_seen, 0);
}
END_TEST

/* ------------------------------------------- cancelled while in the queue */

static int queued_polls; /* how often the queued child's poll ran */
static int queued_drops; /* and its drop */

/* Ready at once with 3; counts its polls and drops. */
static enum rt_poll counted_child_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    queued_polls++;
    *out = 3;
    return RT_READY;
}

static void counted_child_drop(struct rt_future *self)
{
    (void)self;
    queued_drops++;
}

static const struct rt_future_vtable counted_child_vtable = {counted_child_poll,
                                                             counted_child_drop};

struct cancel_queued {
    struct rt_async async;
    struct rt_join_handle job;
    struct test_yield pause;
    intptr_t out;
};

static enum rt_poll cancel_queued_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_queued *f = (struct cancel_queued *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&counted_child_vtable};

        f->job = rt_spawn(&child, sizeof(child));
    }
    ck_assert(rt_join_cancel(&f->job)); /* it is in the run queue, not yet polled */
    ck_assert_int_eq(queued_drops, 1);  /* its future is dropped at once */
    /* One turn, so that the executor pops the cancelled child from its queue before we go on. */
    f->pause = test_yield(1, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 2); /* main and the child */
    AWAIT(&f->job.future, &f->out);
    ck_assert(f->job.cancelled);
    ck_assert_int_eq(f->out, 0);
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_queued_vtable = {cancel_queued_poll, rt_async_drop};

/*
 * A task cancelled while it waits in the run queue stays there, and the
 * executor must let it go when it pops it, without polling it: its future
 * was dropped by the cancel, and polling a dropped future is a use after
 * free in general (and here would count a poll and, on its way out, a
 * second drop). cancelled_before_first_poll_is_never_polled above cannot
 * see this: its main future finishes in the very turn it cancels, so the
 * executor never pops the child at all.
 */
START_TEST(cancelled_in_the_queue_is_let_go_unpolled)
{
    struct cancel_queued f = {.async = RT_ASYNC_INIT(&cancel_queued_vtable)};
    struct rt_executor *ex = test_executor();

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 1);
    ck_assert_int_eq(queued_polls, 0);
    ck_assert_int_eq(queued_drops, 1);
    ck_assert_uint_eq(rt_executor_task_count(ex), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------- cancelled by another task, or itself */

/* Cancels itself through its own handle, which it is given, then claims to be ready. */
struct self_cancel {
    struct rt_future future;
    struct rt_join_handle *own;
};

static bool self_cancel_polling; /* inside self_cancel_poll() */
static int self_cancel_drops;

static enum rt_poll self_cancel_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct self_cancel *f = (struct self_cancel *)self;

    (void)cx;
    self_cancel_polling = true;
    ck_assert(rt_join_cancel(f->own));
    *out = 123; /* must be discarded: the task was cancelled during this poll */
    self_cancel_polling = false;
    return RT_READY;
}

/*
 * The cancel must leave the drop to the end of the poll, and the READY that
 * follows must not finish the task a second time. Dropped during its own
 * poll, a future's state is freed under it; dropped twice, whatever it holds
 * is released twice. Both showed only as a count of drops, hence this one.
 */
static void self_cancel_drop(struct rt_future *self)
{
    (void)self;
    ck_assert_msg(!self_cancel_polling, "the future was dropped during its own poll");
    self_cancel_drops++;
}

static const struct rt_future_vtable self_cancel_vtable = {self_cancel_poll, self_cancel_drop};

struct awaiter_learns {
    struct rt_async async;
    bool by_itself;
    struct rt_waker slot;
    struct rt_join_handle victim, killer;
    intptr_t out, killed;
};

static enum rt_poll awaiter_learns_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct awaiter_learns *f = (struct awaiter_learns *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->by_itself) {
        struct self_cancel victim = {{&self_cancel_vtable}, &f->victim};
        f->victim = rt_spawn(&victim.future, sizeof(victim));
    } else {
        struct test_wait victim = test_wait(&f->slot, 5);
        struct test_canceller killer = test_canceller(&f->victim);
        f->victim = rt_spawn(&victim.future, sizeof(victim));
        f->killer = rt_spawn(&killer.future, sizeof(killer));
    }
    /* We are suspended here when the victim is cancelled: the cancel must wake us. */
    AWAIT(&f->victim.future, &f->out);
    ck_assert(f->victim.cancelled);
    ck_assert_int_eq(f->out, 0);
    if (!f->by_itself) {
        AWAIT(&f->killer.future, &f->killed);
        ck_assert_int_eq(f->killed, 1);
        ck_assert(rt_waker_is_empty(&f->slot));
    }
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable awaiter_learns_vtable = {awaiter_learns_poll, rt_async_drop};

START_TEST(cancel_by_another_task_wakes_the_awaiter)
{
    struct awaiter_learns f = {.async = RT_ASYNC_INIT(&awaiter_learns_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 1);
}
END_TEST

START_TEST(cancel_by_the_task_itself)
{
    struct awaiter_learns f = {.async = RT_ASYNC_INIT(&awaiter_learns_vtable), .by_itself = true};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 1);
    ck_assert_int_eq(self_cancel_drops, 1); /* once, after its poll (see self_cancel_drop) */
}
END_TEST

/* ------------------------------------------- detached after being awaited */

/* Pending for good, and keeps no waker: nothing can wake it, only dropping it ends it. */
static enum rt_poll forever_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    (void)out;
    return RT_PENDING;
}

static const struct rt_future_vtable forever_vtable = {.poll = forever_poll};

/* Awaits its child once, by hand, then detaches the handle and lets the child go. */
struct detach_awaited {
    struct rt_future future;
    struct rt_join_handle job;
    int polls;
};

static enum rt_poll detach_awaited_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct detach_awaited *f = (struct detach_awaited *)self;
    intptr_t unused;

    if (++f->polls == 1) {
        struct rt_future child = {&forever_vtable};

        f->job = rt_spawn(&child, sizeof(child));
        /* Pending: the handle keeps a clone of our waker in the task, as its awaiter. */
        ck_assert(rt_future_poll(&f->job.future, cx, &unused) == RT_PENDING);
        rt_join_detach(&f->job);
        rt_waker_wake_by_ref(cx->waker); /* polled again after the child's first poll */
        return RT_PENDING;
    }
    /* Polled once, with no handle and no waker left, the child was freed. */
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1);
    *out = 1;
    return RT_READY;
}

static const struct rt_future_vtable detach_awaited_vtable = {.poll = detach_awaited_poll};

/*
 * Detaching a handle that was awaited drops the awaiter it registered. If
 * it stayed, the child would be freed with a waker still in it (the runtime
 * stops there, on an assertion), and that waker's reference to us would
 * never be given back.
 */
START_TEST(detach_after_the_handle_was_polled)
{
    struct detach_awaited f = {.future = {&detach_awaited_vtable}};

    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 1);
}
END_TEST

/* ------------------------------------------------------------- misuse */

struct await_twice {
    struct rt_async async;
    struct rt_join_handle job;
};

static enum rt_poll await_twice_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct await_twice *f = (struct await_twice *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_value child = test_value(1);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    AWAIT(&f->job.future, NULL);
    AWAIT(&f->job.future, NULL); /* the handle was consumed by the first await */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable await_twice_vtable = {await_twice_poll, rt_async_drop};

/* The misuse, run by test_expect_die(). */
static void run_await_twice(void *arg)
{
    struct await_twice f = {.async = RT_ASYNC_INIT(&await_twice_vtable)};

    (void)arg;
    test_run(&f.async.future, sizeof(f));
}

START_TEST(awaiting_a_consumed_handle_stops_the_program)
{
    test_expect_die(
        run_await_twice, NULL,
        "a join handle was awaited after it was awaited to the end, detached or dropped");
}
END_TEST

Suite *suite_join(void)
{
    Suite *s = suite_create("join");
    TCase *tc = test_case("join");

    tcase_add_test(tc, detach_lets_the_task_finish);
    tcase_add_test(tc, dropped_handle_lets_the_task_finish);
    tcase_add_test(tc, cancel_before_first_poll);
    tcase_add_test(tc, cancel_while_pending);
    tcase_add_test(tc, cancel_after_completion_keeps_the_output);
    tcase_add_test(tc, cancelled_before_first_poll_is_never_polled);
    tcase_add_test(tc, cancelled_in_the_queue_is_let_go_unpolled);
    tcase_add_test(tc, cancel_by_another_task_wakes_the_awaiter);
    tcase_add_test(tc, cancel_by_the_task_itself);
    tcase_add_test(tc, detach_after_the_handle_was_polled);
    tcase_add_test(tc, awaiting_a_consumed_handle_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
