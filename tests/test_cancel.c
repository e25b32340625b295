/*
 * tests/test_cancel.c - cancellation safety: a task dropped while the kernel
 * works on its request never lets the kernel write into freed memory, and
 * never gets a freed task woken. Run under `make test SAN=1` these tests are
 * the proof: AddressSanitizer reports any use after free, and the harness's
 * leak check (and LeakSanitizer) any source that was never freed.
 *
 * Cases: a task blocked in recv is cancelled and then data arrives; 1,000
 * reads in flight are cancelled; a sleeping task is cancelled; requests are
 * dropped before they reach the ring; an executor is destroyed with all of
 * these in flight; a request the kernel cancels on its own (no io-wq worker
 * could be made) is sent again, and after its share of attempts ends in
 * -EINTR (each request its own share), or is cancelled by its task while it
 * waits to be sent again.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h" /* in-flight counts and statistics, to prove requests were really in flight */

TEST_SINCE_PHASE(2);

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* ------------------------------------------------------ small futures */

/* Receives into a buffer of its own: the memory a careless runtime would let the kernel scribble
 * on. */
struct receiver {
    struct rt_async async;
    struct rt_io io;
    int fd;
    char buf[64];
    intptr_t n;
};

static enum rt_poll receiver_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct receiver *f = (struct receiver *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv(&f->io, f->fd, f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable receiver_vtable = {receiver_poll, rt_async_drop};

static struct rt_join_handle spawn_receiver(int fd)
{
    struct receiver r = {.async = RT_ASYNC_INIT(&receiver_vtable), .fd = fd};

    return rt_spawn(&r.async.future, sizeof(r));
}

/* Reads from a file descriptor (a pipe that stays empty): a read the kernel has to wait for. */
struct reader {
    struct rt_async async;
    struct rt_io io;
    int fd;
    char buf[16];
};

static enum rt_poll reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reader *f = (struct reader *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reader_vtable = {reader_poll, rt_async_drop};

/* Sleeps for `ns`. */
struct sleeper {
    struct rt_async async;
    struct rt_io io;
    uint64_t ns;
};

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->io, f->ns);
    AWAIT(&f->io.future, NULL);
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

#define AN_HOUR (3600ull * 1000000000ull)

/* ------------------------------------- a recv cancelled, then data arrives */

struct recv_then_data {
    struct rt_async async;
    int fds[2]; /* a connected pair: we receive on fds[0], send on fds[1] */
    struct rt_join_handle victim;
    struct test_yield pause;
    struct rt_io io;
    char buf[16];
    intptr_t n;
};

static enum rt_poll recv_then_data_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct recv_then_data *f = (struct recv_then_data *)self;

    ASYNC_BEGIN(f, cx, out);
    f->victim = spawn_receiver(f->fds[0]);
    f->pause = test_yield(2, 0, NULL); /* two turns: the victim polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 1); /* the recv is in the kernel, waiting */

    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    /*
     * The victim is gone at once, though its recv's CQE has not been reaped
     * yet: the orphaned request lets go of the task's waker. Kept, it would
     * keep the task (and all it holds) alive until that CQE came back.
     */
    ck_assert_uint_gt(reactor_now()->in_flight, 0);
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1);

    /*
     * Now the data. The kernel processed the cancel before rt_join_cancel()
     * returned: the recv ended with -ECANCELED, and the bytes stay in the
     * socket, where our own recv finds them.
     */
    rt_io_send(&f->io, f->fds[1], "after", 5);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 5);
    ck_assert(memcmp(f->buf, "after", 5) == 0);
    ck_assert_uint_eq(reactor_now()->in_flight, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable recv_then_data_vtable = {recv_then_data_poll, rt_async_drop};

START_TEST(cancel_blocked_recv_then_data_arrives)
{
    struct recv_then_data f = {.async = RT_ASYNC_INIT(&recv_then_data_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    test_run(&f.async.future, sizeof(f));
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* ------------------------------------------------- 1,000 reads cancelled */

#define READERS 1000

struct many_reads {
    struct rt_async async;
    int pipe[2];
    struct rt_join_handle *jobs;
    struct test_yield pause;
    struct rt_io io;
    char buf[8];
    int i;
    intptr_t n;
};

static enum rt_poll many_reads_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_reads *f = (struct many_reads *)self;

    ASYNC_BEGIN(f, cx, out);
    f->jobs = rt__calloc(READERS, sizeof(*f->jobs));
    for (f->i = 0; f->i < READERS; f->i++) {
        struct reader r = {.async = RT_ASYNC_INIT(&reader_vtable), .fd = f->pipe[0]};
        f->jobs[f->i] = rt_spawn(&r.async.future, sizeof(r));
    }
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    /* Every read is in the kernel, through a submission queue of 16 slots. */
    ck_assert_uint_eq(reactor_now()->in_flight, READERS);
    ck_assert_uint_gt(reactor_now()->stats.sq_full, 0);

    for (f->i = 0; f->i < READERS; f->i++)
        ck_assert(rt_join_cancel(&f->jobs[f->i]));
    for (f->i = 0; f->i < READERS; f->i++) {
        AWAIT(&f->jobs[f->i].future, NULL);
        ck_assert(f->jobs[f->i].cancelled);
    }
    rt__free(f->jobs);

    /*
     * The cancelled reads took nothing from the pipe: what we write now is all
     * still there. (A plain write(), outside the ring: the cancels must already
     * be in the kernel, not waiting for the end of the turn.)
     */
    ck_assert_int_eq(write(f->pipe[1], "12345678", 8), 8);
    rt_io_read(&f->io, f->pipe[0], f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 8);
    ck_assert(memcmp(f->buf, "12345678", 8) == 0);
    /* The cancels have all completed (their sources were freed: the leak check will tell). */
    ck_assert_uint_eq(reactor_now()->in_flight, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable many_reads_vtable = {many_reads_poll, rt_async_drop};

START_TEST(cancel_a_thousand_reads_in_flight)
{
    struct many_reads f = {.async = RT_ASYNC_INIT(&many_reads_vtable)};
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;

    b.ring_entries = 16;
    ex = test_executor_with(&b);
    ck_assert_int_eq(pipe(f.pipe), 0);
    rt_executor_run(ex, &f.async.future, sizeof(f));
    rt_executor_destroy(ex);
    close(f.pipe[0]);
    close(f.pipe[1]);
}
END_TEST

/* ------------------------------------------------ a sleeping task cancelled */

struct cancel_sleep {
    struct rt_async async;
    struct rt_join_handle sleeper;
    struct test_yield pause;
};

static enum rt_poll cancel_sleep_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_sleep *f = (struct cancel_sleep *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable), .ns = AN_HOUR};
        f->sleeper = rt_spawn(&s.async.future, sizeof(s));
    }
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 1);
    ck_assert(rt_join_cancel(&f->sleeper));
    /* If the cancel did not reach the kernel, this would wait an hour: the test's timeout catches
     * it. */
    AWAIT(&f->sleeper.future, NULL);
    ck_assert(f->sleeper.cancelled);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_sleep_vtable = {cancel_sleep_poll, rt_async_drop};

START_TEST(cancel_a_sleeping_task)
{
    struct cancel_sleep f = {.async = RT_ASYNC_INIT(&cancel_sleep_vtable)};
    struct rt_executor *ex = test_executor();

    rt_executor_run(ex, &f.async.future, sizeof(f));
    /* The timeout's own completion (-ECANCELED) was reaped: nothing is left for destroy to wait
     * for. */
    ck_assert(rt__reactor_idle(rt__executor_reactor(ex)));
    rt_executor_destroy(ex);
}
END_TEST

/* -------------------------------- dropped before reaching the kernel */

struct drop_early {
    struct rt_async async;
    int fds[2];
    struct rt_join_handle never_polled, waiting, killer;
    intptr_t killed;
};

static enum rt_poll drop_early_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct drop_early *f = (struct drop_early *)self;

    ASYNC_BEGIN(f, cx, out);
    /* NEW: cancelled before its first poll, so its request was never even queued. */
    f->never_polled = spawn_receiver(f->fds[0]);
    ck_assert(rt_join_cancel(&f->never_polled));

    /* WAITING: polled (queued for the ring), then cancelled in the same turn, before any submit. */
    f->waiting = spawn_receiver(f->fds[0]);
    {
        /* Spawned right after its victim, it runs in the same turn, before any submit. */
        struct test_canceller c = test_canceller(&f->waiting);
        f->killer = rt_spawn(&c.future, sizeof(c));
    }
    AWAIT(&f->killer.future, &f->killed);
    ck_assert_int_eq(f->killed, 1);
    AWAIT(&f->waiting.future, NULL);
    ck_assert(f->waiting.cancelled);
    AWAIT(&f->never_polled.future, NULL);
    ck_assert(f->never_polled.cancelled);

    /* Neither request ever reached the kernel. */
    ck_assert_uint_eq(reactor_now()->stats.submitted, 0);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable drop_early_vtable = {drop_early_poll, rt_async_drop};

START_TEST(requests_dropped_before_reaching_the_kernel)
{
    struct drop_early f = {.async = RT_ASYNC_INIT(&drop_early_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    test_run(&f.async.future, sizeof(f));
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* ---------------------------------------- destroyed with I/O in flight */

struct leave_io_behind {
    struct rt_async async;
    int fds[2], pipe[2];
    struct test_yield pause;
    int i;
};

static enum rt_poll leave_io_behind_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct leave_io_behind *f = (struct leave_io_behind *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < 10; f->i++) {
        struct rt_join_handle h = spawn_receiver(f->fds[0]);
        struct reader r = {.async = RT_ASYNC_INIT(&reader_vtable), .fd = f->pipe[0]};
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable), .ns = AN_HOUR};

        rt_join_detach(&h);
        h = rt_spawn(&r.async.future, sizeof(r));
        rt_join_detach(&h);
        h = rt_spawn(&s.async.future, sizeof(s));
        rt_join_detach(&h);
    }
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 30);
    ASYNC_RETURN(0); /* and leave all thirty requests to rt_executor_destroy */
    ASYNC_END;
}

static const struct rt_future_vtable leave_io_behind_vtable = {leave_io_behind_poll, rt_async_drop};

START_TEST(destroy_with_io_in_flight)
{
    struct leave_io_behind f = {.async = RT_ASYNC_INIT(&leave_io_behind_vtable)};
    struct rt_executor *ex = test_executor();

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(pipe(f.pipe), 0);
    rt_executor_run(ex, &f.async.future, sizeof(f));
    ck_assert_uint_eq(rt_executor_task_count(ex), 30);
    /* Cancels every task, cancels every request, waits for the kernel, frees it all. */
    rt_executor_destroy(ex);
    /* The data path is untouched: a byte sent now is read back whole. */
    ck_assert_int_eq(write(f.fds[1], "x", 1), 1);
    {
        char c = 0;
        ck_assert_int_eq(read(f.fds[0], &c, 1), 1);
        ck_assert_int_eq(c, 'x');
    }
    close(f.fds[0]);
    close(f.fds[1]);
    close(f.pipe[0]);
    close(f.pipe[1]);
}
END_TEST

/* ------------------------------------------ a cancel the runtime did not make */

/*
 * The kernel cancels a request on its own (-ECANCELED) when the request
 * needs an io-wq worker thread and no thread can be made (reactor.c,
 * resubmit()). A test makes that happen for real: an fsync always goes to a
 * worker, and a process at its RLIMIT_NPROC cannot make one. Root (in the
 * initial user namespace) is never held to that limit, so a test running as
 * root becomes nobody first; this test's process is its own, and ends with
 * the test.
 */
static void no_worker_threads(void)
{
    struct rlimit lim;

    if (geteuid() == 0 && setuid(65534) != 0)
        TEST_SKIP("cannot give up root, which RLIMIT_NPROC does not hold");
    ck_assert_int_eq(getrlimit(RLIMIT_NPROC, &lim), 0);
    lim.rlim_cur = 0; /* the soft limit: raised again to the hard one later */
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &lim), 0);
}

