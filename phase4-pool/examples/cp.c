/*
 * cp.c - `cp SRC DST` with several requests in flight at once: a pipelined
 * copy.
 *
 * A copy that reads a chunk, writes it, then reads the next, leaves the disk
 * idle whenever it waits for us. Here the file is cut into chunks of 128 KiB
 * and WINDOW tasks, one per *slot*, copy them side by side: slot k copies
 * chunks k, k + WINDOW, k + 2 * WINDOW, ... each one a read from SRC and a
 * write to the same offset of DST. So up to WINDOW requests are with the
 * kernel at any moment. When every slot is done: fsync, then close.
 *
 * Why a task per slot, and not an array of WINDOW rt_io in one future? AWAIT
 * waits for one child; a future with eight requests would have to poll all
 * eight by hand and keep track of which are done and what to do next for
 * each. Waiting for many things at once is what the executor already does
 * for tasks, so each slot stays a plain read-then-write loop and the window
 * is "spawn eight of them". Explicit offsets (like pread and pwrite) let the
 * slots run in any order: no two share a file position.
 *
 * Permissions are not copied: DST is made with mode 0666 minus the umask.
 * SRC and DST must be regular files: the slots read and write them at
 * offsets, which a pipe or a terminal ignores (the bytes would arrive in
 * whatever order the slots ran), and a directory cannot be read at all.
 * SRC is checked before DST is opened, which truncates DST; DST just after
 * (a FIFO with no reader is refused by its open, which would wait for one).
 *
 * Run: make phase2 && build/phase2/examples/cp SRC DST && cmp SRC DST
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

#define CHUNK  (128 * 1024) /* one read, one write: big requests, few of them */
#define WINDOW 8            /* slots, so at most 8 chunks in flight: 1 MiB of buffers */

/* The whole copy: the main future. Its slots borrow its descriptors and its `failed` flag. */
struct copy {
    struct rt_async async;
    const char *src, *dst;
    int in, out;                         /* -1 until opened; owned, so copy_drop() exists */
    struct rt_join_handle slots[WINDOW]; /* owned until awaited */
    int i;
    struct rt_io io; /* open, fsync, close */
    intptr_t n;
    intptr_t copied; /* the sum of the slots' outputs */
    int failed;      /* set by the first slot that fails, which says why; the others then stop */
};

/* ------------------------------------------------------------ one slot */

struct slot {
    struct rt_async async;
    struct copy *copy; /* borrowed: the copy awaits, or cancels, every slot before it goes */
    uint64_t chunk;    /* the chunk being copied: this slot's number, then + WINDOW each time */
    char *buf;         /* CHUNK bytes; owned, so slot_drop() exists */
    struct rt_read_exact read;
    struct rt_write_all write;
    intptr_t n;
    intptr_t copied; /* bytes this slot has written: its output */
};

/* Only the first failure is reported: the others are usually the same one, seen by other slots. */
static intptr_t slot_fail(struct slot *f, const char *doing, const char *path, intptr_t err)
{
    if (!f->copy->failed)
        fprintf(stderr, "cp: %s %s: %s\n", doing, path, strerror((int)-err));
    f->copy->failed = 1;
    return err;
}

static enum rt_poll slot_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct slot *f = (struct slot *)self;

    ASYNC_BEGIN(f, cx, out);
    f->buf = malloc(CHUNK);
    if (!f->buf)
        ASYNC_RETURN(slot_fail(f, "allocating for", f->copy->src, -ENOMEM));
    for (; !f->copy->failed; f->chunk += WINDOW) {
        /* Fewer than CHUNK bytes only at the end of the file; none at all past it. */
        rt_read_exact(&f->read, f->copy->in, f->buf, CHUNK, f->chunk * CHUNK);
        AWAIT(&f->read.async.future, &f->n);
        if (f->n < 0)
            ASYNC_RETURN(slot_fail(f, "reading", f->copy->src, f->n));
        if (f->n == 0)
            break;
        rt_write_all(&f->write, f->copy->out, f->buf, (size_t)f->n, f->chunk * CHUNK);
        AWAIT(&f->write.async.future, &f->n);
        if (f->n < 0)
            ASYNC_RETURN(slot_fail(f, "writing", f->copy->dst, f->n));
        f->copied += f->n;
        if (f->n < CHUNK)
            break; /* that was the last piece of the file */
    }
    ASYNC_RETURN(f->copied);
    ASYNC_END;
}

/* Runs once the slot is done with, finished or cancelled: the buffer goes either way. */
static void slot_drop(struct rt_future *self)
{
    struct slot *f = (struct slot *)self;

    rt_async_drop(self); /* a read or write still in the kernel is cancelled first */
    free(f->buf);
    f->buf = NULL;
}

static const struct rt_future_vtable slot_vtable = {slot_poll, slot_drop};

/* ------------------------------------------------------- the whole copy */

/*
 * Is `path`, open as `fd`, a regular file, which the slots need to be `how`
 * ("read" or "written") at offsets? If not, say so. fstat() asks nothing of the disk.
 */
static intptr_t check_regular(int fd, const char *path, const char *how)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        int err = errno; /* before fprintf(), which may change it */

        fprintf(stderr, "cp: %s: %s\n", path, strerror(err));
        return -err;
    }
    if (S_ISREG(st.st_mode))
        return 0;
    if (S_ISDIR(st.st_mode))
        fprintf(stderr, "cp: %s: %s\n", path, strerror(EISDIR));
    else
        fprintf(stderr,
                "cp: %s: not a regular file (a pipe or a device): it cannot be %s at offsets\n",
                path, how);
    return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
}

