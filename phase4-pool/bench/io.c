/*
 * bench/io.c - what a request through the runtime costs, next to the same
 * requests written by hand with liburing, in the same process.
 *
 * Run it with `make phase2 bench` (or build/phase2/bench/io; `io NAME` measures
 * only the figure NAME, one of the line names below, for a profiler). It makes a
 * 64 MiB file in $TMPDIR (or /tmp), writes it, reads it once so that it sits
 * in the page cache, and unlinks it at once (the open descriptor keeps it
 * alive, and nothing is left behind if the run is interrupted). Then it
 * prints one `name=value` line per figure; each value is the median of RUNS
 * samples taken in this process, runtime and baseline samples alternating so
 * that a change of clock speed or a noisy neighbour touches both alike:
 *
 *   read4k_qd32_runtime_ops_per_s    random 4 KiB reads at 4 KiB-aligned offsets
 *                                    of the cached file, 32 in flight: 32 tasks,
 *                                    each looping rt_io_read + AWAIT; READS reads
 *                                    per sample, each checked
 *   read4k_qd32_raw_uring_ops_per_s  the same reads (the same offsets, in the same
 *                                    order) written with liburing: 32 SQEs in
 *                                    flight, one refilled per completion, the
 *                                    refills submitted together with one
 *                                    io_uring_submit_and_wait()
 *   read4k_runtime_vs_raw_ratio      the first divided by the second
 *   read4k_qd32_owned_ops_per_s      the runtime's reads again, with rt_io_read_owned
 *                                    (phase 4): each read lands in a buffer from the
 *                                    executor's per-core memory, handed over without a
 *                                    copy, checked, and released
 *   read4k_owned_vs_raw_ratio        that divided by the raw figure
 *   read4k_qd32_raw_fixed_ops_per_s  the raw reads with their 32 buffers registered with
 *                                    the ring (IORING_REGISTER_BUFFERS), as READ_FIXED:
 *                                    what the owned reads do inside (percore.h)
 *   read4k_owned_vs_raw_fixed_ratio  the owned figure divided by that: the runtime's own
 *                                    cost, with the kernel doing the same work on both sides
 *   read4k_pread_ops_per_s           the same reads with blocking pread(), one at a time
 *   nop_runtime_ns_per_op            NOP_TASKS tasks, each looping rt_io_nop + AWAIT,
 *                                    NOPS requests in all: the runtime's whole cost
 *                                    per request (prepare, queue, submit, reap, wake,
 *                                    poll, free) around the cheapest thing the kernel does
 *   nop_raw_batch32_ns_per_op        liburing by hand: prepare 32 NOPs, submit, reap
 *                                    the 32 completions; NOPS in all
 *   nop_raw_batch256_ns_per_op       the same, 256 at a time: the batch the runtime
 *                                    gets from its 256 tasks (one io_uring_enter per
 *                                    turn of its loop), so this is the like-for-like floor
 *   nop_runtime_overhead_ns_per_op   nop_runtime_ns_per_op - nop_raw_batch32_ns_per_op
 *
 * Targets (reported, not asserted): the read ratio at least 0.9, the owned
 * read ratio at least 0.95; the NOP overhead under 100 ns.
 *
 * Both sides use a ring of RING_ENTRIES, the executor's default. Neither uses
 * registered buffers or files, or SQPOLL: the raw side is the program a user
 * would write first, which is what the runtime should be held against. What
 * the raw side does not do, by design of this runtime, is copy: a read lands
 * in memory its request owns and is copied into the caller's buffer when the
 * future finishes (io.h explains why). That copy is part of what is measured,
 * and the owned reads are the same reads without it.
 *
 * Phase 4's owned reads are the one exception to "neither": their buffers are
 * the runtime's, so they can come from memory registered with the ring
 * (IO_MEMORY, asked for in the builder; percore.h), which that first program
 * does not do. The raw fixed figure is the program with that one step added,
 * so the two owned ratios tell apart what the registration gives and what the
 * runtime costs.
 */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/args.h"
