/*
 * tests/exercises/ex_2_2.c - the check for chapter 2's exercise 2:
 * readiness for sockets.
 *
 * The exercise adds to io.c (declared in io.h):
 *
 *   void rt_io_recv_ready(struct rt_io *io, int fd, void *buf, size_t len);
 *
 * An rt_io with a poll function of its own. Its first poll tries recv()
 * with MSG_DONTWAIT straight into `buf`; only if that would block does it
 * put an IORING_OP_POLL_ADD (POLLIN) in the ring, and when that completes it
 * tries recv() again. Output: bytes received, 0 when the peer has closed,
 * or -errno. `buf` must stay valid while the future is alive, as for
 * rt_io_recv(); the kernel itself never holds it.
 *
 * rt_io_recv_ready() is declared weak below, so that this file builds and
 * runs before the exercise is done and fails with a message that says so.
 * Write it in io.c, which this test links because it calls rt_io_send().
 *
 * Cases: data already there is received without any request reaching the
 * kernel; data that comes later is received after one poll request; a
 * deadline that fires while the poll request is in flight loses no bytes,
 * whatever the order in which the kernel and the timer finish (the very
 * case in which rt_io_recv() loses them); a closed peer gives 0.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* statistics and source states: what reached the kernel, and when */

TEST_SINCE_PHASE(2);

__attribute__((weak)) void rt_io_recv_ready(struct rt_io *io, int fd, void *buf, size_t len);

static void require_exercise(void)
{
    if (!rt_io_recv_ready)
        ck_abort_msg("exercise 2.2 is not done yet: rt_io_recv_ready() does not exist "
                     "(write it in io.c, declare it in io.h)");
}

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

static void socket_pair(int fds[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
}

/* --------------------------------------------- data already there, data later */

/* Receives once with rt_io_recv_ready(); output: what it gave. */
struct receiver {
    struct rt_async async;
    int fd;
    struct rt_io io;
    char buf[16];
    intptr_t n;
};

static enum rt_poll receiver_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct receiver *f = (struct receiver *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv_ready(&f->io, f->fd, f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    if (f->n == 5)
        ck_assert(memcmp(f->buf, "later", 5) == 0);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable receiver_vtable = {receiver_poll, rt_async_drop};

struct ready_and_later {
    struct rt_async async;
    int fds[2];
    struct rt_io io;
    struct rt_join_handle later;
    struct test_yield pause;
    unsigned long submitted;
    char buf[16];
    intptr_t n;
};

static enum rt_poll ready_and_later_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct ready_and_later *f = (struct ready_and_later *)self;

    ASYNC_BEGIN(f, cx, out);
    /* The bytes are there before the first poll: no request is needed at all. */
    ck_assert_int_eq(write(f->fds[1], "ready", 5), 5);
    f->submitted = reactor_now()->stats.submitted;
    rt_io_recv_ready(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "ready", 5) == 0);
    ck_assert_uint_eq(reactor_now()->stats.submitted, f->submitted);

    /* Nothing there yet: one poll request waits in the kernel for the bytes. */
    {
        struct receiver r = {.async = RT_ASYNC_INIT(&receiver_vtable), .fd = f->fds[0]};
        f->later = rt_spawn(&r.async.future, sizeof(r));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the receiver polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 1);
    ck_assert_uint_eq(reactor_now()->stats.submitted, f->submitted + 1);
    rt_io_send(&f->io, f->fds[1], "later", 5);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    AWAIT(&f->later.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable ready_and_later_vtable = {ready_and_later_poll, rt_async_drop};

START_TEST(recv_ready_receives_now_or_later)
{
    struct ready_and_later f = {.async = RT_ASYNC_INIT(&ready_and_later_vtable)};

    require_exercise();
    socket_pair(f.fds);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* --------------------------------------------- a deadline loses no bytes */

/*
 * Writes five bytes in the one window where rt_io_recv() would lose them:
 * after the reactor has reaped the timer's completion (the timeout is
 * decided) and before the task that awaits the timeout is polled. This task
 * wakes itself every turn, so it is queued before that task, which the
 * reactor wakes at the end of the turn.
 */
struct late_writer {
    struct rt_future future;
    struct rt_timeout *watched; /* the timeout to watch, in the main future */
    int fd;
};

static enum rt_poll late_writer_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct late_writer *f = (struct late_writer *)self;
    struct rt_source *timer = f->watched->timer.source;

    if (timer && timer->state == SOURCE_DONE) {
        ck_assert_int_eq(write(f->fd, "late!", 5), 5);
        *out = 0;
        return RT_READY;
    }
    rt_waker_wake_by_ref(cx->waker);
    return RT_PENDING;
}

static const struct rt_future_vtable late_writer_vtable = {.poll = late_writer_poll};

struct deadline {
    struct rt_async async;
    int fds[2];
    struct rt_join_handle writer;
    struct rt_io io;
    struct rt_timeout timeout;
    char buf[16];
    intptr_t n;
};

static enum rt_poll deadline_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct deadline *f = (struct deadline *)self;
    char peek[16];

    ASYNC_BEGIN(f, cx, out);
    {
        struct late_writer w = {
            .future = {&late_writer_vtable}, .watched = &f->timeout, .fd = f->fds[1]};
        f->writer = rt_spawn(&w.future, sizeof(w));
    }
    rt_io_recv_ready(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    rt_timeout(&f->timeout, &f->io.future, 20 * NSEC_PER_MSEC);
    AWAIT(&f->timeout.future, &f->n);
    AWAIT(&f->writer.future, NULL);

    /* Either the bytes were delivered, or they are still in the socket: never lost. */
    if (f->n == 5) {
        ck_assert(memcmp(f->buf, "late!", 5) == 0);
    } else {
        ck_assert_int_eq(f->n, -ETIMEDOUT);
        ck_assert_int_eq(recv(f->fds[0], peek, sizeof(peek), MSG_DONTWAIT), 5);
        ck_assert(memcmp(peek, "late!", 5) == 0);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable deadline_vtable = {deadline_poll, rt_async_drop};

START_TEST(recv_ready_under_a_deadline_loses_no_bytes)
{
    struct deadline f = {.async = RT_ASYNC_INIT(&deadline_vtable)};

    require_exercise();
    socket_pair(f.fds);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* --------------------------------------------- the peer closes */

START_TEST(recv_ready_gives_zero_when_the_peer_closed)
{
    struct receiver f = {.async = RT_ASYNC_INIT(&receiver_vtable)};
    int fds[2];

    require_exercise();
    socket_pair(fds);
    close(fds[1]);
    f.fd = fds[0];
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(fds[0]);
}
END_TEST

Suite *suite_ex_2_2(void)
{
    Suite *s = suite_create("exercise 2.2");
    TCase *tc = test_case("readiness for sockets");

    tcase_add_test(tc, recv_ready_receives_now_or_later);
    tcase_add_test(tc, recv_ready_under_a_deadline_loses_no_bytes);
    tcase_add_test(tc, recv_ready_gives_zero_when_the_peer_closed);
    suite_add_tcase(s, tc);
    return s;
}
