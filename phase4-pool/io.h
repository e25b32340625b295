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
 * Nothing is written into freed memory, and no freed task is woken.
 *
 * One request moves at most RT_IO_MAX bytes; more comes back short, as
 * reads and writes may anyway. rt_read_exact(), rt_write_all() (file.h)
 * and rt_send_all() (net.h) loop until all the bytes have moved.
 *
 * Prepare an rt_io only when it is fresh or finished (a finished future has
 * given its memory back); preparing one that is still in flight leaks it.
 */
#ifndef RT_IO_H
#define RT_IO_H

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
void rt_io_close(struct rt_io *io, int fd);

/* Sockets; see net.h for making them */
void rt_io_accept(struct rt_io *io, int listen_fd); /* -> the connection's fd */
void rt_io_connect(struct rt_io *io, int fd, const struct sockaddr *addr, socklen_t addr_len);
void rt_io_recv(struct rt_io *io, int fd, void *buf, size_t len); /* 0: the peer closed */
void rt_io_send(struct rt_io *io, int fd, const void *buf, size_t len);

/* Time */
void rt_io_sleep(struct rt_io *io, uint64_t ns); /* -> 0 once `ns` nanoseconds have passed */

/* Nothing at all: a round trip through the kernel, to measure the runtime's cost per request. */
void rt_io_nop(struct rt_io *io);

#endif /* RT_IO_H */
