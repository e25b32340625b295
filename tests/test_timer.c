/*
 * tests/test_timer.c - sleeps and deadlines: rt_io_sleep() and rt_timeout().
 *
 * Cases: sleeps finish in the order of their deadlines, whatever order they
 * started in; a timeout that fires cancels the recv it gave up on, in the
 * kernel, so the recv swallows none of the data that comes later; a timeout
 * that does not fire gives the inner future's output and cancels its timer,
 * and so does one whose inner future is ready when its timer is due;
 * cancelling a task that awaits a timeout cancels both of its requests; a
 * sleep of zero completes; and durations over RT_DURATION_MAX ((uint64_t)-1,
 * a negative number converted, included) give -EINVAL at once, for a sleep
 * and for a timeout, without a request and without polling the timeout's
 * inner future, while RT_DURATION_MAX itself is accepted.
 *
 * Only order is asserted, never how long anything took: the machine running
 * the tests may be slow or busy, and speed is measured by the benchmarks.
 * "The reactor is idle" is how these tests see that a request was
 * cancelled: an hour-long timer that was not would still be in flight.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* in-flight counts, to see requests in the kernel and gone from it */
#if PHASE >= 3
#include "timers.h" /* phase 3: the executor's heap of deadlines */
#endif

TEST_SINCE_PHASE(2);

#define AN_HOUR (3600 * NSEC_PER_SEC)

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* --------------------------------------------- sleeps end in deadline order */

#define SLEEPERS 10

/* Sleeper `id` sleeps (id + 1) * 10 ms: a larger id, a later deadline. */
static uint64_t sleep_ns(int id)
{
    return (uint64_t)(id + 1) * 10 * NSEC_PER_MSEC;
}

/* Sleeps, then writes its id at the end of the log. */
struct sleeper {
    struct rt_async async;
    int id;
    int *log, *logged; /* the test's: the ids in waking order, and how many there are */
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->io, sleep_ns(f->id));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0); /* a sleep that ran its full time is a success, not -ETIME */
    f->log[(*f->logged)++] = f->id;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

struct deadline_order {
    struct rt_async async;
    struct rt_join_handle jobs[SLEEPERS];
    int log[SLEEPERS];
    int logged;
    int i;
};

static enum rt_poll deadline_order_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    /* A fixed shuffle: neither the order of spawning nor its reverse is the order of waking. */
    static const int spawn_order[SLEEPERS] = {6, 2, 9, 0, 4, 7, 1, 8, 3, 5};
    struct deadline_order *f = (struct deadline_order *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < SLEEPERS; f->i++) {
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable),
                            .id = spawn_order[f->i],
                            .log = f->log,
                            .logged = &f->logged};
        f->jobs[f->i] = rt_spawn(&s.async.future, sizeof(s));
    }
    for (f->i = 0; f->i < SLEEPERS; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);

    ck_assert_int_eq(f->logged, SLEEPERS);
    for (f->i = 1; f->i < SLEEPERS; f->i++)
        ck_assert_msg(sleep_ns(f->log[f->i - 1]) < sleep_ns(f->log[f->i]),
                      "sleeper %d (%d ms) woke before sleeper %d (%d ms)", f->log[f->i],
                      (int)(sleep_ns(f->log[f->i]) / NSEC_PER_MSEC), f->log[f->i - 1],
                      (int)(sleep_ns(f->log[f->i - 1]) / NSEC_PER_MSEC));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable deadline_order_vtable = {deadline_order_poll, rt_async_drop};