static void worker_threads_again(void)
{
    struct rlimit lim;

    ck_assert_int_eq(getrlimit(RLIMIT_NPROC, &lim), 0);
    lim.rlim_cur = lim.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &lim), 0);
}

/* A file of one byte, already unlinked: something to fsync. */
static int file_to_fsync(void)
{
    char path[64];
    int fd;

    test_temp_file(path, "x", 1);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

struct fsyncer {
    struct rt_async async;
    struct rt_io io;
    int fd;
    intptr_t res;
};

static enum rt_poll fsyncer_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fsyncer *f = (struct fsyncer *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_fsync(&f->io, f->fd);
    AWAIT(&f->io.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable fsyncer_vtable = {fsyncer_poll, rt_async_drop};

/*
 * Skips unless the kernel cancelled the fsync that ended with `res`: a kernel
 * that made its worker anyway, or needs none, leaves nothing to test.
 */
static void need_kernel_cancel(intptr_t res, const struct reactor_stats *stats)
{
    if (res == 0 && stats->resubmitted == 0)
        TEST_SKIP("this kernel ran an fsync without the worker thread it could not make");
}

/*
 * Lets worker threads be made again once the kernel has cancelled a request
 * and it was sent again; until then it wakes itself at every poll, as a
 * yield does.
 */
static enum rt_poll restorer_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    if (reactor_now()->stats.resubmitted == 0) {
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    worker_threads_again();
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable restorer_vtable = {.poll = restorer_poll};

struct fsync_once_allowed {
    struct rt_async async;
    struct rt_join_handle restorer;
    struct fsyncer sync;
    intptr_t res;
};

static enum rt_poll fsync_once_allowed_poll(struct rt_future *self, struct rt_context *cx,
                                            intptr_t *out)
{
    struct fsync_once_allowed *f = (struct fsync_once_allowed *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future r = {.vtable = &restorer_vtable};
        f->restorer = rt_spawn(&r, sizeof(r));
    }
    AWAIT(&f->sync.async.future, &f->res);
    need_kernel_cancel(f->res, &reactor_now()->stats);
    ck_assert_int_eq(f->res, 0);
    AWAIT(&f->restorer.future, NULL); /* done already: it saw the request sent again */
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static void fsync_once_allowed_drop(struct rt_future *self)
{
    struct fsync_once_allowed *f = (struct fsync_once_allowed *)self;

    rt_async_drop(self);
    rt_join_detach(&f->restorer);
}

static const struct rt_future_vtable fsync_once_allowed_vtable = {fsync_once_allowed_poll,
                                                                  fsync_once_allowed_drop};

/*
 * The kernel cancels the fsync, the runtime sends it again, and once worker
 * threads can be made again it is done: the task sees 0, never -ECANCELED
 * for a cancel it did not ask for.
 */
START_TEST(a_request_the_kernel_cancelled_is_sent_again)
{
    struct fsync_once_allowed f = {.async = RT_ASYNC_INIT(&fsync_once_allowed_vtable),
                                   .sync = {.async = RT_ASYNC_INIT(&fsyncer_vtable)}};
    struct rt_executor *ex;
    struct reactor_stats *stats;

    f.sync.fd = file_to_fsync();
    ex = test_executor();
    stats = &rt__executor_reactor(ex)->stats;
    no_worker_threads();
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert_uint_gt(stats->resubmitted, 0);
    ck_assert_uint_eq(stats->submitted, stats->resubmitted + 1); /* one fsync, sent again */
    rt_executor_destroy(ex);
    close(f.sync.fd);
}
END_TEST

/*
 * While no worker thread can be made at all, the kernel cancels the fsync
 * every time it is sent: after its share of attempts the task is told
 * -EINTR, as after a signal, and may try again (here, successfully, once
 * threads can be made).
 */
START_TEST(a_request_the_kernel_keeps_cancelling_ends_in_eintr)
{
    struct fsyncer f = {.async = RT_ASYNC_INIT(&fsyncer_vtable)};
    struct rt_executor *ex;
    struct reactor_stats *stats;
    intptr_t res;

    f.fd = file_to_fsync();
    ex = test_executor();
    stats = &rt__executor_reactor(ex)->stats;
    no_worker_threads();
    res = rt_executor_run(ex, &f.async.future, sizeof(f));
    need_kernel_cancel(res, stats);
    ck_assert_int_eq(res, -EINTR);
    ck_assert_uint_gt(stats->resubmitted, 0);
    ck_assert_uint_eq(stats->submitted, stats->resubmitted + 1);

    worker_threads_again();
    f = (struct fsyncer){.async = RT_ASYNC_INIT(&fsyncer_vtable), .fd = f.fd};
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    close(f.fd);
}
END_TEST

/*
 * Each request gets its own share of attempts. While no worker thread can be
 * made, two fsyncs one after the other on the same executor both end in
 * -EINTR, and the second is sent again as many times as the first: its
 * request (made from the block the first one gave back, phase 4) does not
 * start with the first one's count of attempts.
 */
START_TEST(each_request_the_kernel_cancels_gets_its_own_attempts)
{
    struct fsyncer f = {.async = RT_ASYNC_INIT(&fsyncer_vtable)};
    struct rt_executor *ex;
    struct reactor_stats *stats;
    unsigned long first;
    intptr_t res;

    f.fd = file_to_fsync();
    ex = test_executor();
    stats = &rt__executor_reactor(ex)->stats;
    no_worker_threads();
    res = rt_executor_run(ex, &f.async.future, sizeof(f));
    need_kernel_cancel(res, stats);
    ck_assert_int_eq(res, -EINTR);
    first = stats->resubmitted;
    ck_assert_uint_gt(first, 0);

    f = (struct fsyncer){.async = RT_ASYNC_INIT(&fsyncer_vtable), .fd = f.fd};
    res = rt_executor_run(ex, &f.async.future, sizeof(f));
    ck_assert_int_eq(res, -EINTR);
    ck_assert_uint_eq(stats->resubmitted, 2 * first);
    ck_assert_uint_eq(stats->submitted, stats->resubmitted + 2); /* two fsyncs, each sent again */
    worker_threads_again();
    rt_executor_destroy(ex);
    close(f.fd);
}
END_TEST

/*
 * Cancels the task behind `*victim` as soon as the reactor has queued a
 * request the kernel cancelled to be sent again: at that moment the request
 * is back on the waiting list, between two submissions. Until then it wakes
 * itself at every poll, as a yield does. Output: what rt_join_cancel said.
 */
struct cancel_when_resent {
    struct rt_future future;
    struct rt_join_handle *victim;
};

static enum rt_poll cancel_when_resent_poll(struct rt_future *self, struct rt_context *cx,
                                            intptr_t *out)
{
    if (reactor_now()->stats.resubmitted == 0) {
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    *out = rt_join_cancel(((struct cancel_when_resent *)self)->victim);
    return RT_READY;
}

static const struct rt_future_vtable cancel_when_resent_vtable = {.poll = cancel_when_resent_poll};

struct cancel_resent {
    struct rt_async async;
    int fd;
    struct rt_join_handle victim, killer;
    intptr_t res;
};

static enum rt_poll cancel_resent_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_resent *f = (struct cancel_resent *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct fsyncer s = {.async = RT_ASYNC_INIT(&fsyncer_vtable), .fd = f->fd};

        f->victim = rt_spawn(&s.async.future, sizeof(s));
    }
    {
        struct cancel_when_resent k = {{&cancel_when_resent_vtable}, &f->victim};

        f->killer = rt_spawn(&k.future, sizeof(k));
    }
    AWAIT(&f->victim.future, &f->res);
    if (!f->victim.cancelled)
        need_kernel_cancel(f->res, &reactor_now()->stats);
    ck_assert(f->victim.cancelled);
    AWAIT(&f->killer.future, &f->res);
    ck_assert_int_eq(f->res, 1);
    /* The request waiting to be sent again never was: one fsync reached the kernel, once. */
    ck_assert_uint_eq(reactor_now()->stats.submitted, 1);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static void cancel_resent_drop(struct rt_future *self)
{
    struct cancel_resent *f = (struct cancel_resent *)self;

    rt_async_drop(self);
    rt_join_detach(&f->killer);
}

static const struct rt_future_vtable cancel_resent_vtable = {cancel_resent_poll,
                                                             cancel_resent_drop};

/*
 * A task cancelled while its request, cancelled by the kernel, waits to be
 * sent again: the request is taken off the waiting list and freed, never
 * sent, and nothing is left for the reactor to wait for.
 */
START_TEST(a_request_waiting_to_be_sent_again_is_cancelled)
{
    struct cancel_resent f = {.async = RT_ASYNC_INIT(&cancel_resent_vtable)};
    struct rt_executor *ex;

    f.fd = file_to_fsync();
    ex = test_executor();
    no_worker_threads();
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    worker_threads_again(); /* LeakSanitizer's check at exit needs a thread of its own */
    rt_executor_destroy(ex);
    close(f.fd);
}
END_TEST

Suite *suite_cancel(void)
{
    Suite *s = suite_create("cancel");
    TCase *tc = test_case("cancel");

    tcase_add_test(tc, cancel_blocked_recv_then_data_arrives);
    tcase_add_test(tc, cancel_a_thousand_reads_in_flight);
    tcase_add_test(tc, cancel_a_sleeping_task);
    tcase_add_test(tc, requests_dropped_before_reaching_the_kernel);
    tcase_add_test(tc, destroy_with_io_in_flight);
    tcase_add_test(tc, a_request_the_kernel_cancelled_is_sent_again);
    tcase_add_test(tc, a_request_the_kernel_keeps_cancelling_ends_in_eintr);
    tcase_add_test(tc, each_request_the_kernel_cancels_gets_its_own_attempts);
    tcase_add_test(tc, a_request_waiting_to_be_sent_again_is_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