#include "common/bench.h"
#include "common/clock.h"

#define RUNS         7                   /* samples per figure; the median is printed */
#define FILE_SIZE    (64ul << 20)        /* bytes in the test file */
#define BLOCK        4096ul              /* bytes per read */
#define BLOCKS       (FILE_SIZE / BLOCK) /* reads land on one of these, at random */
#define CHUNK        (1ul << 20)         /* the file is written and read back 1 MiB at a time */
#define READS        200000              /* reads per sample */
#define DEPTH        32                  /* reads in flight */
#define IO_MEMORY    ((size_t)256 << 10) /* phase 4: the executors' I/O memory, 64 buffers */
#define NOPS         1000000             /* NOP requests per sample */
#define NOP_TASKS    256                 /* tasks issuing them, each one at a time */
#define RING_ENTRIES 256                 /* the executor's default ring size */
#define SEED         0x9e3779b97f4a7c15ull

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "bench/io: %s\n", what);
    exit(1);
}

/*
 * The next block to read (xorshift64*). Every sample starts from SEED, so
 * every way of reading asks for the same blocks in the same order.
 */
static uint64_t next_block(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (x * 0x2545f4914f6cdd1dull) % BLOCKS;
}

/* Block b of the file begins with the number b: a cheap check that a read brought the right bytes.
 */
static bool block_ok(const uint64_t *buf, intptr_t n, uint64_t b)
{
    return n == (intptr_t)BLOCK && buf[0] == b;
}

/* --------------------------------------------------------------- the file */

/* Make the test file, write every block, and read it once so it is in the page cache. */
static int make_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    uint64_t *chunk = malloc(CHUNK);
    int fd;

    if (!chunk)
        fail("out of memory");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(path, sizeof(path), "%s/rt-bench-io-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd < 0)
        fail("cannot make a file in $TMPDIR or /tmp");
    unlink(path); /* gone from the directory already; the data lives until close() */
    for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK) {
        for (size_t i = 0; i < CHUNK / sizeof(uint64_t); i++)
            chunk[i] = i;
        for (size_t b = 0; b < CHUNK / BLOCK; b++)
            chunk[b * (BLOCK / sizeof(uint64_t))] = off / BLOCK + b; /* see block_ok() */
        if (pwrite(fd, chunk, CHUNK, (off_t)off) != (ssize_t)CHUNK)
            fail("cannot write the test file");
    }
    /* Write it back to the disk now, so that writeback does not run in the middle of a sample. */
    if (fsync(fd) < 0)
        fail("fsync of the test file failed");
    for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK) {
        if (pread(fd, chunk, CHUNK, (off_t)off) != (ssize_t)CHUNK || chunk[0] != off / BLOCK)
            fail("the test file does not read back as written");
    }
    free(chunk);
    return fd;
}

/* ------------------------------------------------------- runtime: helpers */

/* A fresh executor on this thread; the samples time only rt_executor_run(). */
/*
 * Phase 4: with IO_MEMORY bytes of I/O memory, so that owned reads are
 * READ_FIXED (percore.h); the other figures do not use it.
 */
static struct rt_executor *new_executor(void)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;

    b.io_memory = IO_MEMORY;
    if (rt_executor_create(&b, &ex) < 0) {
        fprintf(stderr, "bench/io: %s\n", rt_last_error());
        exit(1);
    }
    return ex;
}

/* Spawn `count` copies of a future and await them all: the main future of every runtime sample. */
struct fan_out {
    struct rt_async async;
    const struct rt_future *child; /* the future to copy into each task (the caller's) */
    size_t child_size;             /* its size */
    int count;                     /* tasks to spawn, at most NOP_TASKS */
    int i;                         /* the handle being awaited */
    struct rt_join_handle jobs[NOP_TASKS];
};