START_TEST(sleeps_end_in_deadline_order)
{
    struct deadline_order f = {.async = RT_ASYNC_INIT(&deadline_order_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* -------------------------------------------------- a timeout that fires */

struct timeout_fires {
    struct rt_async async;
    int fds[2]; /* a connected pair: we receive on fds[0], the test writes on fds[1] */
    struct rt_io recv;
    struct rt_timeout timeout;
    char buf[16];
    intptr_t n;
};

static enum rt_poll timeout_fires_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct timeout_fires *f = (struct timeout_fires *)self;
    char peek[16];

    ASYNC_BEGIN(f, cx, out);
    /* Nobody sends: the recv can only end by being given up on. */
    rt_io_recv(&f->recv, f->fds[0], f->buf, sizeof(f->buf));
    rt_timeout(&f->timeout, &f->recv.future, 20 * NSEC_PER_MSEC);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, -ETIMEDOUT);

    /*
     * Data arrives after the deadline. The timed-out recv was cancelled in
     * the kernel when the timeout gave up on it, so the bytes stay in the
     * socket: a peek, which takes nothing, finds all of them there.
     */
    ck_assert_int_eq(write(f->fds[1], "late!", 5), 5);
    ck_assert_int_eq(recv(f->fds[0], peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), 5);

    rt_io_recv(&f->recv, f->fds[0], f->buf, sizeof(f->buf)); /* finished, so fit to reuse */
    AWAIT(&f->recv.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "late!", 5) == 0);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable timeout_fires_vtable = {timeout_fires_poll, rt_async_drop};

START_TEST(timeout_fires_and_cancels_the_recv)
{
    struct timeout_fires f = {.async = RT_ASYNC_INIT(&timeout_fires_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* --------------------------------------------- a timeout that does not fire */

struct timeout_spared {
    struct rt_async async;
    int fds[2];
    struct rt_io recv;
    struct rt_io sleep;
#if PHASE >= 3
    struct rt_sleep same; /* the kind of sleep a timeout's timer is */
#else
    struct rt_io same;
#endif
    struct test_value value;
    struct rt_timeout timeout;
    struct test_yield pause;
    unsigned long submitted;
    char buf[16];
    intptr_t n;
};

static enum rt_poll timeout_spared_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct timeout_spared *f = (struct timeout_spared *)self;

    ASYNC_BEGIN(f, cx, out);
    /* A recv whose data is already there beats an hour-long deadline. */
    ck_assert_int_eq(write(f->fds[1], "ready", 5), 5);
    rt_io_recv(&f->recv, f->fds[0], f->buf, sizeof(f->buf));
    rt_timeout(&f->timeout, &f->recv.future, AN_HOUR);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "ready", 5) == 0);
    /*
     * Its timer was in the kernel, and finishing the timeout cancelled it.
     * Two turns of the loop let the reactor reap the cancellation; a timer
     * left running would keep it busy for an hour.
     */
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
#if PHASE >= 3
    ck_assert_uint_eq(rt__executor_timers(rt_executor_current())->len, 0);
#endif

    /* A short sleep beats it too. */
    rt_io_sleep(&f->sleep, NSEC_PER_MSEC);
    rt_timeout(&f->timeout, &f->sleep.future, AN_HOUR);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));

    /* An inner future ready at its first poll: the timer never even reaches the kernel. */
    f->submitted = reactor_now()->stats.submitted;
    f->value = test_value(42);
    rt_timeout(&f->timeout, &f->value.future, AN_HOUR);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, 42);
    f->pause = test_yield(2, 0, NULL); /* a turn in which a queued timer would be submitted */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->stats.submitted, f->submitted);
    ck_assert(rt__reactor_idle(reactor_now()));

    /*
     * A future that is ready beats a timer that is due, when both are: a
     * sleep as long as the timeout, prepared first, so that its deadline
     * comes first and both are woken together.
     */
#if PHASE >= 3
    rt_sleep(&f->same, NSEC_PER_MSEC);
#else
    rt_io_sleep(&f->same, NSEC_PER_MSEC);
#endif
    rt_timeout(&f->timeout, &f->same.future, NSEC_PER_MSEC);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable timeout_spared_vtable = {timeout_spared_poll, rt_async_drop};

