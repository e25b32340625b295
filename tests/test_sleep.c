/*
 * tests/test_sleep.c - rt_sleep and the executor's heap of deadlines.
 *
 * Cases: 100,000 sleeps, half of them cancelled before their deadline, fire
 * in deadline order, each no earlier than its deadline, and the cancelled
 * ones never; the heap itself, given 100,000 deadlines with many ties and
 * half of them removed from anywhere in it, hands them out in deadline
 * order and, for equal deadlines, in the order they were added; a sleep
 * fires while a CPU-bound task in the same queue keeps the executor busy,
 * at most one slice late; a timeout that does not fire costs no system
 * call; and durations over RT_DURATION_MAX ((uint64_t)-1 included) give
 * -EINVAL, for rt_sleep and rt_timeout alike, leaving nothing behind.
 *
 * The order of firing is recorded by the wakers themselves: the 100,000
 * sleeps belong to one future that polls each with a context of its own,
 * whose waker writes the sleep's number in a log when the executor fires
 * it. So the log is the heap's order, not the order in which tasks
 * happened to run afterwards.
 */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* system calls made, to see that cancelling a deadline makes none */
#include "timers.h"  /* the executor's heap */

TEST_SINCE_PHASE(3);

#define AN_HOUR (3600 * NSEC_PER_SEC)

static struct timer_heap *heap_now(void)
{
    return rt__executor_timers(rt_executor_current());
}

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* A small deterministic generator, so that a failure can be replayed. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Shuffle ids[0..n) (Fisher-Yates). */
static void shuffle(int *ids, int n, uint32_t *state)
{
    int i;

    for (i = n - 1; i > 0; i--) {
        int j = (int)(next_random(state) % (uint32_t)(i + 1));
        int tmp = ids[i];

        ids[i] = ids[j];
        ids[j] = tmp;
    }
}

/* ------------------------------------------------- a waker that writes a log */

#define TIMERS    100000
#define CANCELLED 50000

static const struct rt_waker_vtable record_waker_vtable;

/* One deadline's record: its number, and whether it was cancelled or fired. */
struct record {
    struct firing_log *log;
    int id;
    bool cancelled;
    bool fired;
    uint64_t fired_at; /* now_ns() when its waker was woken */
};

/* The order in which the wakers were woken, and who to tell. */
struct firing_log {
    int *ids;
    int len;
    struct rt_waker owner; /* the waiting task: woken after every entry */
};

static void record_fired(void *data)
{
    struct record *r = data;

    ck_assert_msg(!r->cancelled, "cancelled deadline %d fired", r->id);
    ck_assert_msg(!r->fired, "deadline %d fired twice", r->id);
    r->fired = true;
    r->fired_at = now_ns();
    r->log->ids[r->log->len++] = r->id;
    rt_waker_wake_by_ref(&r->log->owner);
}

static struct rt_waker record_clone(void *data)
{
    return (struct rt_waker){.data = data, .vtable = &record_waker_vtable};
}

static void record_drop(void *data)
{
    (void)data;
}

/* The records belong to the test, so these wakers hold no reference to anything. */
static const struct rt_waker_vtable record_waker_vtable = {
    .clone = record_clone,
    .wake = record_fired,
    .wake_by_ref = record_fired,
    .drop = record_drop,
};

/* ----------------------------------- 100,000 sleeps, half cancelled, in deadline order */

struct many_sleeps {
    struct rt_future future;
    bool started;
    struct rt_sleep *sleeps; /* TIMERS of them, malloc'd: the test's memory */
    struct record *records;
    struct firing_log log;
};

/* The first poll: start every sleep, then cancel half of them, in a random order. */
static void start_and_cancel(struct many_sleeps *f, struct rt_context *cx)
{
    uint32_t seed = 1;
    int *ids = malloc(TIMERS * sizeof(*ids));
    intptr_t res;
    int i;

    ck_assert_ptr_nonnull(ids);
    for (i = 0; i < TIMERS; i++) {
        const struct rt_waker w = {.data = &f->records[i], .vtable = &record_waker_vtable};
        struct rt_context own = {.waker = &w};

        f->records[i] = (struct record){.log = &f->log, .id = i};
        /* 0 to 15.75 ms in steps of 250 us: many sleeps share a length. */
        rt_sleep(&f->sleeps[i], (next_random(&seed) % 64) * 250 * NSEC_PER_USEC);
        ck_assert_int_eq(rt_future_poll(&f->sleeps[i].future, &own, &res), RT_PENDING);
        ids[i] = i;
    }
    ck_assert_uint_eq(heap_now()->len, TIMERS);
    /* Cancelled in the same poll: none of them can have fired yet, whatever their deadline. */
    shuffle(ids, TIMERS, &seed);
    for (i = 0; i < CANCELLED; i++) {
        f->records[ids[i]].cancelled = true;
        rt_future_drop(&f->sleeps[ids[i]].future);
    }
    ck_assert_uint_eq(heap_now()->len, TIMERS - CANCELLED);
    free(ids);
    rt_waker_register(&f->log.owner, cx);
}