static enum rt_poll fan_out_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fan_out *f = (struct fan_out *)self;

    ASYNC_BEGIN(f, cx, out);
    for (int i = 0; i < f->count; i++)
        f->jobs[i] = rt_spawn(f->child, f->child_size);
    for (f->i = 0; f->i < f->count; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable fan_out_vtable = {fan_out_poll, rt_async_drop};

/* Nanoseconds to run `count` copies of `child` to the end on a fresh executor. */
static uint64_t run_fan_out(const struct rt_future *child, size_t size, int count)
{
    struct rt_executor *ex = new_executor();
    struct fan_out f = {.async = RT_ASYNC_INIT(&fan_out_vtable),
                        .child = child,
                        .child_size = size,
                        .count = count};
    uint64_t start = now_ns(), elapsed;

    rt_executor_run(ex, &f.async.future, sizeof(f));
    elapsed = now_ns() - start;
    if (rt_executor_task_count(ex) != 0)
        fail("tasks were left over after a run");
    rt_executor_destroy(ex);
    return elapsed;
}

/* ----------------------------------------------------------- reads: runtime */

/* What the DEPTH reader tasks of one sample share; lives in the sampling function's frame. */
struct read_job {
    int fd;
    uint64_t rng; /* the block sequence, see next_block() */
    long left;    /* reads not yet started */
    long bad;     /* reads that failed, came back short or brought the wrong bytes */
};

/*
 * One reader: the loop a user writes to keep one read at a time going. The
 * queue depth of 32 comes from 32 of these tasks, because an async function
 * awaits one child at a time (async.h): tasks are this runtime's way of
 * having several things in flight. (One hand-written future polling 32 rt_io
 * would also work, but it is the kind of code the runtime exists to spare
 * its users.)
 */
struct reader {
    struct rt_async async;
    struct read_job *job;
    struct rt_io io;
    uint64_t block; /* the block being read */
    intptr_t n;     /* the read's result */
    uint64_t buf[BLOCK / sizeof(uint64_t)];
};

static enum rt_poll reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reader *f = (struct reader *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->job->left > 0) {
        f->job->left--;
        f->block = next_block(&f->job->rng);
        rt_io_read(&f->io, f->job->fd, f->buf, BLOCK, f->block * BLOCK);
        AWAIT(&f->io.future, &f->n);
        if (!block_ok(f->buf, f->n, f->block))
            f->job->bad++;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reader_vtable = {reader_poll, rt_async_drop};

static double runtime_read_sample(int fd)
{
    struct read_job job = {.fd = fd, .rng = SEED, .left = READS};
    struct reader r = {.async = RT_ASYNC_INIT(&reader_vtable), .job = &job};
    uint64_t ns = run_fan_out(&r.async.future, sizeof(r), DEPTH);

    if (job.bad != 0)
        fail("runtime reads: a read failed or brought the wrong bytes");
    return READS / ((double)ns / NSEC_PER_SEC);
}

/* ----------------------------------------------------- reads: owned buffers */

/* The same reader, but the bytes arrive in a buffer of the runtime's: no copy. */
struct owned_reader {
    struct rt_async async;
    struct read_job *job;
    struct rt_io io;
    struct rt_buf buf; /* the read's buffer, between the AWAIT and its release */
    uint64_t block;    /* the block being read */
    intptr_t n;        /* the read's result */
};

static enum rt_poll owned_reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct owned_reader *f = (struct owned_reader *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->job->left > 0) {
        f->job->left--;
        f->block = next_block(&f->job->rng);
        rt_io_read_owned(&f->io, f->job->fd, BLOCK, f->block * BLOCK, &f->buf);
        AWAIT(&f->io.future, &f->n);
        if (!block_ok(f->buf.data, f->n, f->block))
            f->job->bad++;
        rt_buf_release(&f->buf);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable owned_reader_vtable = {owned_reader_poll, rt_async_drop};

static double owned_read_sample(int fd)
{
    struct read_job job = {.fd = fd, .rng = SEED, .left = READS};
    struct owned_reader r = {.async = RT_ASYNC_INIT(&owned_reader_vtable), .job = &job};
    uint64_t ns = run_fan_out(&r.async.future, sizeof(r), DEPTH);

    if (job.bad != 0)
        fail("owned reads: a read failed or brought the wrong bytes");
    return READS / ((double)ns / NSEC_PER_SEC);
}

/* --------------------------------------------------------------- reads: raw */

static void raw_ring_init(struct io_uring *ring)
{
    int err = io_uring_queue_init(RING_ENTRIES, ring, 0);

    if (err < 0) {
        fprintf(stderr, "bench/io: io_uring_queue_init: %s\n", strerror(-err));
        exit(1);
    }
}

/*
 * Queue a read of the next block into slot `slot`, whose number travels in
 * user_data; `fixed`: a READ_FIXED, the slots being the ring's buffer 0.
 */
static void raw_prep_read(struct io_uring *ring, int fd, uint64_t *buf, uint64_t *rng,
                          uint64_t *block, unsigned slot, bool fixed)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

    if (!sqe)
        fail("raw reads: the submission queue is full");
    *block = next_block(rng);
    if (fixed)
        io_uring_prep_read_fixed(sqe, fd, buf, BLOCK, *block * BLOCK, 0);
    else
        io_uring_prep_read(sqe, fd, buf, BLOCK, *block * BLOCK);
    io_uring_sqe_set_data64(sqe, slot);
}

static double raw_reads(int fd, bool fixed)
{
    struct io_uring ring;
    uint64_t(*bufs)[BLOCK / sizeof(uint64_t)] = malloc(DEPTH * BLOCK);
    uint64_t blocks[DEPTH], rng = SEED, start, elapsed;
    long left = READS, done = 0, bad = 0;

    if (!bufs)
        fail("out of memory");
    raw_ring_init(&ring);
    if (fixed) {
        struct iovec iov = {.iov_base = bufs, .iov_len = DEPTH * BLOCK};
        int err = io_uring_register_buffers(&ring, &iov, 1);

        if (err < 0) {
            fprintf(stderr, "bench/io: io_uring_register_buffers: %s\n", strerror(-err));
            fail("raw fixed reads: 128 KiB of buffers could not be registered; fix: let the "
                 "process lock that much memory (ulimit -l, RLIMIT_MEMLOCK)");
        }
    }
    start = now_ns();
    for (unsigned slot = 0; slot < DEPTH; slot++, left--)
        raw_prep_read(&ring, fd, bufs[slot], &rng, &blocks[slot], slot, fixed);
    while (done < READS) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        /* Hand over the refills queued below, and wait until at least one read is done. */
        int err = io_uring_submit_and_wait(&ring, 1);

        if (err < 0 && err != -EINTR)
            fail("raw reads: io_uring_submit_and_wait failed");
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            unsigned slot = (unsigned)io_uring_cqe_get_data64(cqe);

            if (!block_ok(bufs[slot], cqe->res, blocks[slot]))
                bad++;
            seen++;
            if (left > 0) {
                left--;
                raw_prep_read(&ring, fd, bufs[slot], &rng, &blocks[slot], slot, fixed);
            }
        }
        io_uring_cq_advance(&ring, seen);
        done += seen;
    }
    elapsed = now_ns() - start;
    if (bad != 0)
        fail("raw reads: a read failed or brought the wrong bytes");
    free(bufs);
    io_uring_queue_exit(&ring);
    return READS / ((double)elapsed / NSEC_PER_SEC);
}

