/*
 * io.c - struct rt_io: one request to the kernel as a future. New in phase 2.
 *
 * Preparing an rt_io allocates its source and fills the source's SQE with
 * liburing's io_uring_prep_* helpers, pointing the kernel at the source's own
 * memory. io_poll() queues the request on its first poll and takes the result
 * when it is done; io_drop() hands an unfinished request to the reactor,
 * which cancels it safely.
 *
 * Everything about one operation is in this file: its rt_io_*() function
 * and its entry in rt__io_ops[], the table the reactor reads. Adding an
 * operation is a change to io.h and io.c only.
 */
#include "io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fatal.h"
#include "executor.h"
#include "reactor.h"

/* ------------------------------------------------------------- the operations */

/* An accept or an open finished, but its future is gone: nobody else will close the new fd. */
static void close_new_fd(const struct io_uring_sqe *sqe, int res)
{
    (void)sqe;
    if (res >= 0)
        close(res);
}

/*
 * rt_io_close() takes the fd from its caller, so the fd is closed even when
 * the future is dropped before the kernel got to it (the reactor reports a
 * request that never ran as -ECANCELED).
 */
static void close_anyway(const struct io_uring_sqe *sqe, int res)
{
    if (res == -ECANCELED)
        close(sqe->fd);
}

/*
 * Every operation this runtime uses, by opcode: the reactor checks at startup
 * that the kernel has each one, and applies `release` to a result nobody will
 * take. The others make nothing to release: reads land in the source's own
 * memory (freed with it), and connect's socket belongs to its caller.
 */
const struct io_op rt__io_ops[IORING_OP_LAST] = {
    [IORING_OP_NOP] = {"NOP", 0, NULL},
    [IORING_OP_READ] = {"READ", 0, NULL},
    [IORING_OP_WRITE] = {"WRITE", 0, NULL},
    [IORING_OP_FSYNC] = {"FSYNC", 0, NULL},
    [IORING_OP_OPENAT] = {"OPENAT", 0, close_new_fd},
    [IORING_OP_CLOSE] = {"CLOSE", 0, close_anyway},
    [IORING_OP_ACCEPT] = {"ACCEPT", 0, close_new_fd},
    [IORING_OP_CONNECT] = {"CONNECT", 0, NULL},
    [IORING_OP_RECV] = {"RECV", 0, NULL},
    [IORING_OP_SEND] = {"SEND", 0, NULL},
    [IORING_OP_TIMEOUT] = {"TIMEOUT", -ETIME, NULL},      /* -ETIME: the sleep ran its full time */
    [IORING_OP_ASYNC_CANCEL] = {"ASYNC_CANCEL", 0, NULL}, /* the reactor's own, for orphans */
};

/* ------------------------------------------------------------- the future */

static enum rt_poll io_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_io *io = (struct rt_io *)self;
    struct rt_source *s = io->source;
    struct rt_executor *ex = rt_executor_current();

    if (!s)
        rt__die("an rt_io future was polled after it finished");
    if (s->state == SOURCE_NEW) {
        if (!ex)
            rt__die("an rt_io future was polled outside an executor");
        /* Lazily, as every future: the request is queued by its first poll, not when made. */
        rt__source_submit(rt__executor_reactor(ex), s);
    }
    if (s->state != SOURCE_DONE) {
        rt_waker_register(&s->waker, cx); /* the reactor wakes us when the CQE arrives */
        return RT_PENDING;
    }

    *out = s->res;
    if (s->res < 0 && s->res == rt__io_ops[s->sqe.opcode].means_done)
        *out = 0; /* e.g. a sleep that ran its full time */
    if (io->read_into && s->res > 0)
        memcpy(io->read_into, s->data, (size_t)s->res);
    rt__source_free(s);
    io->source = NULL;
    return RT_READY;
}

static void io_drop(struct rt_future *self)
{
    struct rt_io *io = (struct rt_io *)self;

    if (io->source)
        rt__source_abandon(io->source);
    io->source = NULL;
}

static const struct rt_future_vtable io_vtable = {.poll = io_poll, .drop = io_drop};

/*
 * Make `io` a future whose source has `len` bytes of memory for the kernel.
 * `io` must hold no request: zero-filled, finished, or dropped (see io.h).
 */
static struct rt_source *io_init(struct rt_io *io, size_t len)
{
    if (io->source)
        rt__die("an rt_io was prepared again while it still had a request (prepared, or in "
                "flight): await it to the end or drop it first, and start from a zero-filled "
                "struct rt_io");
    io->future.vtable = &io_vtable;
    io->source = rt__source_new(len);
    io->read_into = NULL;
    return io->source;
}

static size_t clamp(size_t len)
{
    return len < RT_IO_MAX ? len : RT_IO_MAX;
}

/* Copy the caller's bytes into the source. `from` may be NULL when `len` is 0, as in write(2). */
static void copy_in(struct rt_source *s, const void *from, size_t len)
{
    if (len > 0)
        memcpy(s->data, from, len);
}

