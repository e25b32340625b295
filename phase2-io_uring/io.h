/*
 * io.h - asynchronous I/O as futures: one struct rt_io per request to the
 * kernel. New in phase 2.
 *
 * Each rt_io_*() call below prepares a future and returns at once; nothing
 * happens until the future is polled (awaited). Its output is the
 * operation's result as the kernel reports it: >= 0 on success (bytes
 * moved, a new file descriptor, or 0), or -errno.
 *
 *     rt_io_read(&f->io, fd, f->buf, sizeof(f->buf), 0);
 *     AWAIT(&f->io.future, &f->n);   // f->n: bytes read, 0 at end of file, or -errno
 *
 * Memory and cancellation. The kernel never touches your buffers. A request
 * carries memory of its own (its source): a write copies your bytes into it
 * when you prepare it, and a read lands there and is copied into your buffer
 * when the future finishes. So `buf` must stay valid for as long as the
 * future is alive, and not a moment longer: drop the future (cancel its task,
 * let a timeout give up on it) and the runtime cancels the request in the
 * kernel and keeps the request's memory alive until the kernel has let go.
 * Nothing is written into freed memory, and no freed task is woken. If the
 * request had already produced something when its future was dropped (the
 * new fd of an accept or an open), the runtime closes it: nothing leaks.
 *
 * -ECANCELED means this runtime cancelled the request, which only happens
 * to a dropped future: a future you still await never sees it. The kernel
 * may cancel a request on its own (when it cannot start the worker thread
 * the request needs while signals keep arriving); the runtime then sends it
 * again, up to 16 times, and after that the output is -EINTR.
 *
 * One request moves at most RT_IO_MAX bytes; more comes back short, as
 * reads and writes may anyway. The whole transfers, rt_read_exact(),
 * rt_write_all() (file.h) and rt_send_all() (net.h), share one rule, which
 * rt__transfer_step() below applies for all three: they request the bytes
 * not yet moved until all `len` have moved; a request that moved nothing
 * because of a signal or a full buffer (-EINTR, -EAGAIN) is made again; any
 * other error ends the transfer with that error (how much had moved is not
 * reported); a read of 0 bytes is the end of the file, and rt_read_exact()
 * returns the bytes read so far; a write or send of 0 bytes made no progress
 * and never would, so the transfer ends with -EIO. With `len` 0 the output
 * is 0 at once, and no request is made.
 *
 * An rt_io is prepared by the rt_io_*() functions only when it holds no
 * request: zero-filled (`= {0}`, or a designated initializer, which zeroes
 * the fields it does not name), finished (awaited to the end), or dropped.
 * Preparing one that holds a request, in flight or merely prepared, stops
 * the program with a message. An rt_io left uninitialized on the stack may
 * look like one that holds a request: zero it first. A buffer (or address)
 * may be NULL only when its length is 0; a NULL with bytes to move also
 * stops the program (but rt_io_connect() looks at the length first: over
 * sizeof(struct sockaddr_storage) it is -EINVAL, NULL or not).
 */
#ifndef RT_IO_H
#define RT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "future.h"

/* The most one request reads or writes. */
#define RT_IO_MAX (1u << 20)

/* As an offset: read or write at the file's current position, then advance it (pipes, ttys). */
#define RT_OFFSET_CURRENT ((uint64_t)-1)

struct rt_source;

struct rt_io {
    struct rt_future future;  /* await this: output is the result, >= 0 or -errno */
    struct rt_source *source; /* private: the request and its memory; NULL once finished */
    void *read_into;          /* private: where a read's bytes are copied when it finishes */
};

/* Files (and anything with a file descriptor) */
void rt_io_open(struct rt_io *io, const char *path, int flags, mode_t mode); /* -> fd */
void rt_io_read(struct rt_io *io, int fd, void *buf, size_t len, uint64_t offset);
void rt_io_write(struct rt_io *io, int fd, const void *buf, size_t len, uint64_t offset);
void rt_io_fsync(struct rt_io *io, int fd);
void rt_io_close(struct rt_io *io, int fd); /* `fd` is the request's now: closed even if dropped */

/* Sockets; see net.h for making them */
void rt_io_accept(struct rt_io *io, int listen_fd); /* -> the connection's fd */
/* An addr_len over sizeof(struct sockaddr_storage): -EINVAL, as connect(2) says. */
void rt_io_connect(struct rt_io *io, int fd, const struct sockaddr *addr, socklen_t addr_len);
/* Ask for 1 byte or more: for 0, the kernel waits for data, takes none and says 0, as if closed. */
void rt_io_recv(struct rt_io *io, int fd, void *buf, size_t len); /* 0: the peer closed */
void rt_io_send(struct rt_io *io, int fd, const void *buf, size_t len);

/*
 * Time. Durations are nanoseconds, at most RT_DURATION_MAX (about 146
 * years); a longer one (a negative number converted to uint64_t, say) is a
 * mistake, and the sleep finishes with -EINVAL at once, without a request,
 * instead of sleeping for centuries.
 */
#define RT_DURATION_MAX (UINT64_C(1) << 62)
void rt_io_sleep(struct rt_io *io, uint64_t ns); /* -> 0 once `ns` nanoseconds have passed */

/* Nothing at all: a round trip through the kernel, to measure the runtime's cost per request. */
void rt_io_nop(struct rt_io *io);

/*
 * Internal (file.c and net.c use it): the rule of whole transfers above, for
 * the result *n of one request that asked for at least one byte. Returns
 * true if the transfer goes on (the bytes moved, if any, added to *done), or
 * false if it ends, with its output in *n.
 */
bool rt__transfer_step(intptr_t *n, size_t *done, bool reading);

/*
 * Internal (file.c and net.c use it): stops the program if `io`, the rt_io
 * inside the future called `what` that is being prepared, still holds a
 * request. Preparing would zero the struct and lose that request: nobody
 * could cancel it or free its memory, and the executor's teardown would
 * wait for it for ever.
 */
void rt__io_check_unused(const struct rt_io *io, const char *what);

#endif /* RT_IO_H */
