/*
 * tests/test_release.c - what a request made is released when nobody takes
 * it: a cancelled accept or open never leaves its new file descriptor open
 * (not even one numbered 0), and a close dropped before it ran still closes
 * its descriptor.
 *
 * An accept (or open) can finish just before its task is cancelled, in two
 * orders: its completion was already reaped (the task was woken but not yet
 * polled again), or it was still in the completion queue when the cancel
 * went out (the cancel then finds nothing, and the completion carries the
 * fd to an orphan). Each test forces one order and checks, from the other
 * end, that the fd was closed (the client sees end of file, a FIFO's writer
 * gets EPIPE) and that the process has no more descriptors than before.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reactor.h" /* to see where a request is: in flight, completed, reaped */

TEST_SINCE_PHASE(2);

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* The file descriptors this process has open. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n; /* the same "." , ".." and the DIR's own fd every time: only differences matter */
}

/* ------------------------------------------------------ the requests */

/* One request that makes a file descriptor: an accept on `listen_fd`, or else an open of `path`. */
struct fd_maker {
    struct rt_async async;
    struct rt_io io;
    int listen_fd;
    const char *path;
    intptr_t fd;
};

static enum rt_poll fd_maker_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fd_maker *f = (struct fd_maker *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->listen_fd >= 0)
        rt_io_accept(&f->io, f->listen_fd);
    else
        /* O_CREAT sends the open to a kernel worker thread, where a FIFO's open waits for a
         * writer: the test decides when it completes. */
        rt_io_open(&f->io, f->path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    AWAIT(&f->io.future, &f->fd);
    ASYNC_RETURN(f->fd); /* not reached in these tests: the task is cancelled first */
    ASYNC_END;
}

static const struct rt_future_vtable fd_maker_vtable = {fd_maker_poll, rt_async_drop};

/* ---------------------------------------------------------- the race */

enum order {
    REAPED_BEFORE_CANCEL, /* the completion was reaped; the task was woken, not yet polled */
    UNREAPED_AT_CANCEL,   /* the completion waits in the CQ when the cancel goes out */
};

struct race {
    struct rt_async async;
    enum order order;
    int listen_fd;    /* for an accept; -1 for an open */
    const char *path; /* for an open: a FIFO */
    int peer;         /* the other end: a connected client, or the FIFO's writer */
    bool on_fd_0;     /* close stdin first, so that the accept's new fd is 0 */
    struct rt_join_handle victim;
    struct test_yield pause;
    unsigned long reaped;
    int waited_ms;
};

