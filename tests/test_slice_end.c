/*
 * tests/test_slice_end.c - when a slice ends: the preemption timer is moved
 * earlier for what must not wait, and never makes a slice that is over run on.
 *
 * Cases: a sleep that a task starts in the middle of a slice, while other
 * tasks of its queue are ready, ends the slice at its deadline (not at the
 * slice's end, a whole slice later), and the sleeper then runs before the
 * task that yielded when that slice ended; and a latency-sensitive queue that gets
 * work after the running slice is already over does not make
 * rt_need_preempt() say "no" again. And a slice's timer that expires while
 * the executor is parked, in DEFER mode, does not wake it.
 *
 * The slices here are far longer than anything the tests wait for (10 s,
 * or a 1 s latency), so that the order of events, not the speed of the
 * machine, decides the outcome; a task gives up spinning after GIVE_UP_NS,
 * a fifth of the long slice, so a failure is a failed assertion, not a hang.
 * The parked case counts the thread's trips to sleep, not time: its 1 ms
 * slices end inside 5 ms naps, and a machine too slow for that makes the
 * case pass without having happened, never fail. And the timer costs a
 * system call only when it must: armed once, moved only earlier.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD is a GNU extension */
#include "harness.h"

#include <stdatomic.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "preempt.h" /* the slice timer itself, for the arming case */
#include "timers.h"  /* the executor's heap: is the sleep still pending? */

TEST_SINCE_PHASE(3);

#define GIVE_UP_NS (2 * NSEC_PER_SEC)

/* Spin until rt_need_preempt() says the slice is over, or GIVE_UP_NS pass. Returns its answer. */
static bool spin_until_preempted(void)
{
    uint64_t start = now_ns();

    while (!rt_need_preempt() && now_ns() - start < GIVE_UP_NS)
        continue;
    return rt_need_preempt();
}

/* ------------------------------------- a deadline set during a slice ends it */

/*
 * Spins until preempted, notes whether it was, yields as a task that
 * computes would (rt_yield_if_needed), and notes whether the sleeper ran
 * before it came back; then yields until told to stop. It also notes whether
 * the sleep's deadline was still ahead when it began to spin: on a slow
 * machine (ThreadSanitizer, a loaded CPU) the deadline can pass before the
 * spinner runs, and then the case under test did not happen at all.
 */
struct spinner {
    struct rt_async async;
    bool *preempted;     /* the test's: did the slice end before GIVE_UP_NS? */
    bool *sleep_pending; /* the test's: was the sleep still in the heap when it began? */
    bool *sleeper_first; /* the test's: had the sleeper run when the yield came back? */
    atomic_bool *stop;   /* set by the sleeper once its sleep is over */
    struct rt_yield yield;
};

