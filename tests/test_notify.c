/*
 * tests/test_notify.c - rt_executor_notify() and rt_wait_notify(): the
 * doorbell other threads ring, and the future that waits for it.
 *
 * Cases: a notification racing the park, 100,000 times, is never lost
 * (another thread and a task play ping-pong through two atomics, so every
 * round needs its own wake-up, and the executor parks between most of
 * them), once where the executor sleeps on its futex (nothing else can
 * wake it) and once where it sleeps in the ring (a deadline is set); one
 * notification wakes every waiter, each looks at its own condition and
 * waits again if it is still false; a waiter whose condition already holds
 * is ready at once; and a waiting task that is cancelled leaves the
 * executor's list of waiters, so the next notification does not touch its
 * freed memory (AddressSanitizer would see it).
 *
 * The race is meant to run under ThreadSanitizer too: everything the two
 * threads share is an atomic, and the test fails by hanging (the harness's
 * timeout) if a wake-up is lost.
 */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "common/clock.h"
#include "reactor.h" /* parks: to see that the race was run against a sleeping executor */

TEST_SINCE_PHASE(3);

/* ------------------------------------------- 100,000 notifications racing the park */

#define ROUNDS 100000

/*
 * The other thread publishes round i (sent = i), notifies, and waits until
 * the task has acknowledged it (acked = i) before the next round. So the
 * task has nothing to do between rounds and parks, and each notification
 * lands somewhere in the executor's "nothing to do, going to sleep" path.
 */
struct ping_pong {
    struct rt_executor *ex;
    atomic_long sent;  /* the last round the other thread published */
    atomic_long acked; /* the last round the task has seen */
};

static void *pinger_main(void *arg)
{
    struct ping_pong *p = arg;
    long i;

    for (i = 1; i <= ROUNDS; i++) {
        atomic_store(&p->sent, i);
        rt_executor_notify(p->ex);
        while (atomic_load(&p->acked) < i)
            sched_yield(); /* two CPUs, shared: let the executor's thread have one */
    }
    return NULL;
}

struct round_ready {
    struct ping_pong *p;
    long round;
};

static bool round_published(void *arg)
{
    struct round_ready *r = arg;

    return atomic_load(&r->p->sent) >= r->round;
}

struct ponger {
    struct rt_async async;
    struct ping_pong *p;
    bool deadline; /* wait under an hour's timeout, so that the executor parks in the ring */
    struct round_ready want;
    struct rt_wait_notify wait;
    struct rt_timeout timeout;
    pthread_t thread;
    intptr_t res;
};

