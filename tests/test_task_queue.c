/*
 * tests/test_task_queue.c - the task queue API: making, using and removing
 * queues, and every bad input it refuses.
 *
 * Cases: rt_task_queue_create() refuses shares 0 and 1001, a NULL name, a
 * name too long, a latency over RT_LATENCY_MAX, and takes the limits
 * themselves; rt_task_queue_remove() answers -EINVAL for the default queue,
 * -ENOENT for an id never made or already removed, -EBUSY while the queue
 * has a task (pending, or finished with its handle still held); ids are
 * never reused; rt_spawn_into() an unknown queue is -ENOENT and leaves the
 * future with the caller, who can still drop it; rt_task_queue_stats() on
 * an unknown queue is -ENOENT and writes nothing; rt_spawn() spawns into
 * the spawning task's queue, which rt_task_queue_current() names; and
 * destroying an executor whose queues still hold tasks in every state
 * (sleeping, waiting for a notification, with a recv in flight, ready and
 * never polled), after a second run() found them still there, frees them
 * all.
 *
 * After every refusal the executor must be untouched: the next good call
 * works as if the bad one had never happened (the ids it hands out show
 * that no bad call took one), and the harness's leak check runs after each
 * test.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TEST_SINCE_PHASE(3);

/* ------------------------------------------------------------------ create */

START_TEST(create_refuses_bad_arguments)
{
    struct rt_executor *ex = test_executor();
    char longest[RT_TASK_QUEUE_NAME_MAX], too_long[RT_TASK_QUEUE_NAME_MAX + 1];
    struct rt_task_queue_stats st;

    memset(longest, 'q', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    memset(too_long, 'q', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';

    ck_assert_int_eq(rt_task_queue_create(ex, "zero", 0, 0), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, "many", RT_SHARES_MAX + 1, 0), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, "huge", UINT32_MAX, 0), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, NULL, 100, 0), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, too_long, 100, 0), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, "slow", 100, RT_LATENCY_MAX + 1), -EINVAL);
    ck_assert_int_eq(rt_task_queue_create(ex, "never", 100, UINT64_MAX), -EINVAL);

    /* None of those took an id: the first good queue gets the first one. */
    ck_assert_int_eq(rt_task_queue_create(ex, longest, RT_SHARES_MIN, 0), 1);
    ck_assert_int_eq(rt_task_queue_create(ex, "", RT_SHARES_MAX, RT_LATENCY_MAX), 2);
    ck_assert_int_eq(rt_task_queue_create(ex, "tight", 10, 1), 3);
    ck_assert_int_eq(rt_task_queue_stats(ex, 2, &st), 0);
    ck_assert_uint_eq(st.shares, RT_SHARES_MAX);
    ck_assert_uint_eq(st.latency_ns, RT_LATENCY_MAX);
    ck_assert_int_eq(rt_task_queue_stats(ex, 3, &st), 0);
    ck_assert_uint_eq(st.shares, 10);
    ck_assert_uint_eq(st.latency_ns, 1);
    ck_assert_uint_eq(st.runtime_ns, 0);
    ck_assert_uint_eq(st.tasks_run, 0);
    /* The default queue is there from the start, with the most shares and no latency. */
    ck_assert_int_eq(rt_task_queue_stats(ex, RT_TASK_QUEUE_DEFAULT, &st), 0);
    ck_assert_uint_eq(st.shares, RT_SHARES_MAX);
    ck_assert_uint_eq(st.latency_ns, 0);
    rt_executor_destroy(ex); /* frees the queues made */
}
END_TEST

/* ------------------------------------------------------------------ remove */

