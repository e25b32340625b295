/*
 * tests/exercises/ex_2_5.c - the check for chapter 2's exercise 5: a link
 * timeout.
 *
 * The exercise adds to io.c (declared in io.h):
 *
 *   void rt_io_recv_timeout(struct rt_io *io, int fd, void *buf, size_t len, uint64_t ns);
 *
 * One source, two SQEs: an IORING_OP_RECV flagged IOSQE_IO_LINK, and right
 * after it an IORING_OP_LINK_TIMEOUT of `ns` nanoseconds. Output: bytes
 * received, 0 when the peer has closed, -ETIMEDOUT when the time ran out
 * first (the kernel then ends the recv with -ECANCELED), or -errno. The
 * source is done only when every CQE that names it has arrived.
 *
 * rt_io_recv_timeout() is declared weak below, so that this file builds and
 * runs before the exercise is done and fails with a message that says so.
 * Write it in io.c, which this test links because it calls rt_io_recv().
 *
 * Cases: data already there beats the deadline; with no data the deadline
 * wins, the recv is cancelled in the kernel (bytes sent afterwards are all
 * still there), and both CQEs are reaped; a task waiting in one is
 * cancelled, and every CQE (the recv's, the link timeout's, the cancel's)
 * is reaped before its source is freed.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* in-flight counts: what the kernel still holds */

TEST_SINCE_PHASE(2);

__attribute__((weak)) void rt_io_recv_timeout(struct rt_io *io, int fd, void *buf, size_t len,
                                              uint64_t ns);

#define AN_HOUR (3600 * NSEC_PER_SEC)

static void require_exercise(void)
{
    if (!rt_io_recv_timeout)
        ck_abort_msg("exercise 2.5 is not done yet: rt_io_recv_timeout() does not exist "
                     "(write it in io.c, declare it in io.h)");
}

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* --------------------------------------------- data, then no data */

struct deadlines {
    struct rt_async async;
    int fds[2];
    struct rt_io io;
    struct test_yield pause;
    char buf[16];
    intptr_t n;
};

static enum rt_poll deadlines_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct deadlines *f = (struct deadlines *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Data already there: the recv wins, and the link timeout is cancelled by the kernel. */
    ck_assert_int_eq(write(f->fds[1], "early", 5), 5);
    rt_io_recv_timeout(&f->io, f->fds[0], f->buf, sizeof(f->buf), AN_HOUR);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "early", 5) == 0);
    ck_assert(rt__reactor_idle(reactor_now())); /* the hour-long link timeout is gone too */

    /* No data: the deadline wins. */
    rt_io_recv_timeout(&f->io, f->fds[0], f->buf, sizeof(f->buf), 10 * NSEC_PER_MSEC);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, -ETIMEDOUT);
    ck_assert(rt__reactor_idle(reactor_now()));

    /* The recv was cancelled in the kernel: what is sent now is all there. */
    ck_assert_int_eq(write(f->fds[1], "later", 5), 5);
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "later", 5) == 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable deadlines_vtable = {deadlines_poll, rt_async_drop};

START_TEST(recv_timeout_gives_data_or_etimedout)
{
    struct deadlines f = {.async = RT_ASYNC_INIT(&deadlines_vtable)};

    require_exercise();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* --------------------------------------------- cancelled while waiting */

struct waiter {
    struct rt_async async;
    int fd;
    struct rt_io io;
    char buf[16];
};

static enum rt_poll waiter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct waiter *f = (struct waiter *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv_timeout(&f->io, f->fd, f->buf, sizeof(f->buf), AN_HOUR);
    AWAIT(&f->io.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable waiter_vtable = {waiter_poll, rt_async_drop};

struct cancel_waiter {
    struct rt_async async;
    int fds[2];
    struct rt_join_handle victim;
    struct test_yield pause;
};

static enum rt_poll cancel_waiter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_waiter *f = (struct cancel_waiter *)self;
    char peek[16];

    ASYNC_BEGIN(f, cx, out);
    {
        struct waiter w = {.async = RT_ASYNC_INIT(&waiter_vtable), .fd = f->fds[0]};
        f->victim = rt_spawn(&w.async.future, sizeof(w));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the waiter polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 2); /* the recv and its link timeout */

    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    ck_assert_int_eq(write(f->fds[1], "after", 5), 5);
    ck_assert_int_eq(recv(f->fds[0], peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT), 5);
    f->pause = test_yield(2, 0, NULL); /* the three CQEs are reaped, the orphan freed */
    AWAIT(&f->pause.future, NULL);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_waiter_vtable = {cancel_waiter_poll, rt_async_drop};

START_TEST(recv_timeout_cancelled_while_waiting)
{
    struct cancel_waiter f = {.async = RT_ASYNC_INIT(&cancel_waiter_vtable)};

    require_exercise();
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

Suite *suite_ex_2_5(void)
{
    Suite *s = suite_create("exercise 2.5");
    TCase *tc = test_case("a link timeout");

    tcase_add_test(tc, recv_timeout_gives_data_or_etimedout);
    tcase_add_test(tc, recv_timeout_cancelled_while_waiting);
    suite_add_tcase(s, tc);
    return s;
}