START_TEST(timeout_that_does_not_fire_cancels_its_timer)
{
    struct timeout_spared f = {.async = RT_ASYNC_INIT(&timeout_spared_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* ------------------------------------- a task awaiting a timeout is cancelled */

/* A recv under an hour's deadline, in a task of its own. */
struct timed_recv {
    struct rt_async async;
    int fd;
    struct rt_io recv;
    struct rt_timeout timeout;
    char buf[16];
};

static enum rt_poll timed_recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct timed_recv *f = (struct timed_recv *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv(&f->recv, f->fd, f->buf, sizeof(f->buf));
    rt_timeout(&f->timeout, &f->recv.future, AN_HOUR);
    AWAIT(&f->timeout.future, NULL);
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable timed_recv_vtable = {timed_recv_poll, rt_async_drop};

struct cancel_timed {
    struct rt_async async;
    int fds[2];
    struct rt_join_handle victim;
    struct test_yield pause;
};

static enum rt_poll cancel_timed_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_timed *f = (struct cancel_timed *)self;
    char peek[16];

    ASYNC_BEGIN(f, cx, out);
    {
        struct timed_recv r = {.async = RT_ASYNC_INIT(&timed_recv_vtable), .fd = f->fds[0]};
        f->victim = rt_spawn(&r.async.future, sizeof(r));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the victim polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
#if PHASE >= 3
    /* Phase 3: the timer is an entry in the executor's heap, not a request. */
    ck_assert_uint_eq(reactor_now()->in_flight, 1);
    ck_assert_uint_eq(rt__executor_timers(rt_executor_current())->len, 1);
#else
    ck_assert_uint_eq(reactor_now()->in_flight, 2); /* the recv and its timer */
#endif

    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);

    /* The recv was cancelled in the kernel: it takes none of what is sent now. */
    ck_assert_int_eq(write(f->fds[1], "after", 5), 5);
    ck_assert_int_eq(recv(f->fds[0], peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), 5);
    /* And the timer too: once the cancellations' completions are reaped, nothing is left. */
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
#if PHASE >= 3
    ck_assert_uint_eq(rt__executor_timers(rt_executor_current())->len, 0);
#endif
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_timed_vtable = {cancel_timed_poll, rt_async_drop};

START_TEST(cancelling_a_task_cancels_its_timeout)
{
    struct cancel_timed f = {.async = RT_ASYNC_INIT(&cancel_timed_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* ----------------------------------------------------------- a zero sleep */

struct zero_sleep {
    struct rt_async async;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll zero_sleep_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct zero_sleep *f = (struct zero_sleep *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->io, 0);
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable zero_sleep_vtable = {zero_sleep_poll, rt_async_drop};

START_TEST(sleep_of_zero_completes)
{
    struct zero_sleep f = {.async = RT_ASYNC_INIT(&zero_sleep_vtable), .n = -1};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* ------------------------------------------------ absurd durations refused */

struct absurd {
    struct rt_async async;
    int fds[2];
    struct rt_io io, sleep;
    struct test_value value;
    struct rt_timeout timeout;
    unsigned long submit_calls;
    intptr_t res;
};

static enum rt_poll absurd_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct absurd *f = (struct absurd *)self;

    ASYNC_BEGIN(f, cx, out);
    f->submit_calls = reactor_now()->stats.submit_calls;
    rt_io_sleep(&f->sleep, RT_DURATION_MAX + 1);
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    rt_io_sleep(&f->sleep, (uint64_t)-1); /* a negative duration, converted */
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);

    /* A timeout: whatever the inner future would do, the duration is refused. */
    f->value = test_value(42);
    rt_timeout(&f->timeout, &f->value.future, (uint64_t)-1);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    rt_io_recv(&f->io, f->fds[0], NULL, 0); /* nobody sends: it would wait forever */
    rt_timeout(&f->timeout, &f->io.future, RT_DURATION_MAX + 1);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, -EINVAL);
    /* Nothing reached the kernel: the recv was never polled, the sleeps never sent. */
    ck_assert_uint_eq(reactor_now()->stats.submit_calls, f->submit_calls);
    ck_assert(rt__reactor_idle(reactor_now()));

    /*
     * RT_DURATION_MAX itself is a duration like any other: the limit is
     * inclusive, so a ready inner future gives its own output, not -EINVAL.
     */
    f->value = test_value(42);
    rt_timeout(&f->timeout, &f->value.future, RT_DURATION_MAX);
    AWAIT(&f->timeout.future, &f->res);
    ck_assert_int_eq(f->res, 42);
    ck_assert(rt__reactor_idle(reactor_now()));

    /* And the executor is none the worse: a real sleep still works. */
    rt_io_sleep(&f->sleep, 0);
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

/* ------------------------------------------------ the longest duration */

/* Sleeps for `ns`. Output: the sleep's. */
struct long_sleep {
    struct rt_async async;
    uint64_t ns;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll long_sleep_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct long_sleep *f = (struct long_sleep *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->io, f->ns);
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable long_sleep_vtable = {long_sleep_poll, rt_async_drop};

struct longest {
    struct rt_async async;
    struct rt_join_handle sleeper;
    struct test_yield pause;
};

static enum rt_poll longest_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct longest *f = (struct longest *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct long_sleep s = {.async = RT_ASYNC_INIT(&long_sleep_vtable), .ns = RT_DURATION_MAX};

        f->sleeper = rt_spawn(&s.async.future, sizeof(s));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the sleeper polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    /* Not refused: the sleep is in the kernel, and its task still waits. */
    ck_assert_uint_eq(reactor_now()->in_flight, 1);
    ck_assert(rt_join_cancel(&f->sleeper));
    AWAIT(&f->sleeper.future, NULL);
    ck_assert(f->sleeper.cancelled);
    f->pause = test_yield(2, 0, NULL); /* and the cancelled sleep's completions are reaped */
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable longest_vtable = {longest_poll, rt_async_drop};

/*
 * RT_DURATION_MAX is the longest sleep, not the first refused one: a sleep
 * that long reaches the kernel and waits there (until it is cancelled).
 */
START_TEST(a_sleep_of_the_longest_duration_is_taken)
{
    struct longest f = {.async = RT_ASYNC_INIT(&longest_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_timer(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = test_case("timer");

    tcase_add_test(tc, sleeps_end_in_deadline_order);
    tcase_add_test(tc, timeout_fires_and_cancels_the_recv);
    tcase_add_test(tc, timeout_that_does_not_fire_cancels_its_timer);
    tcase_add_test(tc, cancelling_a_task_cancels_its_timeout);
    tcase_add_test(tc, sleep_of_zero_completes);
    tcase_add_test(tc, absurd_durations_are_refused);
    tcase_add_test(tc, a_sleep_of_the_longest_duration_is_taken);
    suite_add_tcase(s, tc);
    return s;
}