/* Let the victim's request complete: connect to the listener, or open the FIFO for writing. */
static int let_it_complete(struct race *f)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd;

    if (f->listen_fd < 0) {
        /* ENXIO: the kernel's worker has not begun the reader's open yet. */
        for (int ms = 0; (fd = open(f->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0; ms++) {
            ck_assert_int_eq(errno, ENXIO);
            ck_assert_msg(ms < 5000, "the open never reached the FIFO");
            poll(NULL, 0, 1);
        }
        return fd;
    }
    addr.sin_port = htons((uint16_t)rt_tcp_port(f->listen_fd));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    /* The accept runs when the connection arrives, and takes the lowest free number. */
    if (f->on_fd_0)
        ck_assert_int_eq(close(STDIN_FILENO), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static enum rt_poll race_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct race *f = (struct race *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct fd_maker m = {
            .async = RT_ASYNC_INIT(&fd_maker_vtable), .listen_fd = f->listen_fd, .path = f->path};
        f->victim = rt_spawn(&m.async.future, sizeof(m));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the victim polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 1); /* waiting for a client, or a writer */
    f->reaped = reactor_now()->stats.completed;

    f->peer = let_it_complete(f);
    if (f->order == REAPED_BEFORE_CANCEL) {
        /*
         * Let the reactor reap the completion. It wakes the victim, which is
         * queued behind us (we woke ourselves first), so we run before it
         * can take its fd.
         */
        while (reactor_now()->stats.completed == f->reaped) {
            f->pause = test_yield(1, 0, NULL);
            AWAIT(&f->pause.future, NULL);
        }
    } else {
        /*
         * Wait for the completion without giving the reactor a turn: each
         * poll() returns through the kernel, which posts completions due to
         * this thread on the way out. (In phase 3's COOP and DEFER modes the
         * kernel keeps them as task work until the thread asks for them, and
         * says so with IORING_SQ_TASKRUN in the shared ring: we ask, with
         * io_uring_get_events(), which posts them without reaping them.)
         */
        while (io_uring_cq_ready(&reactor_now()->ring) == 0) {
            ck_assert_msg(f->waited_ms++ < 5000, "the request did not complete");
            if (IO_URING_READ_ONCE(*reactor_now()->ring.sq.kflags) & IORING_SQ_TASKRUN)
                io_uring_get_events(&reactor_now()->ring);
            else
                poll(NULL, 0, 1);
        }
        ck_assert_uint_eq(reactor_now()->stats.completed, f->reaped); /* posted, not reaped */
    }

    ck_assert(rt_join_cancel(&f->victim)); /* it never saw its result */
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    while (!rt__reactor_idle(reactor_now())) { /* an orphan waits for its CQEs */
        f->pause = test_yield(1, 0, NULL);
        AWAIT(&f->pause.future, NULL);
    }
    ck_assert_uint_eq(reactor_now()->stats.released, 1); /* the fd went through the release rule */
    ASYNC_RETURN(f->peer);
    ASYNC_END;
}

static const struct rt_future_vtable race_vtable = {race_poll, rt_async_drop};

/* ------------------------------------------------------------ accept */

static void accept_then_cancel(enum order order, bool on_fd_0)
{
    struct race f = {.async = RT_ASYNC_INIT(&race_vtable), .order = order, .on_fd_0 = on_fd_0};
    int before = count_fds(), client;
    char byte;

    f.listen_fd = rt_tcp_listen("127.0.0.1", 0, 8);
    ck_assert_int_ge(f.listen_fd, 0);
    client = (int)test_run(&f.async.future, sizeof(f));

    /* The accepted socket was closed: the client reads end of file. */
    {
        struct pollfd p = {.fd = client, .events = POLLIN};
        ck_assert_msg(poll(&p, 1, 5000) == 1, "the accepted connection was left open");
    }
    ck_assert_int_eq(recv(client, &byte, 1, MSG_DONTWAIT), 0);
    close(client);
    close(f.listen_fd);
    ck_assert_int_eq(count_fds(), on_fd_0 ? before - 1 : before); /* stdin is gone too */
}

START_TEST(accept_reaped_then_cancelled_closes_the_connection)
{
    accept_then_cancel(REAPED_BEFORE_CANCEL, false);
}
END_TEST

START_TEST(accept_completing_while_cancelled_closes_the_connection)
{
    accept_then_cancel(UNREAPED_AT_CANCEL, false);
}
END_TEST

/* Descriptor 0 is a descriptor like any other: released too, where a test of "> 0" would not. */
START_TEST(an_accepted_fd_0_is_released_too)
{
    accept_then_cancel(REAPED_BEFORE_CANCEL, true);
}
END_TEST

/* -------------------------------------------------------------- open */

static void open_then_cancel(enum order order)
{
    char dir[] = "/tmp/rt-test-XXXXXX", fifo[64];
    struct race f = {.async = RT_ASYNC_INIT(&race_vtable), .order = order, .listen_fd = -1};
    int before = count_fds(), writer;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    f.path = fifo;
    signal(SIGPIPE, SIG_IGN); /* the check below writes to a FIFO that should have no reader */
    writer = (int)test_run(&f.async.future, sizeof(f));

    /* The reading end the open made was closed: the writer has no reader left. */
    ck_assert_int_eq(write(writer, "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    close(writer);
    unlink(fifo);
    rmdir(dir);
    ck_assert_int_eq(count_fds(), before);
}

START_TEST(open_reaped_then_cancelled_closes_the_file)
{
    open_then_cancel(REAPED_BEFORE_CANCEL);
}
END_TEST

START_TEST(open_completing_while_cancelled_closes_the_file)
{
    open_then_cancel(UNREAPED_AT_CANCEL);
}
END_TEST

/* ------------------------------------------------------------- close */

/* Closes `fd`. */
struct closer {
    struct rt_async async;
    struct rt_io io;
    int fd;
};

static enum rt_poll closer_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct closer *f = (struct closer *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_close(&f->io, f->fd);
    AWAIT(&f->io.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable closer_vtable = {closer_poll, rt_async_drop};

struct close_dropped {
    struct rt_async async;
    int fds[2];
    struct rt_io io;
    struct rt_join_handle victim, killer;
};

static enum rt_poll close_dropped_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct close_dropped *f = (struct close_dropped *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Prepared, never polled, dropped: the request never existed, yet the fd was handed over. */
    rt_io_close(&f->io, f->fds[0]);
    rt_future_drop(&f->io.future);
    ck_assert_int_eq(fcntl(f->fds[0], F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);

    /* Queued for the ring, then cancelled in the same turn, before it was submitted. */
    {
        struct closer c = {.async = RT_ASYNC_INIT(&closer_vtable), .fd = f->fds[1]};
        f->victim = rt_spawn(&c.async.future, sizeof(c));
    }
    {
        struct test_canceller k = test_canceller(&f->victim);
        f->killer = rt_spawn(&k.future, sizeof(k));
    }
    AWAIT(&f->killer.future, NULL);
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    ck_assert_uint_eq(reactor_now()->stats.submitted, 0); /* the kernel never saw either */
    ck_assert_int_eq(fcntl(f->fds[1], F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable close_dropped_vtable = {close_dropped_poll, rt_async_drop};

START_TEST(a_dropped_close_still_closes)
{
    struct close_dropped f = {.async = RT_ASYNC_INIT(&close_dropped_vtable)};

    ck_assert_int_eq(pipe(f.fds), 0);
    test_run(&f.async.future, sizeof(f));
}
END_TEST

Suite *suite_release(void)
{
    Suite *s = suite_create("release");
    TCase *tc = test_case("release");

    tcase_add_test(tc, accept_reaped_then_cancelled_closes_the_connection);
    tcase_add_test(tc, accept_completing_while_cancelled_closes_the_connection);
    tcase_add_test(tc, an_accepted_fd_0_is_released_too);
    tcase_add_test(tc, open_reaped_then_cancelled_closes_the_file);
    tcase_add_test(tc, open_completing_while_cancelled_closes_the_file);
    tcase_add_test(tc, a_dropped_close_still_closes);
    suite_add_tcase(s, tc);
    return s;
}