START_TEST(remove_refuses_unknown_removed_and_default_queues)
{
    struct rt_executor *ex = test_executor();
    struct rt_task_queue_stats st;
    int q = rt_task_queue_create(ex, "short-lived", 100, 0);

    ck_assert_int_eq(q, 1);
    ck_assert_int_eq(rt_task_queue_remove(ex, RT_TASK_QUEUE_DEFAULT), -EINVAL);
    ck_assert_int_eq(rt_task_queue_remove(ex, 999), -ENOENT);
    ck_assert_int_eq(rt_task_queue_remove(ex, -1), -ENOENT);
    ck_assert_int_eq(rt_task_queue_remove(ex, q), 0);
    ck_assert_int_eq(rt_task_queue_remove(ex, q), -ENOENT);
    ck_assert_int_eq(rt_task_queue_stats(ex, q, &st), -ENOENT);
    /* Ids are never reused: an old id cannot come to name a new queue by accident. */
    ck_assert_int_eq(rt_task_queue_create(ex, "next", 100, 0), 2);
    ck_assert_int_eq(rt_task_queue_stats(ex, RT_TASK_QUEUE_DEFAULT, &st), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* A queue keeps every task it has until the task is freed, whatever its state. */
struct remove_busy {
    struct rt_async async;
    int queue;
    struct rt_waker slot;
    struct rt_join_handle pending, finished, detached;
    struct rt_yield yield;
    intptr_t res;
};

static enum rt_poll remove_busy_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct remove_busy *f = (struct remove_busy *)self;
    struct rt_executor *ex = rt_executor_current();

    ASYNC_BEGIN(f, cx, out);
    f->queue = rt_task_queue_create(ex, "busy", 100, 0);
    ck_assert_int_gt(f->queue, 0);
    {
        struct test_wait w = test_wait(&f->slot, 3);
        struct test_value v = test_value(4);
        struct test_value d = test_value(5);

        ck_assert_int_eq(rt_spawn_into(f->queue, &w.future, sizeof(w), &f->pending), 0);
        ck_assert_int_eq(rt_spawn_into(f->queue, &v.future, sizeof(v), &f->finished), 0);
        ck_assert_int_eq(rt_spawn_into(f->queue, &d.future, sizeof(d), &f->detached), 0);
    }
    rt_join_detach(&f->detached); /* a finished, detached task is freed: it does not count */
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), -EBUSY); /* not even run yet */
    /* Yielding ends main's slice, so the other queue gets its turn: once the waiter waits. */
    while (rt_waker_is_empty(&f->slot)) {
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }

    /* One task waits, one has finished but its handle is held: both keep the queue. */
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), -EBUSY);
    rt_waker_wake(&f->slot);
    AWAIT(&f->pending.future, &f->res);
    ck_assert_int_eq(f->res, 3);
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), -EBUSY);
    AWAIT(&f->finished.future, &f->res);
    ck_assert_int_eq(f->res, 4);
    /* Refused three times, and nothing about the queue changed: it is still there to remove. */
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), 0);
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), -ENOENT);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable remove_busy_vtable = {remove_busy_poll, rt_async_drop};