static enum rt_poll spinner_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spinner *f = (struct spinner *)self;

    ASYNC_BEGIN(f, cx, out);
    *f->sleep_pending = rt__executor_timers(rt_executor_current())->len == 1 && !rt_need_preempt();
    *f->preempted = spin_until_preempted();
    /* The slice ended at the sleep's deadline: the woken sleeper goes before us. */
    rt_yield_if_needed(&f->yield);
    AWAIT(&f->yield.future, NULL);
    *f->sleeper_first = atomic_load(f->stop);
    while (!atomic_load(f->stop)) {
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable spinner_vtable = {spinner_poll, rt_async_drop};

/* Spawn a spinner into our own queue, then sleep `ns` in the same slice. */
struct sleep_mid_slice {
    struct rt_async async;
    uint64_t ns;
    bool *preempted, *sleep_pending, *sleeper_first; /* the test's */
    atomic_bool stop;
    struct rt_join_handle spinner;
    struct rt_sleep sleep;
};

static enum rt_poll sleep_mid_slice_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct sleep_mid_slice *f = (struct sleep_mid_slice *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct spinner s = {.async = RT_ASYNC_INIT(&spinner_vtable),
                            .preempted = f->preempted,
                            .sleep_pending = f->sleep_pending,
                            .sleeper_first = f->sleeper_first,
                            .stop = &f->stop};
        f->spinner = rt_spawn(&s.async.future, sizeof(s));
    }
    /* The slice goes on with the spinner, which runs next: only this deadline can end it early. */
    rt_sleep(&f->sleep, f->ns);
    AWAIT(&f->sleep.future, NULL);
    atomic_store(&f->stop, true);
    AWAIT(&f->spinner.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleep_mid_slice_vtable = {sleep_mid_slice_poll, rt_async_drop};

START_TEST(a_sleep_started_mid_slice_ends_the_slice_at_its_deadline)
{
    struct rt_builder b = RT_BUILDER_INIT;
    bool preempted = false, sleep_pending = false, sleeper_first = false;

    b.preempt_slice_ns = RT_SLICE_MAX_NS; /* 10 s: the slice's own end is far away */
    /*
     * A 10 ms sleep first; if the machine was too slow for the spinner to
     * start before it was due (the case did not happen: see struct spinner),
     * again with a sleep twice as long, up to 160 ms.
     */
    for (uint64_t ns = 10 * NSEC_PER_MSEC; ns <= 160 * NSEC_PER_MSEC && !sleep_pending; ns *= 2) {
        struct rt_executor *ex = test_executor_with(&b);
        struct sleep_mid_slice f = {.async = RT_ASYNC_INIT(&sleep_mid_slice_vtable),
                                    .ns = ns,
                                    .preempted = &preempted,
                                    .sleep_pending = &sleep_pending,
                                    .sleeper_first = &sleeper_first};

        atomic_init(&f.stop, false);
        ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
        rt_executor_destroy(ex);
    }
    ck_assert_msg(sleep_pending, "the spinner never started before the sleep's deadline");
    ck_assert_msg(preempted, "the spinner's slice did not end at the sleep's deadline");
    /*
     * Queued again at once, the spinner would be ahead of the sleeper that
     * the slice's end woke; a task that then computes until its slice is
     * over would keep the sleeper waiting a whole slice more.
     */
    ck_assert_msg(sleeper_first, "the spinner ran again before the sleeper its slice's end woke");
}
END_TEST

/* -------------------------------------------- a slice that is over stays over */

/* What the test learns: was the slice over before the latency queue got work, and after? */
struct over_result {
    bool before, after;
};

/* Yield until the waiter in the latency queue has put its waker in the slot; then see above. */
struct over_stays_over {
    struct rt_async async;
    struct rt_waker slot;  /* the waiter's waker */
    struct test_wait wait; /* copied into the waiter task */
    struct rt_join_handle waiter;
    struct rt_yield yield;
    struct over_result *res; /* the test's */
    int queue;
    intptr_t value;
};

static enum rt_poll over_stays_over_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct over_stays_over *f = (struct over_stays_over *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Latency 1 s: the latency queue, when it gets work, wants the slice over within 1 s. */
    f->queue = rt_task_queue_create(rt_executor_current(), "latency", 100, NSEC_PER_SEC);
    ck_assert_int_gt(f->queue, 0);
    f->wait = test_wait(&f->slot, 7);
    ck_assert_int_eq(rt_spawn_into(f->queue, &f->wait.future, sizeof(f->wait), &f->waiter), 0);
    while (rt_waker_is_empty(&f->slot)) {
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    /* Our slice (1 ms) runs out; then the latency queue gets work. */
    f->res->before = spin_until_preempted();
    rt_waker_wake(&f->slot);
    /* The slice was over before: the new, later latency deadline must not reopen it. */
    f->res->after = rt_need_preempt();
    AWAIT(&f->waiter.future, &f->value);
    ck_assert_int_eq(f->value, 7);
    ck_assert_int_eq(rt_task_queue_remove(rt_executor_current(), f->queue), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable over_stays_over_vtable = {over_stays_over_poll, rt_async_drop};

START_TEST(a_latency_queue_waking_does_not_reopen_a_slice_that_is_over)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    struct over_result res = {false, false};
    struct over_stays_over f = {.async = RT_ASYNC_INIT(&over_stays_over_vtable), .res = &res};

    b.preempt_slice_ns = NSEC_PER_MSEC;
    ex = test_executor_with(&b);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    ck_assert_msg(res.before, "a 1 ms slice did not end within GIVE_UP_NS");
    ck_assert_msg(res.after, "waking a latency queue made a slice that was over run on");
}
END_TEST

/* ------------------------------- a parked executor sleeps through its slice's end */

/*
 * SLEEPS sleeps of NAP_NS each, under a slice of a fifth of that: each sleep
 * parks the executor, and its slice's timer expires in the middle of the
 * park. The thread's voluntary context switches (getrusage, RUSAGE_THREAD)
 * count its sleeps in the kernel: one per park, if the timer leaves the
 * parked thread alone, as the DEFER ring it is put on does; two per park on
 * a plain ring, which wakes the thread to write the timer's CQE. A few are
 * allowed for anything else that blocks the thread. A machine so slow that
 * the slice ends before the park begins makes the case not happen, and the
 * test pass.
 */
#define SLEEPS 20
#define NAP_NS (5 * NSEC_PER_MSEC)

struct napper {
    struct rt_async async;
    long *switches; /* the test's */
    int i;
    struct rt_sleep nap;
};

static long voluntary_switches(void)
{
    struct rusage u;

    ck_assert_int_eq(getrusage(RUSAGE_THREAD, &u), 0);
    return u.ru_nvcsw;
}

static enum rt_poll napper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct napper *f = (struct napper *)self;

    ASYNC_BEGIN(f, cx, out);
    *f->switches = voluntary_switches();
    for (f->i = 0; f->i < SLEEPS; f->i++) {
        rt_sleep(&f->nap, NAP_NS);
        AWAIT(&f->nap.future, NULL);
    }
    *f->switches = voluntary_switches() - *f->switches;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable napper_vtable = {napper_poll, rt_async_drop};

START_TEST(a_slice_timer_does_not_wake_a_parked_executor)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    long switches = 0;
    struct napper f = {.async = RT_ASYNC_INIT(&napper_vtable), .switches = &switches};

    b.ring_mode = RT_RING_DEFER;
    b.preempt_slice_ns = NAP_NS / 5;
    ex = test_executor_with(&b); /* skips if this kernel lacks DEFER */
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    ck_assert_msg(switches >= SLEEPS, "%ld voluntary context switches for %d sleeps: each parks",
                  switches, SLEEPS);
    ck_assert_msg(switches <= SLEEPS + SLEEPS / 4,
                  "%ld voluntary context switches for %d sleeps: the slice's timer woke the "
                  "parked executor",
                  switches, SLEEPS);
}
END_TEST

/* ------------------------------------------- the timer costs a call only when it must */

/*
 * rt__preempt_arm() runs at every slice's start, and a system call each time
 * would cost more than many slices' work. With the timer armed, a deadline
 * that is the same or later costs nothing (the timer fires in time anyway);
 * an earlier one moves it, where the kernel can (can_update); and once it has
 * fired, the next deadline arms it again. `arms` counts the system calls.
 * The deadlines are a minute ahead, so none fires while the test looks,
 * except the one it puts in the past on purpose.
 */
START_TEST(the_slice_timer_is_armed_only_when_it_must_be)
{
    uint64_t now = now_ns(), later = now + 60 * NSEC_PER_SEC;
    struct preempt p;
    char why[256];

    rt_executor_destroy(test_executor()); /* skipped where there is no io_uring at all */
    ck_assert_msg(rt__preempt_init(&p, false, why, sizeof(why)) == 0, "%s", why);
    rt__preempt_arm(&p, later);
    ck_assert(p.armed);
    ck_assert_uint_eq(p.arms, 1);
    for (uint64_t i = 0; i < 100; i++)
        rt__preempt_arm(&p, later + i % 2 * NSEC_PER_SEC); /* the same deadline, or later */
    ck_assert_uint_eq(p.arms, 1);
    rt__preempt_arm(&p, later - NSEC_PER_SEC);
    ck_assert_uint_eq(p.arms, p.can_update ? 2 : 1);
    ck_assert(!rt__preempt_fired(&p));
    if (p.can_update) {
        uint64_t start = now_ns();

        /* Moved into the past, it fires at once; consumed, it is no longer armed. */
        rt__preempt_arm(&p, now);
        ck_assert_uint_eq(p.arms, 3);
        while (!rt__preempt_fired(&p) && now_ns() - start < GIVE_UP_NS)
            continue;
        ck_assert(rt__preempt_fired(&p));
        rt__preempt_consume(&p);
        ck_assert(!p.armed);
        rt__preempt_arm(&p, later);
        ck_assert(p.armed);
        ck_assert_uint_eq(p.arms, 4);
    }
    rt__preempt_destroy(&p);
}
END_TEST

Suite *suite_slice_end(void)
{
    Suite *s = suite_create("slice_end");
    TCase *tc = test_case("slice_end");

    tcase_add_test(tc, a_sleep_started_mid_slice_ends_the_slice_at_its_deadline);
    tcase_add_test(tc, a_latency_queue_waking_does_not_reopen_a_slice_that_is_over);
    tcase_add_test(tc, a_slice_timer_does_not_wake_a_parked_executor);
    tcase_add_test(tc, the_slice_timer_is_armed_only_when_it_must_be);
    suite_add_tcase(s, tc);
    return s;
}