void rt_io_open(struct rt_io *io, const char *path, int flags, mode_t mode)
{
    size_t len;
    struct rt_source *s;

    ASSERT_ARG(io);
    ASSERT_ARG(path);
    len = strlen(path) + 1;
    s = io_init(io, len);

    /* The request reaches the kernel at the end of the turn, when the caller's path may be gone. */
    copy_in(s, path, len);
    io_uring_prep_openat(&s->sqe, AT_FDCWD, (const char *)s->data, flags, mode);
}

void rt_io_read(struct rt_io *io, int fd, void *buf, size_t len, uint64_t offset)
{
    struct rt_source *s;

    ASSERT_ARG(io);
    ASSERT_BUF(buf, len);
    s = io_init(io, clamp(len));

    io_uring_prep_read(&s->sqe, fd, s->data, (unsigned)clamp(len), offset);
    io->read_into = buf;
}

void rt_io_write(struct rt_io *io, int fd, const void *buf, size_t len, uint64_t offset)
{
    struct rt_source *s;

    ASSERT_ARG(io);
    ASSERT_BUF(buf, len);
    s = io_init(io, clamp(len));

    copy_in(s, buf, clamp(len));
    io_uring_prep_write(&s->sqe, fd, s->data, (unsigned)clamp(len), offset);
}

void rt_io_fsync(struct rt_io *io, int fd)
{
    ASSERT_ARG(io);
    io_uring_prep_fsync(&io_init(io, 0)->sqe, fd, 0);
}

void rt_io_close(struct rt_io *io, int fd)
{
    ASSERT_ARG(io);
    io_uring_prep_close(&io_init(io, 0)->sqe, fd);
}

void rt_io_accept(struct rt_io *io, int listen_fd)
{
    ASSERT_ARG(io);
    io_uring_prep_accept(&io_init(io, 0)->sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

void rt_io_connect(struct rt_io *io, int fd, const struct sockaddr *addr, socklen_t addr_len)
{
    struct rt_source *s;

    ASSERT_ARG(io);
    if (addr_len > sizeof(struct sockaddr_storage)) {
        /* As connect(2): -EINVAL before a byte of `addr` is read (it may be that short). */
        s = io_init(io, 0);
        s->res = -EINVAL;
        s->state = SOURCE_DONE;
        return;
    }
    ASSERT_BUF(addr, addr_len);
    s = io_init(io, addr_len);

    copy_in(s, addr, addr_len);
    io_uring_prep_connect(&s->sqe, fd, (const struct sockaddr *)s->data, addr_len);
}

void rt_io_recv(struct rt_io *io, int fd, void *buf, size_t len)
{
    struct rt_source *s;

    ASSERT_ARG(io);
    ASSERT_BUF(buf, len);
    s = io_init(io, clamp(len));

    io_uring_prep_recv(&s->sqe, fd, s->data, clamp(len), 0);
    io->read_into = buf;
}

void rt_io_send(struct rt_io *io, int fd, const void *buf, size_t len)
{
    struct rt_source *s;

    ASSERT_ARG(io);
    ASSERT_BUF(buf, len);
    s = io_init(io, clamp(len));

    copy_in(s, buf, clamp(len));
    /* MSG_NOSIGNAL: a peer that has gone away gives -EPIPE, not a SIGPIPE that kills us. */
    io_uring_prep_send(&s->sqe, fd, s->data, clamp(len), MSG_NOSIGNAL);
}

void rt_io_sleep(struct rt_io *io, uint64_t ns)
{
    struct rt_source *s;
    struct __kernel_timespec *ts;

    ASSERT_ARG(io);
    s = io_init(io, sizeof(struct __kernel_timespec));
    ts = (struct __kernel_timespec *)s->data;

    ts->tv_sec = (long long)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (long long)(ns % NSEC_PER_SEC);
    /* A relative timeout on CLOCK_MONOTONIC that waits for no other completions (count 0). */
    io_uring_prep_timeout(&s->sqe, ts, 0, 0);
    if (ns > RT_DURATION_MAX) {
        /* Finished before it starts: the first poll returns -EINVAL, and nothing is sent. */
        s->res = -EINVAL;
        s->state = SOURCE_DONE;
    }
}

void rt_io_nop(struct rt_io *io)
{
    ASSERT_ARG(io);
    io_uring_prep_nop(&io_init(io, 0)->sqe);
}

/* ------------------------------------------------------------- whole transfers */

void rt__io_check_unused(const struct rt_io *io, const char *what)
{
    if (io->source)
        rt__die("an %s was prepared again while its request was in flight: await it to the end "
                "or drop it first, and start from a zero-filled struct %s",
                what, what);
}

bool rt__transfer_step(intptr_t *n, size_t *done, bool reading)
{
    if (*n > 0) {
        *done += (size_t)*n;
        return true;
    }
    if (*n == -EINTR || *n == -EAGAIN)
        return true; /* nothing moved; ask again */
    if (*n == 0)
        *n = reading ? (intptr_t)*done : -EIO; /* end of file; or no progress, and never any */
    return false;
}