START_TEST(remove_refuses_a_queue_with_tasks)
{
    struct remove_busy f = {.async = RT_ASYNC_INIT(&remove_busy_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* ---------------------------------------------------- spawn_into and stats, unknown */

/* A future that owns memory: whoever holds it must drop it, or the leak check fails. */
struct owns_memory {
    struct rt_future future;
    void *block; /* rt__malloc'd */
};

static enum rt_poll owns_memory_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 9;
    return RT_READY;
}

static void owns_memory_drop(struct rt_future *self)
{
    struct owns_memory *f = (struct owns_memory *)self;

    rt__free(f->block);
    f->block = NULL;
}

static const struct rt_future_vtable owns_memory_vtable = {owns_memory_poll, owns_memory_drop};

struct spawn_unknown {
    struct rt_async async;
    struct rt_join_handle job;
    int queue;
    intptr_t res;
};

static enum rt_poll spawn_unknown_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawn_unknown *f = (struct spawn_unknown *)self;
    struct rt_executor *ex = rt_executor_current();
    struct owns_memory m;
    struct rt_task_queue_stats st;
    struct rt_join_handle untouched;
    size_t tasks;

    ASYNC_BEGIN(f, cx, out);
    f->queue = rt_task_queue_create(ex, "gone", 100, 0);
    ck_assert_int_eq(rt_task_queue_remove(ex, f->queue), 0);
    tasks = rt_executor_task_count(ex);
    m = (struct owns_memory){{&owns_memory_vtable}, rt__malloc(64)};
    memset(&f->job, 0xa5, sizeof(f->job));
    memset(&untouched, 0xa5, sizeof(untouched));
    ck_assert_int_eq(rt_spawn_into(12345, &m.future, sizeof(m), &f->job), -ENOENT);
    ck_assert_int_eq(rt_spawn_into(f->queue, &m.future, sizeof(m), &f->job), -ENOENT);
    ck_assert_int_eq(rt_spawn_into(-1, &m.future, sizeof(m), &f->job), -ENOENT);
    ck_assert_int_eq(rt_executor_task_count(ex), tasks);            /* no task was made */
    ck_assert(memcmp(&f->job, &untouched, sizeof(untouched)) == 0); /* no handle written */
    /* The future is still ours: we drop it, and its memory goes back (the leak check). */
    rt_future_drop(&m.future);

    memset(&st, 0x5a, sizeof(st));
    ck_assert_int_eq(rt_task_queue_stats(ex, 12345, &st), -ENOENT);
    ck_assert_int_eq(rt_task_queue_stats(ex, f->queue, &st), -ENOENT);
    ck_assert_uint_eq(st.shares, 0x5a5a5a5a); /* nothing was written */

    /* The executor is untouched: a good spawn into a good queue works. */
    m = (struct owns_memory){{&owns_memory_vtable}, rt__malloc(64)};
    ck_assert_int_eq(rt_spawn_into(RT_TASK_QUEUE_DEFAULT, &m.future, sizeof(m), &f->job), 0);
    AWAIT(&f->job.future, &f->res);
    ck_assert_int_eq(f->res, 9);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable spawn_unknown_vtable = {spawn_unknown_poll, rt_async_drop};

START_TEST(spawn_into_an_unknown_queue_leaves_the_future_to_the_caller)
{
    struct spawn_unknown f = {.async = RT_ASYNC_INIT(&spawn_unknown_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* -------------------------------------------------------- which queue a task is in */

/* Output: the queue it ran in, after checking that its child (if `depth` > 0) ran there too. */
struct where {
    struct rt_async async;
    int depth;
    struct rt_join_handle child;
    intptr_t res;
};

static const struct rt_future_vtable where_vtable;

static enum rt_poll where_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct where *f = (struct where *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->depth > 0) {
        {
            struct where child = {.async = RT_ASYNC_INIT(&where_vtable), .depth = f->depth - 1};
            f->child = rt_spawn(&child.async.future, sizeof(child));
        }
        AWAIT(&f->child.future, &f->res);
        ck_assert_int_eq(f->res, rt_task_queue_current());
    }
    ASYNC_RETURN(rt_task_queue_current());
    ASYNC_END;
}

static const struct rt_future_vtable where_vtable = {where_poll, rt_async_drop};

struct inherit {
    struct rt_async async;
    int queue;
    struct rt_join_handle job;
    intptr_t res;
};

static enum rt_poll inherit_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct inherit *f = (struct inherit *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_int_eq(rt_task_queue_current(), RT_TASK_QUEUE_DEFAULT); /* main starts there */
    f->queue = rt_task_queue_create(rt_executor_current(), "family", 300, 0);
    {
        struct where w = {.async = RT_ASYNC_INIT(&where_vtable), .depth = 3};
        ck_assert_int_eq(rt_spawn_into(f->queue, &w.async.future, sizeof(w), &f->job), 0);
    }
    AWAIT(&f->job.future, &f->res);
    ck_assert_int_eq(f->res, f->queue); /* and each of its descendants checked its own child */
    {
        struct where w = {.async = RT_ASYNC_INIT(&where_vtable), .depth = 2};
        f->job = rt_spawn(&w.async.future, sizeof(w)); /* from main: the default queue */
    }
    AWAIT(&f->job.future, &f->res);
    ck_assert_int_eq(f->res, RT_TASK_QUEUE_DEFAULT);
    ck_assert_int_eq(rt_task_queue_current(), RT_TASK_QUEUE_DEFAULT);
    ck_assert_int_eq(rt_task_queue_remove(rt_executor_current(), f->queue), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable inherit_vtable = {inherit_poll, rt_async_drop};

START_TEST(spawn_inherits_the_spawning_tasks_queue)
{
    struct inherit f = {.async = RT_ASYNC_INIT(&inherit_vtable)};

    ck_assert_int_eq(rt_task_queue_current(), -ENOENT); /* no executor runs here */
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    ck_assert_int_eq(rt_task_queue_current(), -ENOENT);
}
END_TEST

/* ----------------------------------------------------- teardown with queues */

#define STUCK 9 /* three of each kind */

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* Waits forever in one of three ways: a sleep, a notification, a recv. Counts its start. */
struct stuck {
    struct rt_async async;
    int how;
    int fd;
    int *started;
    struct rt_sleep sleep;
    struct rt_wait_notify wait;
    struct rt_io io;
    char buf[8];
};

static enum rt_poll stuck_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct stuck *f = (struct stuck *)self;

    ASYNC_BEGIN(f, cx, out);
    (*f->started)++;
    if (f->how == 0) {
        rt_sleep(&f->sleep, 3600 * UINT64_C(1000000000));
        AWAIT(&f->sleep.future, NULL);
    } else if (f->how == 1) {
        rt_wait_notify(&f->wait, never, NULL);
        AWAIT(&f->wait.future, NULL);
    } else {
        rt_io_recv(&f->io, f->fd, f->buf, sizeof(f->buf));
        AWAIT(&f->io.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable stuck_vtable = {stuck_poll, rt_async_drop};

/* Spawn one stuck task of each kind, each into its own queue (ids 1, 2, 3), detached. */
static void spawn_stuck_trio(int fd, int *started)
{
    struct rt_join_handle h;
    int how;

    for (how = 0; how < 3; how++) {
        struct stuck st = {
            .async = RT_ASYNC_INIT(&stuck_vtable), .how = how, .fd = fd, .started = started};
        ck_assert_int_eq(rt_spawn_into(1 + how, &st.async.future, sizeof(st), &h), 0);
        rt_join_detach(&h);
    }
}

/* Run 1 makes the queues and leaves STUCK tasks waiting and 3 never polled; run 2 finds them. */
struct leave_behind {
    struct rt_async async;
    int fd;
    int *started;
    bool second;
    struct rt_yield yield;
    struct rt_task_queue_stats st;
    int i;
};

static enum rt_poll leave_behind_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct leave_behind *f = (struct leave_behind *)self;
    struct rt_executor *ex = rt_executor_current();

    ASYNC_BEGIN(f, cx, out);
    if (!f->second) {
        ck_assert_int_eq(rt_task_queue_create(ex, "sleepers", 10, 1000000), 1);
        ck_assert_int_eq(rt_task_queue_create(ex, "waiters", 500, 0), 2);
        ck_assert_int_eq(rt_task_queue_create(ex, "readers", 1000, 5000000), 3);
        for (f->i = 0; f->i < STUCK / 3; f->i++)
            spawn_stuck_trio(f->fd, f->started);
    } else {
        /* What run 1 left is all here: its waiting tasks, and three ready ones that now run. */
        ck_assert_uint_eq(rt_executor_task_count(ex), 1 + STUCK + 3);
        ck_assert_int_ge(*f->started, STUCK); /* their queues may have had a turn already */
    }
    while (*f->started < (f->second ? STUCK + 3 : STUCK)) {
        rt_yield_now(&f->yield); /* ends main's slice: the other queues get their turns */
        AWAIT(&f->yield.future, NULL);
    }
    for (f->i = 1; f->i <= 3; f->i++) {
        ck_assert_int_eq(rt_task_queue_stats(ex, f->i, &f->st), 0);
        ck_assert_uint_ge(f->st.tasks_run, f->second ? 4 : 3);
        ck_assert_int_eq(rt_task_queue_remove(ex, f->i), -EBUSY);
    }
    /* Three more, spawned last: they are still queued, never polled, when run() returns. */
    spawn_stuck_trio(f->fd, f->started);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable leave_behind_vtable = {leave_behind_poll, rt_async_drop};

START_TEST(destroy_frees_queues_with_tasks_in_every_state)
{
    struct rt_executor *ex = test_executor();
    int fds[2], started = 0;
    struct leave_behind f = {.async = RT_ASYNC_INIT(&leave_behind_vtable), .started = &started};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    f.fd = fds[0];
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert_uint_eq(rt_executor_task_count(ex), STUCK + 3);
    f.second = true;
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert_uint_eq(rt_executor_task_count(ex), STUCK + 3 + 3);
    ck_assert_int_eq(started, STUCK + 3);
    /* Cancels every task, takes the sleeps out of the heap, the recvs out of the kernel. */
    rt_executor_destroy(ex);
    close(fds[0]);
    close(fds[1]);
}
END_TEST
Suite *suite_task_queue(void)
{
    Suite *s = suite_create("task_queue");
    TCase *tc = test_case("task_queue");

    tcase_add_test(tc, create_refuses_bad_arguments);
    tcase_add_test(tc, remove_refuses_unknown_removed_and_default_queues);
    tcase_add_test(tc, remove_refuses_a_queue_with_tasks);
    tcase_add_test(tc, spawn_into_an_unknown_queue_leaves_the_future_to_the_caller);
    tcase_add_test(tc, spawn_inherits_the_spawning_tasks_queue);
    tcase_add_test(tc, destroy_frees_queues_with_tasks_in_every_state);
    suite_add_tcase(s, tc);
    return s;
}
