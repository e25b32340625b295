/*
 * tests/exercises/ex_3_1.c - exercise 3.1: rt_sleep_until(), a sleep to an absolute deadline.
 *
 * The exercise adds to phase3-scheduling/timer.h and timer.c:
 *
 *     void rt_sleep_until(struct rt_sleep *s, uint64_t deadline);
 *
 * It prepares the same future as rt_sleep(), but its deadline is the one
 * given (CLOCK_MONOTONIC nanoseconds, as common/clock.h's now_ns() reads
 * it), not "ns from the first poll". The output is 0 once the deadline has
 * passed, at once for a deadline already past, and -EINVAL, without
 * sleeping, for a deadline more than RT_DURATION_MAX after the first poll.
 * While it waits, its entry in the executor's heap carries exactly that
 * deadline (s->timer.deadline), so a periodic task that sleeps until
 * start + k * period never drifts, however late each wake-up is.
 *
 * Cases: five ticks of a periodic loop, each deadline exactly start + k ms
 * and each wake-up not before it; a deadline in the past; absurd deadlines;
 * a sleep dropped while it waits leaves the heap empty.
 *
 * Run: make exercise E=3.1   (this test does not build until rt_sleep_until exists)
 */
#include "harness.h"

#include <errno.h>

#include "common/clock.h"
#include "timers.h" /* the executor's heap: what a waiting sleep put in it */

TEST_SINCE_PHASE(3);

#define TICKS     5
#define PERIOD_NS (1 * NSEC_PER_MSEC)

static size_t heap_len(void)
{
    return rt__executor_timers(rt_executor_current())->len;
}

/* A periodic loop: sleep until start + k * PERIOD_NS, for k = 1..TICKS. */
struct ticker {
    struct rt_async async;
    uint64_t start;
    int k;
    struct rt_sleep sleep;
    intptr_t res;
};

static enum rt_poll ticker_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct ticker *f = (struct ticker *)self;

    ASYNC_BEGIN(f, cx, out);
    f->start = now_ns();
    for (f->k = 1; f->k <= TICKS; f->k++) {
        rt_sleep_until(&f->sleep, f->start + (uint64_t)f->k * PERIOD_NS);
        /* Poll it once by hand: its entry in the heap must carry the very deadline given. */
        ck_assert_int_eq(rt_future_poll(&f->sleep.future, cx, &f->res), RT_PENDING);
        ck_assert_uint_eq(f->sleep.timer.deadline, f->start + (uint64_t)f->k * PERIOD_NS);
        ck_assert_uint_eq(heap_len(), 1);
        AWAIT(&f->sleep.future, &f->res);
        ck_assert_int_eq(f->res, 0);
        ck_assert_msg(now_ns() >= f->start + (uint64_t)f->k * PERIOD_NS,
                      "tick %d woke before its deadline", f->k);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable ticker_vtable = {ticker_poll, rt_async_drop};

START_TEST(periodic_deadlines_do_not_drift)
{
    struct ticker f = {.async = RT_ASYNC_INIT(&ticker_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* Await one rt_sleep_until(deadline); output its result. */
struct until_once {
    struct rt_async async;
    uint64_t deadline;
    struct rt_sleep sleep;
    intptr_t res;
};

static enum rt_poll until_once_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct until_once *f = (struct until_once *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_sleep_until(&f->sleep, f->deadline);
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_uint_eq(heap_len(), 0);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable until_once_vtable = {until_once_poll, rt_async_drop};

static intptr_t sleep_until_once(uint64_t deadline)
{
    struct until_once f = {.async = RT_ASYNC_INIT(&until_once_vtable), .deadline = deadline};

    return test_run(&f.async.future, sizeof(f));
}

START_TEST(a_deadline_in_the_past_is_ready_at_once)
{
    uint64_t now = now_ns();

    ck_assert_int_eq(sleep_until_once(now - NSEC_PER_MSEC), 0);
    ck_assert_int_eq(sleep_until_once(0), 0);
}
END_TEST

START_TEST(absurd_deadlines_are_refused)
{
    uint64_t now = now_ns();

    ck_assert_int_eq(sleep_until_once(now + RT_DURATION_MAX + NSEC_PER_SEC), -EINVAL);
    ck_assert_int_eq(sleep_until_once(UINT64_MAX), -EINVAL);
}
END_TEST

/* Start a sleep until an hour from now, then drop it while it waits. */
struct dropper {
    struct rt_async async;
    struct rt_sleep sleep;
    intptr_t res;
};

static enum rt_poll dropper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct dropper *f = (struct dropper *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_sleep_until(&f->sleep, now_ns() + 3600 * NSEC_PER_SEC);
    ck_assert_int_eq(rt_future_poll(&f->sleep.future, cx, &f->res), RT_PENDING);
    ck_assert_uint_eq(heap_len(), 1);
    rt_future_drop(&f->sleep.future); /* cancelled: out of the heap, no system call */
    ck_assert_uint_eq(heap_len(), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable dropper_vtable = {dropper_poll, rt_async_drop};

START_TEST(a_dropped_sleep_leaves_the_heap)
{
    struct dropper f = {.async = RT_ASYNC_INIT(&dropper_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_ex_3_1(void)
{
    Suite *s = suite_create("ex_3_1");
    TCase *tc = test_case("ex_3_1");

    tcase_add_test(tc, periodic_deadlines_do_not_drift);
    tcase_add_test(tc, a_deadline_in_the_past_is_ready_at_once);
    tcase_add_test(tc, absurd_deadlines_are_refused);
    tcase_add_test(tc, a_dropped_sleep_leaves_the_heap);
    suite_add_tcase(s, tc);
    return s;
}