/* Every sleep that was not cancelled fired once, in (deadline, start order) order. */
static void check_firing_order(struct many_sleeps *f)
{
    int i;

    ck_assert_int_eq(f->log.len, TIMERS - CANCELLED);
    for (i = 0; i < f->log.len; i++) {
        int id = f->log.ids[i];
        uint64_t deadline = f->sleeps[id].timer.deadline;

        ck_assert(f->records[id].fired && !f->records[id].cancelled);
        ck_assert_msg(f->records[id].fired_at >= deadline, "deadline %d fired early", id);
        if (i > 0) {
            int prev = f->log.ids[i - 1];
            uint64_t prev_deadline = f->sleeps[prev].timer.deadline;

            /* Started in id order, so equal deadlines must fire in id order. */
            ck_assert_msg(prev_deadline < deadline || (prev_deadline == deadline && prev < id),
                          "deadline %d (at %llu) fired after %d (at %llu)", id,
                          (unsigned long long)deadline, prev, (unsigned long long)prev_deadline);
        }
    }
}

static enum rt_poll many_sleeps_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_sleeps *f = (struct many_sleeps *)self;
    intptr_t res;
    int i;

    if (!f->started) {
        f->started = true;
        start_and_cancel(f, cx);
        return RT_PENDING;
    }
    if (f->log.len < TIMERS - CANCELLED)
        return RT_PENDING; /* the heap fires some at a time; wait for the rest */
    check_firing_order(f);
    for (i = 0; i < TIMERS; i++) {
        if (f->records[i].cancelled)
            continue;
        /* A fired sleep, polled again, is done: its output is 0. */
        ck_assert_int_eq(rt_future_poll(&f->sleeps[i].future, cx, &res), RT_READY);
        ck_assert_int_eq(res, 0);
        rt_future_drop(&f->sleeps[i].future);
    }
    ck_assert_uint_eq(heap_now()->len, 0);
    rt_waker_drop(&f->log.owner);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable many_sleeps_vtable = {.poll = many_sleeps_poll};

START_TEST(sleeps_fire_in_deadline_order_with_half_cancelled)
{
    struct many_sleeps f = {.future = {&many_sleeps_vtable}};

    f.sleeps = malloc(TIMERS * sizeof(*f.sleeps));
    f.records = malloc(TIMERS * sizeof(*f.records));
    f.log.ids = malloc(TIMERS * sizeof(*f.log.ids));
    ck_assert(f.sleeps && f.records && f.log.ids);
    /* The future is copied into the task, but what it points at stays the test's. */
    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 0);
    free(f.sleeps);
    free(f.records);
    free(f.log.ids);
}
END_TEST

/* -------------------------------------------- the heap: ties, removals, firing */

