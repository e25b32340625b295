/*
 * tests/exercises/ex_2_4.c - the check for chapter 2's exercise 4: timers
 * without a request each.
 *
 * The exercise keeps sleeping tasks in a min-heap ordered by deadline in
 * the reactor and keeps a single IORING_OP_TIMEOUT in flight for the
 * earliest deadline (replacing it when an earlier one arrives, cancelling it
 * when no sleep is left). rt_io_sleep() and rt_timeout() keep their API.
 *
 * Cases: a thousand sleeping tasks put at most a few requests in the kernel
 * (today: a thousand), wake in the order of their deadlines, and leave
 * nothing in flight; sleepers cancelled while they wait leave nothing
 * behind; rt_timeout() still gives up on a recv when its deadline passes.
 */
#include "harness.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* in-flight counts: what the kernel holds */

TEST_SINCE_PHASE(2);

#define SLEEPERS 1000
#define AN_HOUR  (3600 * NSEC_PER_SEC)

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/*
 * Sleeps (id % 10 + 1) * 10 ms, then writes its deadline at the end of the
 * log. The deadline counts from its first poll, as a sleep's does; on a busy
 * machine a thousand first polls can be spread over more than 10 ms, so the
 * order to check is that of the deadlines, not of the durations.
 */
struct sleeper {
    struct rt_async async;
    int id;
    uint64_t *log; /* the test's: deadlines in waking order */
    int *logged;   /* the test's: how many */
    uint64_t deadline;
    struct rt_io io;
    intptr_t n;
};

static uint64_t sleep_ns(int id)
{
    /* 10 ms apart: far more than the time it takes to start a thousand tasks, even under ASan. */
    return (uint64_t)(id % 10 + 1) * 10 * NSEC_PER_MSEC;
}

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    f->deadline = now_ns() + (f->id < 0 ? AN_HOUR : sleep_ns(f->id));
    rt_io_sleep(&f->io, f->id < 0 ? AN_HOUR : sleep_ns(f->id));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    if (f->log)
        f->log[(*f->logged)++] = f->deadline;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

/* --------------------------------------------- a thousand sleeps */

struct many_sleeps {
    struct rt_async async;
    struct rt_join_handle jobs[SLEEPERS];
    uint64_t log[SLEEPERS];
    int logged;
    struct test_yield pause;
    int i;
};

static enum rt_poll many_sleeps_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_sleeps *f = (struct many_sleeps *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < SLEEPERS; f->i++) {
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable),
                            .id = f->i,
                            .log = f->log,
                            .logged = &f->logged};
        f->jobs[f->i] = rt_spawn(&s.async.future, sizeof(s));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: every sleeper polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_msg(reactor_now()->in_flight <= 4,
                  "exercise 2.4 is not done yet: %u requests are in the kernel for %d sleeps; "
                  "one timeout for the earliest deadline is the goal",
                  reactor_now()->in_flight, SLEEPERS);

    for (f->i = 0; f->i < SLEEPERS; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    ck_assert_int_eq(f->logged, SLEEPERS);
    /* In deadline order; deadlines less than a millisecond apart may come either way. */
    for (f->i = 1; f->i < SLEEPERS; f->i++)
        ck_assert_msg(f->log[f->i - 1] <= f->log[f->i] + NSEC_PER_MSEC,
                      "a sleep due %.3f ms later woke before another one",
                      (double)(f->log[f->i - 1] - f->log[f->i]) / NSEC_PER_MSEC);
    f->pause = test_yield(2, 0, NULL); /* the last timeout's completion, or its cancel's */
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable many_sleeps_vtable = {many_sleeps_poll, rt_async_drop};

START_TEST(a_thousand_sleeps_share_one_timeout)
{
    static struct many_sleeps f; /* about 30 KiB: not on the test's stack */

    f = (struct many_sleeps){.async = RT_ASYNC_INIT(&many_sleeps_vtable)};
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* --------------------------------------------- sleepers cancelled */

struct cancel_sleepers {
    struct rt_async async;
    struct rt_join_handle jobs[10];
    struct test_yield pause;
    int i;
};

static enum rt_poll cancel_sleepers_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct cancel_sleepers *f = (struct cancel_sleepers *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < 10; f->i++) {
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable), .id = -1}; /* an hour */
        f->jobs[f->i] = rt_spawn(&s.async.future, sizeof(s));
    }
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    for (f->i = 0; f->i < 10; f->i++) {
        ck_assert(rt_join_cancel(&f->jobs[f->i]));
        AWAIT(&f->jobs[f->i].future, NULL);
        ck_assert(f->jobs[f->i].cancelled);
    }
    /* No sleep is left: no timeout may stay armed for an hour. */
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_sleepers_vtable = {cancel_sleepers_poll, rt_async_drop};

START_TEST(cancelled_sleepers_leave_nothing_armed)
{
    struct cancel_sleepers f = {.async = RT_ASYNC_INIT(&cancel_sleepers_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* --------------------------------------------- rt_timeout still works */

struct timed_recv {
    struct rt_async async;
    int fds[2];
    struct rt_io recv;
    struct rt_timeout timeout;
    char buf[16];
    intptr_t n;
};

static enum rt_poll timed_recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct timed_recv *f = (struct timed_recv *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv(&f->recv, f->fds[0], f->buf, sizeof(f->buf));
    rt_timeout(&f->timeout, &f->recv.future, 10 * NSEC_PER_MSEC);
    AWAIT(&f->timeout.future, &f->n);
    ck_assert_int_eq(f->n, -ETIMEDOUT);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable timed_recv_vtable = {timed_recv_poll, rt_async_drop};

START_TEST(timeout_still_fires)
{
    struct timed_recv f = {.async = RT_ASYNC_INIT(&timed_recv_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

Suite *suite_ex_2_4(void)
{
    Suite *s = suite_create("exercise 2.4");
    TCase *tc = test_case("timers without a request each");

    tcase_add_test(tc, a_thousand_sleeps_share_one_timeout);
    tcase_add_test(tc, cancelled_sleepers_leave_nothing_armed);
    tcase_add_test(tc, timeout_still_fires);
    suite_add_tcase(s, tc);
    return s;
}