static double raw_read_sample(int fd)
{
    return raw_reads(fd, false);
}

static double raw_fixed_read_sample(int fd)
{
    return raw_reads(fd, true);
}

/* ------------------------------------------------------------- reads: pread */

static double pread_sample(int fd)
{
    uint64_t buf[BLOCK / sizeof(uint64_t)], rng = SEED, start = now_ns();

    for (long i = 0; i < READS; i++) {
        uint64_t b = next_block(&rng);
        ssize_t n = pread(fd, buf, BLOCK, (off_t)(b * BLOCK));

        if (!block_ok(buf, n, b))
            fail("pread failed or brought the wrong bytes");
    }
    return READS / ((double)(now_ns() - start) / NSEC_PER_SEC);
}

/* ------------------------------------------------------------- NOPs: runtime */

struct nop_job {
    long left; /* NOPs not yet started */
    long bad;  /* NOPs whose result was not 0 */
};

/* One of NOP_TASKS tasks, each with one NOP in flight at a time. */
struct nopper {
    struct rt_async async;
    struct nop_job *job;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll nopper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct nopper *f = (struct nopper *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->job->left > 0) {
        f->job->left--;
        rt_io_nop(&f->io);
        AWAIT(&f->io.future, &f->n);
        if (f->n != 0)
            f->job->bad++;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable nopper_vtable = {nopper_poll, rt_async_drop};

static double runtime_nop_sample(void)
{
    struct nop_job job = {.left = NOPS};
    struct nopper n = {.async = RT_ASYNC_INIT(&nopper_vtable), .job = &job};
    uint64_t ns = run_fan_out(&n.async.future, sizeof(n), NOP_TASKS);

    if (job.bad != 0)
        fail("runtime NOPs: a NOP failed");
    return (double)ns / NOPS;
}

/* ----------------------------------------------------------------- NOPs: raw */

/* Prepare `batch` NOPs, submit them, reap their `batch` completions; NOPS in all. */
static double raw_nop_sample(unsigned batch)
{
    struct io_uring ring;
    uint64_t start, elapsed;
    long bad = 0;

    raw_ring_init(&ring);
    start = now_ns();
    for (long done = 0; done < NOPS; done += batch) {
        unsigned reaped = 0;

        for (unsigned i = 0; i < batch; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

            if (!sqe)
                fail("raw NOPs: the submission queue is full");
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, i);
        }
        if (io_uring_submit(&ring) != (int)batch)
            fail("raw NOPs: the kernel did not take the whole batch");
        while (reaped < batch) {
            struct io_uring_cqe *cqe;
            unsigned head, seen = 0;

            /* NOPs complete inside the submit; the wait is only for a kernel that punts them. */
            if (io_uring_cq_ready(&ring) == 0 && io_uring_wait_cqe(&ring, &cqe) < 0)
                fail("raw NOPs: io_uring_wait_cqe failed");
            io_uring_for_each_cqe(&ring, head, cqe)
            {
                bad += cqe->res != 0;
                seen++;
            }
            io_uring_cq_advance(&ring, seen);
            reaped += seen;
        }
    }
    elapsed = now_ns() - start;
    if (bad != 0)
        fail("raw NOPs: a NOP failed");
    io_uring_queue_exit(&ring);
    return (double)elapsed / NOPS;
}

/* ---------------------------------------------------------------------- main */

/* Every sample function as one type, so that one figure can be run alone (see main). */
static double nop_runtime_fig(int fd)
{
    (void)fd;
    return runtime_nop_sample();
}

static double nop_raw32_fig(int fd)
{
    (void)fd;
    return raw_nop_sample(32);
}

static double nop_raw256_fig(int fd)
{
    (void)fd;
    return raw_nop_sample(256);
}

static const struct figure {
    const char *name;
    double (*sample)(int fd);
    bool reads; /* needs the test file */
} figures[] = {
    {"read4k_qd32_runtime_ops_per_s", runtime_read_sample, true},
    {"read4k_qd32_raw_uring_ops_per_s", raw_read_sample, true},
    {"read4k_qd32_owned_ops_per_s", owned_read_sample, true},
    {"read4k_qd32_raw_fixed_ops_per_s", raw_fixed_read_sample, true},
    {"read4k_pread_ops_per_s", pread_sample, true},
    {"nop_runtime_ns_per_op", nop_runtime_fig, false},
    {"nop_raw_batch32_ns_per_op", nop_raw32_fig, false},
    {"nop_raw_batch256_ns_per_op", nop_raw256_fig, false},
};

#define FIGURES (sizeof(figures) / sizeof(figures[0]))

/* The index of the figure called `name`, or FIGURES if there is none. */
static size_t find_figure(const char *name)
{
    size_t i = 0;

    while (i < FIGURES && strcmp(name, figures[i].name) != 0)
        i++;
    return i;
}

/* The figures one may name, printed for --help (status 0) or after a name it does not know (2). */
static int usage(const char *prog, int status)
{
    FILE *to = args_usage_to(status);

    fprintf(to, "usage: %s [FIGURE]   (all of them, or only FIGURE, one of:)\n", prog);
    for (size_t i = 0; i < FIGURES; i++)
        fprintf(to, "  %s\n", figures[i].name);
    return status;
}

int main(int argc, char **argv)
{
    double samples[FIGURES][RUNS], med[FIGURES];
    size_t only = FIGURES;
    int fd;

    /*
     * `io NAME` measures only the figure NAME (a line name above), so that a
     * profiler sees one path at a time: perf record build/phase2/bench/io nop_runtime_ns_per_op
     */
    if (argc > 2 || args_help(argc, argv))
        return usage(argv[0], argc > 2 ? 2 : 0);
    if (argc == 2 && (only = find_figure(argv[1])) == FIGURES) {
        fprintf(stderr, "%s: no figure is called \"%s\"\n", argv[0], argv[1]);
        return usage(argv[0], 2);
    }
    fd = only == FIGURES || figures[only].reads ? make_file() : -1;

    /* One untimed sample of each, so the heap, the code and the page cache are warm. */
    for (size_t i = 0; i < FIGURES; i++)
        if (only == FIGURES || only == i)
            figures[i].sample(fd);
    /* Then RUNS rounds, each taking one sample of every figure in turn. */
    for (int r = 0; r < RUNS; r++)
        for (size_t i = 0; i < FIGURES; i++)
            if (only == FIGURES || only == i)
                samples[i][r] = figures[i].sample(fd);
    if (fd >= 0)
        close(fd);
    /* Every source and task the runtime allocated on this thread was freed. */
    if (rt__alloc_live() != 0)
        fail("the runtime left memory allocated");

    for (size_t i = 0; i < FIGURES; i++)
        if (only == FIGURES || only == i)
            med[i] = bench_median(samples[i], RUNS);
    if (only != FIGURES) {
        printf("%s=%.*f\n", figures[only].name, med[only] < 1000 ? 1 : 0, med[only]);
        return 0;
    }
    printf("read4k_qd32_runtime_ops_per_s=%.0f\n", med[0]);
    printf("read4k_qd32_raw_uring_ops_per_s=%.0f\n", med[1]);
    printf("read4k_runtime_vs_raw_ratio=%.3f\n", med[0] / med[1]);
    printf("read4k_qd32_owned_ops_per_s=%.0f\n", med[2]);
    printf("read4k_owned_vs_raw_ratio=%.3f\n", med[2] / med[1]);
    printf("read4k_qd32_raw_fixed_ops_per_s=%.0f\n", med[3]);
    printf("read4k_owned_vs_raw_fixed_ratio=%.3f\n", med[2] / med[3]);
    printf("read4k_pread_ops_per_s=%.0f\n", med[4]);
    printf("nop_runtime_ns_per_op=%.1f\n", med[5]);
    printf("nop_raw_batch32_ns_per_op=%.1f\n", med[6]);
    printf("nop_raw_batch256_ns_per_op=%.1f\n", med[7]);
    printf("nop_runtime_overhead_ns_per_op=%.1f\n", med[5] - med[6]);
    return 0;
}
