/*
 * tests/test_queue.c - the run queue is first in, first out: tasks run in
 * the order they were spawned, and a task woken again goes to the back.
 */
#include "harness.h"

#include "run_queue.h"

TEST_SINCE_PHASE(1);

#define N 10

/* Every poll appends the task's id to this log. */
static int order[4 * N];
static int logged;

/* Logs its id at each poll, pending `pending` times (waking itself) before it is ready. */
struct logger {
    struct rt_future future;
    int id;
    int pending;
};

static enum rt_poll logger_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct logger *f = (struct logger *)self;

    order[logged++] = f->id;
    if (f->pending-- > 0) {
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    *out = f->id;
    return RT_READY;
}

static const struct rt_future_vtable logger_vtable = {.poll = logger_poll};

struct spawn_in_order {
    struct rt_async async;
    struct rt_join_handle jobs[N];
    int i;
};

static enum rt_poll spawn_in_order_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct spawn_in_order *f = (struct spawn_in_order *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < N; f->i++) {
        struct logger child = {{&logger_vtable}, f->i, 2};
        f->jobs[f->i] = rt_spawn(&child.future, sizeof(child));
    }
    for (f->i = 0; f->i < N; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable spawn_in_order_vtable = {spawn_in_order_poll, rt_async_drop};

START_TEST(tasks_run_in_fifo_order)
{
    struct spawn_in_order f = {.async = RT_ASYNC_INIT(&spawn_in_order_vtable)};
    int round, i;

    test_run(&f.async.future, sizeof(f));
    /* Each task was polled three times; every round ran all ten in spawn order. */
    ck_assert_int_eq(logged, 3 * N);
    for (round = 0; round < 3; round++)
        for (i = 0; i < N; i++)
            ck_assert_int_eq(order[round * N + i], i);
}
END_TEST

/* The queue itself, with tasks that are only headers: push order is pop order. */
START_TEST(queue_pops_in_push_order)
{
    struct rt_task tasks[N];
    struct run_queue q;
    int i;

    run_queue_init(&q);
    ck_assert(run_queue_empty(&q));
    ck_assert_ptr_null(run_queue_pop(&q));
    for (i = 0; i < N; i++)
        run_queue_push(&q, &tasks[i]);
    ck_assert_uint_eq(q.len, N);
    for (i = 0; i < N; i++)
        ck_assert_ptr_eq(run_queue_pop(&q), &tasks[i]);
    ck_assert(run_queue_empty(&q));
    ck_assert_ptr_null(run_queue_pop(&q));
}
END_TEST

Suite *suite_queue(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = test_case("queue");

    tcase_add_test(tc, tasks_run_in_fifo_order);
    tcase_add_test(tc, queue_pops_in_push_order);
    suite_add_tcase(s, tc);
    return s;
}