static enum rt_poll copy_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct copy *f = (struct copy *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_open(&f->io, f->src, O_RDONLY | O_CLOEXEC, 0);
    AWAIT(&f->io.future, &f->n);
    if (f->n < 0) {
        fprintf(stderr, "cp: %s: %s\n", f->src, strerror((int)-f->n));
        ASYNC_RETURN(f->n);
    }
    f->in = (int)f->n;
    f->n = check_regular(f->in, f->src, "read");
    if (f->n < 0)
        ASYNC_RETURN(f->n); /* copy_drop() closes SRC; DST is not touched */
    /*
     * O_NONBLOCK for the open only: a FIFO's open for writing waits for a
     * reader, for ever if none comes. With it the open fails at once
     * (ENXIO) or succeeds, and check_regular() refuses the FIFO. A regular
     * file's writes must wait as usual, so the flag goes once it passed.
     */
    rt_io_open(&f->io, f->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0666);
    AWAIT(&f->io.future, &f->n);
    if (f->n == -ENXIO) {
        fprintf(stderr, "cp: %s: not a regular file (a pipe with no reader)\n", f->dst);
        ASYNC_RETURN(-EINVAL); /* copy_drop() closes SRC */
    }
    if (f->n < 0) {
        fprintf(stderr, "cp: %s: %s\n", f->dst, strerror((int)-f->n));
        ASYNC_RETURN(f->n); /* copy_drop() closes SRC */
    }
    f->out = (int)f->n;
    f->n = check_regular(f->out, f->dst, "written");
    if (f->n < 0)
        ASYNC_RETURN(f->n); /* copy_drop() closes both */
    if (fcntl(f->out, F_SETFL, fcntl(f->out, F_GETFL) & ~O_NONBLOCK) < 0) {
        f->n = -errno;
        fprintf(stderr, "cp: %s: %s\n", f->dst, strerror((int)-f->n));
        ASYNC_RETURN(f->n); /* copy_drop() closes both */
    }

    /* The window: all the slots are queued now and run while we wait for the first one. */
    for (f->i = 0; f->i < WINDOW; f->i++) {
        struct slot s = {.async = RT_ASYNC_INIT(&slot_vtable), .copy = f, .chunk = (uint64_t)f->i};
        f->slots[f->i] = rt_spawn(&s.async.future, sizeof(s));
    }
    for (f->i = 0; f->i < WINDOW; f->i++) {
        AWAIT(&f->slots[f->i].future, &f->n);
        if (f->n > 0)
            f->copied += f->n;
    }
    if (f->failed)
        ASYNC_RETURN(-EIO);

    /*
     * The bytes are in the page cache; fsync waits until they are on the disk.
     * A DST with no disk behind it (/dev/null) answers -EINVAL: nothing to wait for.
     */
    rt_io_fsync(&f->io, f->out);
    AWAIT(&f->io.future, &f->n);
    if (f->n < 0 && f->n != -EINVAL) {
        fprintf(stderr, "cp: fsync %s: %s\n", f->dst, strerror((int)-f->n));
        ASYNC_RETURN(f->n);
    }
    /* Hand both descriptors to close requests; from here on copy_drop() leaves them alone. */
    rt_io_close(&f->io, f->in);
    f->in = -1;
    AWAIT(&f->io.future, NULL);
    rt_io_close(&f->io, f->out);
    f->out = -1;
    AWAIT(&f->io.future, &f->n);
    if (f->n < 0) { /* some file systems (NFS) report a failed write only here */
        fprintf(stderr, "cp: closing %s: %s\n", f->dst, strerror((int)-f->n));
        ASYNC_RETURN(f->n);
    }
    ASYNC_RETURN(f->copied);
    ASYNC_END;
}

/*
 * Runs once, finished or not. On the error paths above, it closes what is
 * still open. Were the copy dropped half-way, slots still running borrow our
 * descriptors and our memory: cancel them first, so none ever uses a closed
 * (or reused) descriptor or a freed struct copy. The cancels come before
 * rt_async_drop(), which would only detach the slot being awaited and so
 * let it run on.
 */
static void copy_drop(struct rt_future *self)
{
    struct copy *f = (struct copy *)self;

    for (int i = 0; i < WINDOW; i++)
        rt_join_cancel(&f->slots[i]); /* false, harmlessly, for an empty or finished handle */
    rt_async_drop(self);
    for (int i = 0; i < WINDOW; i++)
        rt_join_detach(&f->slots[i]);
    if (f->in >= 0)
        close(f->in);
    if (f->out >= 0)
        close(f->out);
    f->in = f->out = -1;
}

static const struct rt_future_vtable copy_vtable = {copy_poll, copy_drop};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    struct rt_executor *ex;
    struct stat a, b;
    intptr_t copied;
    double start;

    if (argc != 3) {
        int status = args_help(argc, argv) ? 0 : 2;

        fprintf(args_usage_to(status), "usage: %s SRC DST\n", argv[0]);
        return status;
    }
    /* Opening DST truncates it: were it SRC, there would be nothing left to copy. cp refuses. */
    if (stat(argv[1], &a) == 0 && stat(argv[2], &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        fprintf(stderr, "cp: %s and %s are the same file\n", argv[1], argv[2]);
        return 1;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "cp: %s\n", rt_last_error());
        return 1;
    }
    struct copy f = {
        .async = RT_ASYNC_INIT(&copy_vtable), .src = argv[1], .dst = argv[2], .in = -1, .out = -1};
    start = now_ms();
    copied = rt_executor_run(ex, &f.async.future, sizeof(f));
    rt_executor_destroy(ex);
    if (copied < 0)
        return 1; /* what went wrong has been said where it happened */
    printf("cp: %ld bytes from %s to %s in %.1f ms, up to %d chunks of %d KiB in flight\n",
           (long)copied, argv[1], argv[2], now_ms() - start, WINDOW, CHUNK / 1024);
    return 0;
}
