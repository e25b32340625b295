/*
 * timeout.c - rt_timeout around a recv: the loser of the race is cancelled.
 *
 * The program holds both ends of a socketpair and reads one end twice, each
 * time under a 10 ms deadline. The first time nothing has been written to
 * the other end, so the deadline wins: rt_timeout drops the recv, which
 * cancels it in the kernel, and the await ends with -ETIMEDOUT. Then it
 * writes "ping" into the other end and reads again: the recv wins at once,
 * and it is the timer that is dropped and cancelled.
 *
 * Run: make phase2 && build/phase2/examples/timeout
 * Watch the requests and wakes: RT_TRACE=1 build/phase2/examples/timeout
 * (BOOK.md, chapter 2, "Seeing it happen", walks through that trace line
 * by line; docs/tracing.md draws its JSON)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

#define LIMIT_NS (10 * 1000 * 1000ull) /* 10 ms */

struct reader {
    struct rt_async async;
    int fd, peer;            /* our end, and the other end we write to */
    struct rt_io recv;       /* owned by `limit` once rt_timeout() is called */
    struct rt_timeout limit; /* in the same struct as `recv`, which must not move */
    char buf[16];
    intptr_t n; /* bytes read, or -errno */
};

static enum rt_poll reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reader *f = (struct reader *)self;

    ASYNC_BEGIN(f, cx, out);
    /* 1. Nothing to read: the deadline fires, and the recv is cancelled. */
    rt_io_recv(&f->recv, f->fd, f->buf, sizeof(f->buf));
    rt_timeout(&f->limit, &f->recv.future, LIMIT_NS);
    AWAIT(&f->limit.future, &f->n);
    printf("recv with nothing sent: %ld (%s)\n", (long)f->n,
           f->n == -ETIMEDOUT ? "-ETIMEDOUT: the recv was cancelled" : "unexpected");
    if (f->n != -ETIMEDOUT)
        ASYNC_RETURN(1);

    /* 2. The peer writes first (a plain send: 4 bytes into an empty socket buffer never block). */
    if (send(f->peer, "ping", 4, MSG_NOSIGNAL) != 4)
        ASYNC_RETURN(1);
    rt_io_recv(&f->recv, f->fd, f->buf, sizeof(f->buf));
    rt_timeout(&f->limit, &f->recv.future, LIMIT_NS);
    AWAIT(&f->limit.future, &f->n);
    printf("recv after a send: %ld (\"%.*s\"; the timer was cancelled)\n", (long)f->n,
           f->n > 0 ? (int)f->n : 0, f->buf);
    ASYNC_RETURN(f->n == 4 ? 0 : 1);
    ASYNC_END;
}

/* `limit` is the awaited child whenever it holds anything, so rt_async_drop() is enough. */
static const struct rt_future_vtable reader_vtable = {reader_poll, rt_async_drop};

int main(int argc, char **argv)
{
    struct rt_executor *ex;
    int fds[2];
    intptr_t failed;

    if (argc > 1)
        return args_none(argc, argv, "rt_timeout around a recv: the race's loser is cancelled");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        perror("socketpair");
        return 1;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "timeout: %s\n", rt_last_error());
        return 1;
    }
    struct reader r = {.async = RT_ASYNC_INIT(&reader_vtable), .fd = fds[0], .peer = fds[1]};
    failed = rt_executor_run(ex, &r.async.future, sizeof(r));
    rt_executor_destroy(ex);
    close(fds[0]);
    close(fds[1]);
    return failed ? 1 : 0;
}
