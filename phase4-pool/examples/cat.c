/*
 * cat.c - `cat FILE...` through the ring: opening, reading, writing and
 * closing are all io_uring requests, awaited one after another by a single
 * async function.
 *
 * Each file goes to standard output in chunks: a read from the file, then
 * rt_write_all() to fd 1, which keeps writing until the whole chunk is out.
 * A file that cannot be opened or read is reported the way cat reports it;
 * the other files are still printed, and the exit status is 1.
 *
 * Run: make phase2 && build/phase2/examples/cat FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

#define CHUNK (64 * 1024) /* per read: large enough that the cost of one request hardly shows */

struct cat {
    struct rt_async async;
    char **paths;            /* the files, borrowed from main()'s argv */
    int count;               /* how many */
    int i;                   /* the file being printed: lives across AWAITs, so it lives here */
    int fd;                  /* its descriptor, or -1; owned, so cat_drop() exists */
    int failed;              /* a file could not be printed: exit with 1 at the end */
    struct rt_io io;         /* open, read and close: one request at a time */
    struct rt_write_all out; /* one chunk to standard output */
    intptr_t n;              /* the last result: >= 0, or -errno */
    char buf[CHUNK];         /* in the task itself: a read's bytes land here when it finishes */
};

/* Report a file the way cat does ("cat: nosuch: No such file or directory") and go on. */
static void report(struct cat *f, intptr_t err)
{
    fprintf(stderr, "cat: %s: %s\n", f->paths[f->i], strerror((int)-err));
    f->failed = 1;
}

static enum rt_poll cat_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cat *f = (struct cat *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < f->count; f->i++) {
        rt_io_open(&f->io, f->paths[f->i], O_RDONLY | O_CLOEXEC, 0);
        AWAIT(&f->io.future, &f->n);
        if (f->n < 0) {
            report(f, f->n);
            continue;
        }
        f->fd = (int)f->n;

        for (;;) {
            /* At the file's own position, as read(2) does: so a FIFO or /dev/stdin works too. */
            rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
            AWAIT(&f->io.future, &f->n);
            if (f->n <= 0)
                break; /* 0: end of file; < 0: e.g. -EISDIR, reported below */
            /* Standard output may be a pipe or a terminal: it has no offsets either. */
            rt_write_all(&f->out, STDOUT_FILENO, f->buf, (size_t)f->n, RT_OFFSET_CURRENT);
            AWAIT(&f->out.async.future, &f->n);
            if (f->n < 0) {
                /*
                 * Nowhere to print to: stop. cat_drop() closes the file, as it
                 * runs next. -EPIPE (the executor set SIGPIPE aside) is the
                 * reader leaving, as `head` does: no news, so stop quietly.
                 */
                if (f->n != -EPIPE)
                    fprintf(stderr, "cat: write error: %s\n", strerror((int)-f->n));
                ASYNC_RETURN(1);
            }
        }
        if (f->n < 0)
            report(f, f->n);

        rt_io_close(&f->io, f->fd);
        f->fd = -1; /* the close request has it now: cat_drop() must not close it again */
        AWAIT(&f->io.future, NULL);
    }
    ASYNC_RETURN(f->failed);
    ASYNC_END;
}

/*
 * Called once, when the future is done with, finished or not. After a
 * normal finish there is nothing left to close; after a write error, or if
 * the future were dropped half-way, the open file is. A plain close(): a
 * drop function cannot await, and closing a file does not block.
 */
static void cat_drop(struct rt_future *self)
{
    struct cat *f = (struct cat *)self;

    rt_async_drop(self); /* cancels the request in flight, if any */
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static const struct rt_future_vtable cat_vtable = {cat_poll, cat_drop};

int main(int argc, char **argv)
{
    struct rt_executor *ex;
    intptr_t status;

    if (argc < 2 || args_help(argc, argv)) {
        fprintf(args_usage_to(argc < 2 ? 2 : 0), "usage: %s FILE...\n", argv[0]);
        return argc < 2 ? 2 : 0;
    }
    /*
     * Standard output must be open before the executor is made. A closed fd 1
     * is the lowest free number, so the executor's ring would get it, and the
     * chunks would be written into the ring ("write error: Invalid argument").
     */
    if (fcntl(STDOUT_FILENO, F_GETFD) < 0) {
        fprintf(stderr, "cat: standard output: %s\n", strerror(errno));
        return 1;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "cat: %s\n", rt_last_error());
        return 1;
    }
    /* 64 KiB on main()'s stack for a moment: run() copies it into the task, buffer and all. */
    struct cat f = {
        .async = RT_ASYNC_INIT(&cat_vtable), .paths = argv + 1, .count = argc - 1, .fd = -1};
    status = rt_executor_run(ex, &f.async.future, sizeof(f));
    rt_executor_destroy(ex);
    return status == 0 ? 0 : 1;
}