START_TEST(heap_fires_in_deadline_then_insertion_order)
{
    struct timer_heap heap;
    struct rt_timer *timers = calloc(TIMERS, sizeof(*timers));
    struct record *records = calloc(TIMERS, sizeof(*records));
    int *ids = malloc(TIMERS * sizeof(*ids));
    struct firing_log log = {.ids = malloc(TIMERS * sizeof(*log.ids))};
    uint64_t now = 0;
    uint32_t seed = 7;
    int i;

    ck_assert(timers && records && ids && log.ids);
    rt__timers_init(&heap);
    for (i = 0; i < TIMERS; i++) {
        /* 1,000 distinct deadlines for 100,000 entries: about a hundred share each. */
        timers[i].deadline = next_random(&seed) % 1000;
        timers[i].index = RT_TIMER_NOT_IN_HEAP;
        timers[i].waker = (struct rt_waker){.data = &records[i], .vtable = &record_waker_vtable};
        records[i] = (struct record){.log = &log, .id = i};
        rt__timers_add(&heap, &timers[i]);
        ids[i] = i;
    }
    shuffle(ids, TIMERS, &seed);
    for (i = 0; i < CANCELLED; i++) {
        records[ids[i]].cancelled = true;
        rt__timers_remove(&heap, &timers[ids[i]]);
        ck_assert_uint_eq(timers[ids[i]].index, RT_TIMER_NOT_IN_HEAP);
        rt__timers_remove(&heap, &timers[ids[i]]); /* a second time: nothing happens */
    }
    ck_assert_uint_eq(heap.len, TIMERS - CANCELLED);

    /* Time moves on in uneven steps; each step fires exactly what is due. */
    while (heap.len > 0) {
        uint64_t due = rt__timers_next(&heap);
        int before = log.len;
        size_t fired;

        ck_assert_uint_ge(due, now); /* nothing overdue was left behind */
        now += next_random(&seed) % 20;
        fired = rt__timers_fire(&heap, now);
        ck_assert_uint_eq(fired, (size_t)(log.len - before));
        ck_assert(heap.len == 0 || rt__timers_next(&heap) > now);
        for (i = before; i < log.len; i++)
            ck_assert_uint_le(timers[log.ids[i]].deadline, now);
    }
    ck_assert_uint_eq(rt__timers_next(&heap), UINT64_MAX);

    ck_assert_int_eq(log.len, TIMERS - CANCELLED);
    for (i = 1; i < log.len; i++) {
        const struct rt_timer *a = &timers[log.ids[i - 1]], *b = &timers[log.ids[i]];

        ck_assert_msg(a->deadline < b->deadline ||
                          (a->deadline == b->deadline && log.ids[i - 1] < log.ids[i]),
                      "entry %d (deadline %llu) fired after entry %d (deadline %llu)", log.ids[i],
                      (unsigned long long)b->deadline, log.ids[i - 1],
                      (unsigned long long)a->deadline);
    }
    rt__timers_destroy(&heap);
    free(timers);
    free(records);
    free(ids);
    free(log.ids);
}
END_TEST

/* ------------------------------------- a sleep fires while the thread is busy */

#define SLICE_NS (2 * NSEC_PER_MSEC)

struct busy {
    bool stop;                    /* the sleeper is done: the hog stops */
    const struct rt_sleep *sleep; /* the sleeper's sleep, to tell when its timer has fired */
    int past_deadline; /* slices the hog resumed past the deadline, the timer not fired */
    int past_fire;     /* slices it resumed after the timer fired */
};

/* CPU-bound, yielding only when the slice is over. */
struct hog {
    struct rt_async async;
    struct busy *busy;
    struct rt_yield yield;
};