static enum rt_poll ponger_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct ponger *f = (struct ponger *)self;

    ASYNC_BEGIN(f, cx, out);
    f->want.p = f->p;
    ck_assert_int_eq(pthread_create(&f->thread, NULL, pinger_main, f->p), 0);
    for (f->want.round = 1; f->want.round <= ROUNDS; f->want.round++) {
        rt_wait_notify(&f->wait, round_published, &f->want);
        if (f->deadline) {
            rt_timeout(&f->timeout, &f->wait.future, 3600 * NSEC_PER_SEC);
            AWAIT(&f->timeout.future, &f->res);
        } else {
            AWAIT(&f->wait.future, &f->res);
        }
        ck_assert_int_eq(f->res, 0);
        ck_assert_int_eq(atomic_load(&f->p->sent), f->want.round); /* never ahead of our ack */
        atomic_store(&f->p->acked, f->want.round);
    }
    ck_assert_int_eq(pthread_join(f->thread, NULL), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable ponger_vtable = {ponger_poll, rt_async_drop};

/* How many parks were sleeps on the futex; `*parks`: how many there were in all. */
static unsigned long race_the_park(bool deadline, unsigned long *parks)
{
    struct ping_pong p;
    struct ponger f = {.async = RT_ASYNC_INIT(&ponger_vtable), .p = &p, .deadline = deadline};
    const struct reactor *r;
    unsigned long futex_parks;

    p.ex = test_executor();
    atomic_init(&p.sent, 0);
    atomic_init(&p.acked, 0);
    ck_assert_int_eq(rt_executor_run(p.ex, &f.async.future, sizeof(f)), 0);
    ck_assert_int_eq(atomic_load(&p.acked), ROUNDS);
    /* The executor really slept between rounds: the race was run against parking. */
    r = rt__executor_reactor(p.ex);
    ck_assert_uint_gt(r->parks, 0);
    *parks = r->parks;
    futex_parks = r->futex_parks;
    rt_executor_destroy(p.ex);
    return futex_parks;
}

/* Nothing in the ring, no deadline: every park is a sleep on the futex. */
START_TEST(notify_racing_the_park_on_the_futex_is_never_lost)
{
    unsigned long parks;

    ck_assert_uint_eq(race_the_park(false, &parks), parks);
}
END_TEST

/* A deadline: every park is an io_uring_enter() with the doorbell's read in the ring. */
START_TEST(notify_racing_the_park_in_the_ring_is_never_lost)
{
    unsigned long parks;

    ck_assert_uint_eq(race_the_park(true, &parks), 0);
}
END_TEST

/* ------------------------------------------------------- one notification, many waiters */

#define WAITERS 8

struct flag_check {
    atomic_bool *flag;
    int *asked;
};

static bool flag_set_counting(void *arg)
{
    struct flag_check *c = arg;

    (*c->asked)++;
    return atomic_load(c->flag);
}

/* Waits until its flag is set; output: its id. */
struct flag_waiter_task {
    struct rt_async async;
    struct flag_check check;
    int id;
    struct rt_wait_notify wait;
};

static enum rt_poll flag_waiter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct flag_waiter_task *f = (struct flag_waiter_task *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_wait_notify(&f->wait, flag_set_counting, &f->check);
    AWAIT(&f->wait.future, NULL);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}

static const struct rt_future_vtable flag_waiter_vtable = {flag_waiter_poll, rt_async_drop};

struct many_waiters {
    struct rt_async async;
    atomic_bool flags[WAITERS];
    int asked[WAITERS];
    struct rt_join_handle jobs[WAITERS];
    struct test_yield pause;
    int i;
    intptr_t res;
};

static enum rt_poll many_waiters_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_waiters *f = (struct many_waiters *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < WAITERS; f->i++) {
        struct flag_waiter_task w = {.async = RT_ASYNC_INIT(&flag_waiter_vtable),
                                     .check = {&f->flags[f->i], &f->asked[f->i]},
                                     .id = f->i};
        atomic_init(&f->flags[f->i], false);
        f->jobs[f->i] = rt_spawn(&w.async.future, sizeof(w));
    }
    f->pause = test_yield(1, 0, NULL); /* one turn: every waiter polls and waits */
    AWAIT(&f->pause.future, NULL);
    for (f->i = 0; f->i < WAITERS; f->i++)
        ck_assert_int_eq(f->asked[f->i], 1);

    /* Half the conditions come true, and one notification covers them all. */
    for (f->i = 0; f->i < WAITERS; f->i += 2)
        atomic_store(&f->flags[f->i], true);
    rt_executor_notify(rt_executor_current());
    f->pause = test_yield(2, 0, NULL); /* the loop takes it; the woken waiters run */
    AWAIT(&f->pause.future, NULL);
    for (f->i = 0; f->i < WAITERS; f->i++) {
        ck_assert_int_eq(f->asked[f->i], 2); /* every waiter looked again, once */
        ck_assert_int_eq(rt_join_is_empty(&f->jobs[f->i]), false);
    }
    for (f->i = 0; f->i < WAITERS; f->i += 2) {
        AWAIT(&f->jobs[f->i].future, &f->res);
        ck_assert_int_eq(f->res, f->i);
    }

    /* The others are waiting again: no look without a notification... */
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    for (f->i = 1; f->i < WAITERS; f->i += 2)
        ck_assert_int_eq(f->asked[f->i], 2);
    /* ...and a second notification finishes them. */
    for (f->i = 1; f->i < WAITERS; f->i += 2)
        atomic_store(&f->flags[f->i], true);
    rt_executor_notify(rt_executor_current());
    for (f->i = 1; f->i < WAITERS; f->i += 2) {
        AWAIT(&f->jobs[f->i].future, &f->res);
        ck_assert_int_eq(f->res, f->i);
        ck_assert_int_eq(f->asked[f->i], 3);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable many_waiters_vtable = {many_waiters_poll, rt_async_drop};

START_TEST(one_notification_wakes_every_waiter_to_look_again)
{
    struct many_waiters f = {.async = RT_ASYNC_INIT(&many_waiters_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* ------------------------------------------------ a condition that already holds */

struct already {
    struct rt_async async;
    atomic_bool flag;
    int asked;
    struct flag_check check;
    struct rt_wait_notify wait;
    intptr_t res;
};

static enum rt_poll already_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct already *f = (struct already *)self;

    ASYNC_BEGIN(f, cx, out);
    atomic_init(&f->flag, true);
    f->check = (struct flag_check){&f->flag, &f->asked};
    rt_wait_notify(&f->wait, flag_set_counting, &f->check);
    AWAIT(&f->wait.future, &f->res); /* nobody notifies: it must not need to */
    ck_assert_int_eq(f->res, 0);
    ck_assert_int_eq(f->asked, 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable already_vtable = {already_poll, rt_async_drop};

START_TEST(a_condition_that_holds_needs_no_notification)
{
    struct already f = {.async = RT_ASYNC_INIT(&already_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* ------------------------------------------------- a cancelled waiter leaves the list */

struct cancel_waiter {
    struct rt_async async;
    atomic_bool never, later;
    int asked_never, asked_later;
    struct rt_join_handle victim, survivor;
    struct test_yield pause;
    intptr_t res;
};

static enum rt_poll cancel_waiter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_waiter *f = (struct cancel_waiter *)self;

    ASYNC_BEGIN(f, cx, out);
    atomic_init(&f->never, false);
    atomic_init(&f->later, false);
    {
        /* Spawned first and second, so each is in the list beside the other. */
        struct flag_waiter_task v = {.async = RT_ASYNC_INIT(&flag_waiter_vtable),
                                     .check = {&f->never, &f->asked_never},
                                     .id = 1};
        struct flag_waiter_task s = {.async = RT_ASYNC_INIT(&flag_waiter_vtable),
                                     .check = {&f->later, &f->asked_later},
                                     .id = 2};
        f->victim = rt_spawn(&v.async.future, sizeof(v));
        f->survivor = rt_spawn(&s.async.future, sizeof(s));
    }
    f->pause = test_yield(1, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert_int_eq(f->asked_never, 1);
    ck_assert_int_eq(f->asked_later, 1);

    /* The victim's future, and the list entry inside it, are freed here. */
    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);

    /* A notification walks the list: it must find only the survivor. */
    atomic_store(&f->later, true);
    rt_executor_notify(rt_executor_current());
    AWAIT(&f->survivor.future, &f->res);
    ck_assert_int_eq(f->res, 2);
    ck_assert_int_eq(f->asked_never, 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_waiter_vtable = {cancel_waiter_poll, rt_async_drop};

START_TEST(a_cancelled_waiter_leaves_the_list)
{
    struct cancel_waiter f = {.async = RT_ASYNC_INIT(&cancel_waiter_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_notify(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = test_case("notify");

    tcase_add_test(tc, notify_racing_the_park_on_the_futex_is_never_lost);
    tcase_add_test(tc, notify_racing_the_park_in_the_ring_is_never_lost);
    tcase_add_test(tc, one_notification_wakes_every_waiter_to_look_again);
    tcase_add_test(tc, a_condition_that_holds_needs_no_notification);
    tcase_add_test(tc, a_cancelled_waiter_leaves_the_list);
    suite_add_tcase(s, tc);
    return s;
}
