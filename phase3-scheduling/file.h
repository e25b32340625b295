/*
 * file.h - whole transfers: keep reading or writing until every byte has
 * moved. New in phase 2.
 *
 * A read or write may move fewer bytes than asked (a signal, the end of a
 * file, one request's RT_IO_MAX). These futures loop over rt_io requests
 * until the job is done, which is what a caller usually means, by the rule
 * that io.h states for every whole transfer (rt_send_all() too). Both are
 * written with the async macros: read their poll functions in file.c.
 *
 * As with an rt_io (io.h), each is prepared only when it holds no request:
 * zero-filled, finished or dropped. Preparing one again while its request
 * is in flight stops the program with a message.
 */
#ifndef RT_FILE_H
#define RT_FILE_H

#include "async.h"
#include "io.h"

/* Read `len` bytes at `offset`, fewer only at end of file. Output: bytes read, or -errno. */
struct rt_read_exact {
    struct rt_async async; /* private, all of it */
    struct rt_io io;
    int fd;
    char *buf;
    size_t len, done;
    uint64_t offset;
    intptr_t n;
};
void rt_read_exact(struct rt_read_exact *f, int fd, void *buf, size_t len, uint64_t offset);

/*
 * Write all `len` bytes at `offset` (or RT_OFFSET_CURRENT). Output: `len`, or
 * -errno (-EPIPE: the reader of a pipe or socket is gone; -EIO: a write moved
 * nothing).
 */
struct rt_write_all {
    struct rt_async async; /* private, all of it */
    struct rt_io io;
    int fd;
    const char *buf;
    size_t len, done;
    uint64_t offset;
    intptr_t n;
};
void rt_write_all(struct rt_write_all *f, int fd, const void *buf, size_t len, uint64_t offset);

#endif /* RT_FILE_H */
