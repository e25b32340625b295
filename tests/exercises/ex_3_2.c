/*
 * tests/exercises/ex_3_2.c - exercise 3.2: max_poll_ns, a task queue's longest single poll.
 *
 * The exercise adds a field to struct rt_task_queue_stats (scheduling.h):
 *
 *     uint64_t max_poll_ns; // the longest single poll of one of its tasks
 *
 * and measures every poll in the executor's loop (executor.c). A task that
 * computes for a long time without returning holds up every other task,
 * every completion and every timer of its executor; this statistic names
 * the queue it runs in, as a stall detector would.
 *
 * Cases: a task that computes STALL_NS in one poll makes its queue's
 * max_poll_ns at least STALL_NS, and never more than the queue's runtime;
 * a queue that never ran reports 0.
 *
 * Run: make exercise E=3.2   (this test does not build until the field exists)
 */
#include "harness.h"

#include "common/clock.h"

TEST_SINCE_PHASE(3);

#define STALL_NS (5 * NSEC_PER_MSEC)

/* One poll that computes for STALL_NS without returning: what not to do. */
struct staller {
    struct rt_future future;
};

static enum rt_poll staller_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    uint64_t start = now_ns();

    (void)self;
    (void)cx;
    while (now_ns() - start < STALL_NS)
        continue;
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable staller_vtable = {.poll = staller_poll};

/* Main: make two queues, run the staller in the first, read both queues' statistics. */
struct main_f {
    struct rt_async async;
    struct rt_task_queue_stats *st; /* the test's: [0] the stalled queue, [1] the idle one */
    int stalled, idle;
    struct rt_join_handle h;
};

static enum rt_poll main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct main_f *f = (struct main_f *)self;

    ASYNC_BEGIN(f, cx, out);
    f->stalled = rt_task_queue_create(rt_executor_current(), "stalled", 100, 0);
    f->idle = rt_task_queue_create(rt_executor_current(), "idle", 100, 0);
    ck_assert_int_gt(f->stalled, 0);
    ck_assert_int_gt(f->idle, 0);
    {
        struct staller s = {.future = {&staller_vtable}};
        ck_assert_int_eq(rt_spawn_into(f->stalled, &s.future, sizeof(s), &f->h), 0);
    }
    AWAIT(&f->h.future, NULL);
    ck_assert_int_eq(rt_task_queue_stats(rt_executor_current(), f->stalled, &f->st[0]), 0);
    ck_assert_int_eq(rt_task_queue_stats(rt_executor_current(), f->idle, &f->st[1]), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable main_vtable = {main_poll, rt_async_drop};

START_TEST(a_long_poll_is_reported_in_its_queue)
{
    struct rt_task_queue_stats st[2];
    struct main_f f = {.async = RT_ASYNC_INIT(&main_vtable), .st = st};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    ck_assert_uint_eq(st[0].tasks_run, 1);
    ck_assert_msg(st[0].max_poll_ns >= STALL_NS, "max_poll_ns %llu: the 5 ms poll is missing",
                  (unsigned long long)st[0].max_poll_ns);
    ck_assert_msg(st[0].max_poll_ns <= st[0].runtime_ns, "a poll longer than its queue's runtime");
    ck_assert_uint_eq(st[1].tasks_run, 0);
    ck_assert_uint_eq(st[1].max_poll_ns, 0);
}
END_TEST

Suite *suite_ex_3_2(void)
{
    Suite *s = suite_create("ex_3_2");
    TCase *tc = test_case("ex_3_2");

    tcase_add_test(tc, a_long_poll_is_reported_in_its_queue);
    suite_add_tcase(s, tc);
    return s;
}
