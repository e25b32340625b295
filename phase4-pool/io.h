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
 *
 * Phase 4: owned buffers. rt_io_read_owned() reads into a buffer of the
 * runtime's, from the executor's per-core memory, and hands that very
 * buffer to the caller when the future finishes: the kernel's bytes, with
 * no copy. The caller gives it back with rt_buf_release(), and the next
 * owned read on that executor takes it again.
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
struct rt_percore;

struct rt_io {
    struct rt_future future;  /* await this: output is the result, >= 0 or -errno */
    struct rt_source *source; /* private: the request and its memory; NULL once finished */
    void *read_into;          /* private: where a read's bytes are copied when it finishes */
    struct rt_buf *buf_into;  /* private, phase 4: where an owned read's buffer goes */
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

/* ---------------------------------------------------------------- phase 4 */

/* A buffer of the runtime's that the kernel read into; yours until rt_buf_release(). */
struct rt_buf {
    void *data; /* the bytes; NULL: an empty rt_buf, which holds no memory */
    size_t len; /* how many bytes the read brought */
    /* private */
    size_t size;              /* bytes asked for when it was made */
    struct rt_percore *owner; /* the executor memory it goes back to; NULL: malloc */
};

/*
 * Read up to `len` bytes at `offset` into a buffer of the runtime's. The
 * output is as rt_io_read()'s: bytes read, 0 at end of file, or -errno.
 * When the future finishes, *out receives the buffer (len = the bytes read)
 * if the output is > 0, else an empty rt_buf; `out` must stay valid until
 * then, like rt_io_read()'s `buf`, and must not hold a buffer still to be
 * released (it is overwritten).
 *
 *     rt_io_read_owned(&f->io, fd, 4096, 0, &f->buf);
 *     AWAIT(&f->io.future, &f->n);
 *     if (f->n > 0) {
 *         use(f->buf.data, f->buf.len);
 *         rt_buf_release(&f->buf);
 *     }
 *
 * Dropping the future leaves the buffer with the request, as for every read:
 * the kernel may still write into it, so it is released when the last
 * completion naming the request arrives; a buffer the kernel filled but the
 * future never handed out is released with the request too.
 *
 * The buffer comes from the executor's I/O memory, if it was given some
 * (struct rt_builder's io_memory; percore.h), it has room, and `len` is at
 * most 64 KiB (PERCORE_MAX_BLOCK: larger buffers always come from malloc),
 * and then the request is a READ_FIXED, which spares the kernel a step;
 * else from its free lists, and a READ.
 */
void rt_io_read_owned(struct rt_io *io, int fd, size_t len, uint64_t offset, struct rt_buf *out);

/*
 * Give the buffer back to the per-core memory of the executor that read it
 * (or to free(), if that executor has been destroyed; a buffer of its I/O
 * memory keeps that memory mapped until it is released), and empty `*b`. An
 * empty rt_buf is fine. Only on that executor's thread: elsewhere it stops
 * the program with a message, because that memory belongs to one thread.
 * (A buffer whose read was prepared outside any executor came from malloc:
 * any thread may release it.) So a buffer read on a pool's shard is
 * released there, before the shard's future finishes: once its thread has
 * ended, no thread can.
 * Releasing a copy of a buffer already released is a double free: while
 * the executor lives, it stops the program when the block is still on top
 * of its free list (no block of its size class given back in between;
 * percore.h), and always under SAN=1; once the executor is destroyed,
 * always, until its last block out comes back. After that the per-core
 * memory is gone too, and a release is a use after free that only
 * AddressSanitizer reports. (A buffer over 64 KiB is malloc's: its own
 * checks are all there are.)
 */
void rt_buf_release(struct rt_buf *b);

#endif /* RT_IO_H */