static enum rt_poll hog_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct hog *f = (struct hog *)self;
    const struct rt_sleep *sleep = f->busy->sleep;

    ASYNC_BEGIN(f, cx, out);
    while (!f->busy->stop) {
        rt_yield_if_needed(&f->yield);
        AWAIT(&f->yield.future, NULL);
        if (!f->yield.yielded || !sleep->started)
            continue;
        /* A new slice. Fired: the executor took the timer out of its heap (timer.c). */
        if (sleep->timer.index == RT_TIMER_NOT_IN_HEAP)
            f->busy->past_fire++;
        else if (now_ns() >= sleep->timer.deadline)
            f->busy->past_deadline++;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable hog_vtable = {hog_poll, rt_async_drop};

struct sleep_beside_hog {
    struct rt_async async;
    struct busy *busy;
    struct rt_join_handle hog;
    struct rt_sleep sleep;
    intptr_t res;
};

/*
 * Counted by the hog, so that no clock decides: a slice the executor began
 * just before the deadline may reach the hog just after it if the machine
 * took the CPU away in between; that slice ends at the deadline, and the
 * timer fires before the next one begins. The hog was back in our queue
 * before we were woken, so it has one more slice before we run: past the
 * deadline, one slice at most before the timer fires and one at most after.
 */
static enum rt_poll sleep_beside_hog_poll(struct rt_future *self, struct rt_context *cx,
                                          intptr_t *out)
{
    struct sleep_beside_hog *f = (struct sleep_beside_hog *)self;

    ASYNC_BEGIN(f, cx, out);
    f->busy->sleep = &f->sleep;
    rt_sleep(&f->sleep, 5 * NSEC_PER_MSEC);
    {
        struct hog h = {.async = RT_ASYNC_INIT(&hog_vtable), .busy = f->busy};
        f->hog = rt_spawn(&h.async.future, sizeof(h));
    }
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    ck_assert_int_le(f->busy->past_deadline, 1);
    ck_assert_int_le(f->busy->past_fire, 1);
    f->busy->stop = true;
    AWAIT(&f->hog.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleep_beside_hog_vtable = {sleep_beside_hog_poll,
                                                                rt_async_drop};

START_TEST(sleep_fires_while_a_hog_runs)
{
    static struct busy busy;
    struct rt_builder b = RT_BUILDER_INIT;
    struct sleep_beside_hog f = {.async = RT_ASYNC_INIT(&sleep_beside_hog_vtable), .busy = &busy};
    struct rt_executor *ex;

    b.preempt_slice_ns = SLICE_NS;
    ex = test_executor_with(&b);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ----------------------------------------- a timeout that does not fire is free */

struct free_timeout {
    struct rt_async async;
    struct test_yield inner;
    struct rt_timeout timeout;
    unsigned long submit_calls, parks;
    intptr_t res;
};

static enum rt_poll free_timeout_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct free_timeout *f = (struct free_timeout *)self;

    ASYNC_BEGIN(f, cx, out);
    f->submit_calls = reactor_now()->stats.submit_calls;
    f->parks = reactor_now()->parks;
    /* Pending once, so the deadline goes into the heap; then ready, which cancels it. */
    f->inner = test_yield(1, 7, NULL);
    rt_timeout(&f->timeout, &f->inner.future, AN_HOUR);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, 7);
    ck_assert_uint_eq(heap_now()->len, 0);
    ck_assert_uint_eq(reactor_now()->stats.submit_calls, f->submit_calls);
    ck_assert_uint_eq(reactor_now()->parks, f->parks);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable free_timeout_vtable = {free_timeout_poll, rt_async_drop};

START_TEST(a_timeout_that_does_not_fire_makes_no_system_call)
{
    struct free_timeout f = {.async = RT_ASYNC_INIT(&free_timeout_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* ------------------------------------------------------------ absurd durations */

struct absurd {
    struct rt_async async;
    int fds[2];
    struct rt_sleep sleep;
    struct rt_io io;
    struct test_value value;
    struct test_yield inner;
    struct rt_timeout timeout;
    struct test_yield pause;
    char buf[8];
    unsigned long submit_calls;
    intptr_t res;
};

static enum rt_poll absurd_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct absurd *f = (struct absurd *)self;

    ASYNC_BEGIN(f, cx, out);
    f->submit_calls = reactor_now()->stats.submit_calls;
    rt_sleep(&f->sleep, RT_DURATION_MAX + 1);
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    rt_sleep(&f->sleep, (uint64_t)-1); /* a negative duration, converted */
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    ck_assert_uint_eq(heap_now()->len, 0);
    ck_assert_uint_eq(reactor_now()->stats.submit_calls, f->submit_calls);

    /* A timeout: whatever the inner future does, the duration is refused. */
    f->value = test_value(42);
    rt_timeout(&f->timeout, &f->value.future, (uint64_t)-1);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf)); /* nobody sends */
    rt_timeout(&f->timeout, &f->io.future, RT_DURATION_MAX + 1);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    f->pause = test_yield(2, 0, NULL); /* let a cancelled recv's completions come back */
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
    ck_assert_uint_eq(heap_now()->len, 0);

    /* RT_DURATION_MAX itself is a duration like any other. */
    f->inner = test_yield(1, 5, NULL);
    rt_timeout(&f->timeout, &f->inner.future, RT_DURATION_MAX);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, 5);
    ck_assert_uint_eq(heap_now()->len, 0);

    /* And the executor is none the worse: a real sleep still works. */
    rt_sleep(&f->sleep, NSEC_PER_MSEC);
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable absurd_vtable = {absurd_poll, rt_async_drop};

START_TEST(absurd_durations_are_refused)
{
    struct absurd f = {.async = RT_ASYNC_INIT(&absurd_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

Suite *suite_sleep(void)
{
    Suite *s = suite_create("sleep");
    TCase *tc = test_case("sleep");

    tcase_add_test(tc, sleeps_fire_in_deadline_order_with_half_cancelled);
    tcase_add_test(tc, heap_fires_in_deadline_then_insertion_order);
    tcase_add_test(tc, sleep_fires_while_a_hog_runs);
    tcase_add_test(tc, a_timeout_that_does_not_fire_makes_no_system_call);
    tcase_add_test(tc, absurd_durations_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
