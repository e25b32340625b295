/*
 * tests/test_percore.c - per-core memory (phase 4): an executor recycles the
 * blocks of its tasks, its requests and its owned buffers through free lists
 * of its own, keeps only a bounded number of them, frees them all when it is
 * destroyed, and still lets AddressSanitizer see a use after free.
 *
 * Cases: a spawn after a join takes the joined task's block, a request
 * takes the last request's, a block goes back to the list of its size, and
 * a block taken from a list no longer counts there; a burst of tasks leaves
 * at most the bound cached; every block is freed at destroy, and a task
 * freed after that (its handle kept) goes to free(). Owned reads: the
 * bytes, short reads and end of file, and at most RT_IO_MAX bytes however
 * many are asked for; with I/O memory (asked for) a READ_FIXED into it,
 * without a READ; the buffer goes back to its list when released; with the
 * I/O memory all out, a buffer from the lists; a read dropped in flight
 * keeps its buffer until the kernel's completions arrive; a finished read
 * whose buffer nobody took releases it; releasing on another thread stops
 * the program, and so does releasing a buffer and then a copy of it, before
 * its executor is destroyed or after; a buffer released after its executor
 * is gone goes to free() (with the last one out), or unmaps the I/O memory
 * it kept; I/O memory the kernel refuses (RLIMIT_MEMLOCK) is left out, a
 * block cut from it is aligned to its size up to a page, and an io_memory
 * past the limit is refused (one at the limit is not). Under ASan (make
 * test SAN=1): touching a freed task, a freed request or a released buffer
 * (of either kind) is reported.
 *
 * Stats are read with rt_executor_memory_stats(), and a class's list
 * straight from percore.h; never by comparing pointers, which would say
 * nothing about which path handed a block out.
 */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "percore.h" /* the free lists themselves */
#include "reactor.h" /* struct rt_source, in_flight */
#include "task.h"    /* struct rt_task */

TEST_SINCE_PHASE(4);

static struct rt_memory_stats stats_now(void)
{
    struct rt_memory_stats s;

    rt_executor_memory_stats(rt_executor_current(), &s);
    return s;
}

/* The free list of `ex` that holds blocks for `size` bytes. */
static struct percore_list *list_of(struct rt_executor *ex, size_t size)
{
    struct rt_percore *pc = rt__executor_percore(ex);

    for (unsigned i = 0; i < PERCORE_CLASSES; i++)
        if (pc->lists[i].block_size >= size)
            return &pc->lists[i];
    ck_abort_msg("no class holds %zu bytes", size);
}

/* The same, on the running executor. */
static struct percore_list *list_for_size(size_t size)
{
    return list_of(rt_executor_current(), size);
}

/* Requests in the running executor's ring. */
static unsigned in_flight(void)
{
    return rt__executor_reactor(rt_executor_current())->in_flight;
}

#define BUF_SIZE 4096 /* the owned reads' buffer: one class of its own */

/*
 * The free list an owned buffer of `size` bytes goes back to: the I/O
 * memory's, when the running executor has some (percore.h), else the list
 * of its class.
 */
static struct percore_list *buf_list_for_size(size_t size)
{
    struct rt_percore *pc = rt__executor_percore(rt_executor_current());

    if (pc->io_memory)
        return &pc->io_lists[rt__percore_class(size)];
    return list_for_size(size);
}

/*
 * Tests that expect their I/O memory registered skip when this
 * process may lock less than 1 MiB (ulimit -l): then the kernel may refuse
 * it, and rightly. (A process with CAP_IPC_LOCK in the initial user
 * namespace, root outside a container, has no limit; these tests skip
 * then too, as they cannot tell it from here. The default limit is 8 MiB.)
 */
static void need_memlock(void)
{
    static char why[128];
    struct rlimit lim;

    ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &lim), 0);
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < (1 << 20)) {
        snprintf(why, sizeof(why), "RLIMIT_MEMLOCK is %llu KiB, too little for the I/O memory",
                 (unsigned long long)lim.rlim_cur >> 10);
        test_skip(why);
    }
}

#define IO_MEMORY ((size_t)256 << 10) /* what the tests that want I/O memory ask for */

/* A builder for an executor with `io_memory` bytes of I/O memory (0: none, the default). */
static struct rt_builder io_memory_builder(size_t io_memory)
{
    struct rt_builder b = RT_BUILDER_INIT;

    b.io_memory = io_memory;
    return b;
}

/* Run `f` to the end on a new executor with `io_memory` bytes of I/O memory. */
static intptr_t run_with_io_memory(struct rt_future *f, size_t size, size_t io_memory)
{
    struct rt_builder b = io_memory_builder(io_memory);
    struct rt_executor *ex = test_executor_with(&b);
    intptr_t out = rt_executor_run(ex, f, size);

    rt_executor_destroy(ex);
    return out;
}

/* ------------------------------------------------------- tasks and requests */

struct spawn_twice {
    struct rt_async async;
    struct rt_join_handle h;
    struct rt_memory_stats before, after;
    intptr_t out;
};

static enum rt_poll spawn_twice_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawn_twice *f = (struct spawn_twice *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_value child = test_value(1);

        f->h = rt_spawn(&child.future, sizeof(child));
    }
    AWAIT(&f->h.future, &f->out);
    f->before = stats_now();
    ck_assert_uint_ge(f->before.recycled, 1); /* the joined task's block went onto its list */
    {
        struct test_value child = test_value(2);

        f->h = rt_spawn(&child.future, sizeof(child));
    }
    f->after = stats_now();
    /* The second task's block came off the list: nothing new from malloc. */
    ck_assert_uint_eq(f->after.reused, f->before.reused + 1);
    ck_assert_uint_eq(f->after.allocated, f->before.allocated);
    AWAIT(&f->h.future, &f->out);
    ASYNC_RETURN(f->out);
    ASYNC_END;
}

static const struct rt_future_vtable spawn_twice_vtable = {spawn_twice_poll, rt_async_drop};

START_TEST(a_spawn_after_a_join_reuses_the_block)
{
    struct spawn_twice f = {.async = RT_ASYNC_INIT(&spawn_twice_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 2);
}
END_TEST

struct two_nops {
    struct rt_async async;
    struct rt_io io;
    struct rt_memory_stats before, after;
    intptr_t n;
};

static enum rt_poll two_nops_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct two_nops *f = (struct two_nops *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->n);
    f->before = stats_now();
    rt_io_nop(&f->io);
    f->after = stats_now();
    ck_assert_uint_eq(f->after.reused, f->before.reused + 1);
    ck_assert_uint_eq(f->after.allocated, f->before.allocated);
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable two_nops_vtable = {two_nops_poll, rt_async_drop};

START_TEST(a_request_reuses_the_last_requests_block)
{
    struct two_nops f = {.async = RT_ASYNC_INIT(&two_nops_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/*
 * A block goes back to the list of the size it was taken for. A read of
 * BUF_SIZE bytes copies them through its request, whose block is a class
 * above a bare request's; a task with a large future likewise. Once each is
 * done, its class's list holds one block more, and the list of the bare
 * header's size holds none more.
 */
static int test_file(size_t len); /* below, with the owned reads */

struct big_future {
    struct test_value value;
    unsigned char padding[3000]; /* the task's block is a class above a small future's */
};

struct blocks_by_size {
    struct rt_async async;
    int fd;
    struct rt_io io;
    unsigned char bytes[BUF_SIZE];
    struct rt_join_handle h;
    unsigned big_len, small_len;
    intptr_t n;
};

static enum rt_poll blocks_by_size_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct blocks_by_size *f = (struct blocks_by_size *)self;

    ASYNC_BEGIN(f, cx, out);
    f->big_len = list_for_size(sizeof(struct rt_source) + BUF_SIZE)->len;
    f->small_len = list_for_size(sizeof(struct rt_source))->len;
    rt_io_read(&f->io, f->fd, f->bytes, BUF_SIZE, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, BUF_SIZE);
    ck_assert_uint_eq(list_for_size(sizeof(struct rt_source) + BUF_SIZE)->len, f->big_len + 1);
    ck_assert_uint_eq(list_for_size(sizeof(struct rt_source))->len, f->small_len);

    f->big_len = list_for_size(sizeof(struct rt_task) + sizeof(struct big_future))->len;
    f->small_len = list_for_size(sizeof(struct rt_task))->len;
    {
        struct big_future big = {.value = test_value(7)};

        f->h = rt_spawn(&big.value.future, sizeof(big));
    }
    AWAIT(&f->h.future, &f->n);
    ck_assert_int_eq(f->n, 7);
    ck_assert_uint_eq(list_for_size(sizeof(struct rt_task) + sizeof(struct big_future))->len,
                      f->big_len + 1);
    ck_assert_uint_eq(list_for_size(sizeof(struct rt_task))->len, f->small_len);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable blocks_by_size_vtable = {blocks_by_size_poll, rt_async_drop};

START_TEST(a_block_goes_back_to_the_list_of_its_size)
{
    struct blocks_by_size f = {.async = RT_ASYNC_INIT(&blocks_by_size_vtable)};

    f.fd = test_file(BUF_SIZE);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fd);
}
END_TEST

/* ------------------------------------------------------------- the bound */

/* Spawn `count` tasks before joining any, so that all their blocks are out at once. */
struct burst {
    struct rt_async async;
    long count;
    struct rt_join_handle *jobs;
    struct rt_memory_stats before, after;
    long i;
};

static enum rt_poll burst_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct burst *f = (struct burst *)self;
    struct percore_list *l;

    ASYNC_BEGIN(f, cx, out);
    f->before = stats_now();
    for (long i = 0; i < f->count; i++) {
        struct test_value child = test_value(1);

        f->jobs[i] = rt_spawn(&child.future, sizeof(child));
    }
    for (f->i = 0; f->i < f->count; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    f->after = stats_now();

    l = list_for_size(sizeof(struct rt_task) + sizeof(struct test_value));
    /* The list is full, and every block beyond the bound went back to malloc. */
    ck_assert_uint_eq(l->len, l->max_len);
    ck_assert_uint_eq(l->max_len, PERCORE_CLASS_BYTES / l->block_size);
    ck_assert_uint_eq((f->after.recycled - f->before.recycled) +
                          (f->after.released - f->before.released),
                      f->count);
    ck_assert_uint_ge(f->after.released - f->before.released, f->count - l->max_len);
    ck_assert_uint_le(f->after.cached_bytes, PERCORE_CLASSES * PERCORE_CLASS_BYTES);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable burst_vtable = {burst_poll, rt_async_drop};

START_TEST(the_cache_is_bounded)
{
    struct burst f = {.async = RT_ASYNC_INIT(&burst_vtable), .count = 10000};

    f.jobs = rt__malloc((size_t)f.count * sizeof(*f.jobs));
    test_run(&f.async.future, sizeof(f));
    rt__free(f.jobs);
}
END_TEST

/* A block taken from a list leaves it: the list's length and the cached count go back down. */
START_TEST(a_block_taken_from_a_list_is_no_longer_counted_there)
{
    struct rt_executor *ex = test_executor();
    struct rt_percore *pc = rt__executor_percore(ex);
    struct percore_list *l = rt__percore_list(pc, 100);
    struct rt_memory_stats s;
    void *blocks[10];

    for (int i = 0; i < 10; i++)
        blocks[i] = rt__percore_alloc(pc, 100);
    ck_assert_uint_eq(l->len, 0);
    for (int i = 0; i < 10; i++)
        rt__percore_free(pc, blocks[i], 100);
    ck_assert_uint_eq(l->len, 10);
    rt_executor_memory_stats(ex, &s);
    ck_assert_uint_eq(s.cached_blocks, 10);
    for (int i = 0; i < 10; i++)
        blocks[i] = rt__percore_alloc(pc, 100);
    ck_assert_uint_eq(l->len, 0);
    rt_executor_memory_stats(ex, &s);
    ck_assert_uint_eq(s.cached_blocks, 0);
    ck_assert_uint_eq(s.reused, 10);
    for (int i = 0; i < 10; i++)
        rt__percore_free(pc, blocks[i], 100);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------------------ teardown */

START_TEST(every_block_is_freed_at_destroy)
{
    struct burst f = {.async = RT_ASYNC_INIT(&burst_vtable), .count = 3000};
    struct rt_executor *ex = test_executor();
    struct rt_memory_stats s;

    f.jobs = rt__malloc((size_t)f.count * sizeof(*f.jobs));
    rt_executor_run(ex, &f.async.future, sizeof(f));
    rt__free(f.jobs);
    rt_executor_memory_stats(ex, &s);
    /* At least the tasks' list is full. */
    ck_assert_uint_ge(s.cached_blocks,
                      list_of(ex, sizeof(struct rt_task) + sizeof(struct test_value))->max_len);
    ck_assert_uint_eq(s.outstanding, 0);
    /* The cached blocks count as allocated until the executor goes, and not a moment longer. */
    ck_assert_int_gt(rt__alloc_live(), (long)s.cached_blocks);
    rt_executor_destroy(ex);
    ck_assert_int_eq(rt__alloc_live(), 0);
}
END_TEST

/* Spawn a task that waits forever, and hand its join handle out of the executor. */
struct hand_out_handle {
    struct rt_async async;
    struct rt_join_handle *handle; /* the test's */
    struct rt_waker *slot;         /* the test's: where the task's waker waits */
};

static enum rt_poll hand_out_handle_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct hand_out_handle *f = (struct hand_out_handle *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_wait child = test_wait(f->slot, 0);

        *f->handle = rt_spawn(&child.future, sizeof(child));
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable hand_out_handle_vtable = {hand_out_handle_poll, rt_async_drop};

START_TEST(a_task_freed_after_destroy_goes_to_free)
{
    struct rt_waker slot = {0};
    struct rt_join_handle h;
    struct hand_out_handle f = {
        .async = RT_ASYNC_INIT(&hand_out_handle_vtable), .handle = &h, .slot = &slot};
    struct rt_executor *ex = test_executor();

    rt_executor_run(ex, &f.async.future, sizeof(f));
    rt_executor_destroy(ex); /* cancels the task; the handle keeps its block */
    ck_assert_ptr_null(h.task->executor);
    /* What is left: the task's block, and the per-core memory it will go back to. */
    ck_assert_int_eq(rt__alloc_live(), 2);
    ck_assert_uint_eq(h.task->mem->outstanding, 1);
    ck_assert(h.task->mem->closed);
    rt_join_detach(&h); /* the last reference: to free(), and the per-core memory with it */
    ck_assert_int_eq(rt__alloc_live(), 0);
}
END_TEST

/* ------------------------------------------------------------ owned reads */

/* Byte `pos` of the test file. */
static unsigned char file_byte(size_t pos)
{
    return (unsigned char)(pos * 7 + pos / 251);
}

/* An unlinked temporary file holding `len` bytes of file_byte(). */
static int test_file(size_t len)
{
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];
    unsigned char *bytes = rt__malloc(len);
    int fd;

    snprintf(path, sizeof(path), "%s/rt-test-percore-XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp(%s): %s", path, strerror(errno));
    ck_assert_int_eq(unlink(path), 0);
    for (size_t i = 0; i < len; i++)
        bytes[i] = file_byte(i);
    ck_assert_int_eq(pwrite(fd, bytes, len, 0), (ssize_t)len);
    rt__free(bytes);
    return fd;
}

static bool bytes_ok(const struct rt_buf *b, size_t offset)
{
    const unsigned char *p = b->data;

    for (size_t i = 0; i < b->len; i++)
        if (p[i] != file_byte(offset + i))
            return false;
    return true;
}

#define FILE_LEN (3 * BUF_SIZE + 100)

struct owned_reads {
    struct rt_async async;
    int fd;
    bool registered; /* the executor has I/O memory: reads are READ_FIXED */
    struct rt_io io;
    struct rt_buf buf;
    struct rt_memory_stats before;
    intptr_t n;
};

/*
 * The request `io` was just prepared with: a READ_FIXED into the ring's
 * buffer 0 when its buffer is in the I/O memory, else a READ.
 */
static void check_opcode(const struct rt_io *io, bool registered)
{
    const struct rt_buf *b = (const struct rt_buf *)io->source->data;

    ck_assert(rt__percore_registered(b->owner, b->data) == registered);
    ck_assert_uint_eq(io->source->sqe.opcode, registered ? IORING_OP_READ_FIXED : IORING_OP_READ);
    if (registered)
        ck_assert_uint_eq(io->source->sqe.buf_index, 0);
}

static enum rt_poll owned_reads_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct owned_reads *f = (struct owned_reads *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_uint_eq(stats_now().io_memory, f->registered ? IO_MEMORY : 0);
    /* A whole buffer's worth, from the middle of the file. */
    f->before = stats_now();
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, BUF_SIZE, &f->buf);
    check_opcode(&f->io, f->registered);
    AWAIT(&f->io.future, &f->n);
    ck_assert_uint_eq(stats_now().registered, f->before.registered + f->registered);
    ck_assert_int_eq(f->n, BUF_SIZE);
    ck_assert_uint_eq(f->buf.len, BUF_SIZE);
    ck_assert(bytes_ok(&f->buf, BUF_SIZE));
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 0);
    rt_buf_release(&f->buf);
    ck_assert_ptr_null(f->buf.data);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 1); /* back on its core's list */

    /* A short read at the end of the file takes that same block again. */
    f->before = stats_now();
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, 3 * BUF_SIZE, &f->buf);
    check_opcode(&f->io, f->registered);
    AWAIT(&f->io.future, &f->n);
    ck_assert_uint_eq(stats_now().allocated, f->before.allocated);
    /* The source's block and the buffer's: the buffer's counts as registered, if it is. */
    ck_assert_uint_eq(stats_now().reused, f->before.reused + 2 - f->registered);
    ck_assert_uint_eq(stats_now().registered, f->before.registered + f->registered);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 0);
    ck_assert_int_eq(f->n, 100);
    ck_assert_uint_eq(f->buf.len, 100);
    ck_assert(bytes_ok(&f->buf, 3 * BUF_SIZE));
    rt_buf_release(&f->buf);

    /*
     * Reads of fewer bytes than a pointer: a block goes back to its list with
     * the list's link written into its first 8 bytes, whatever the caller
     * asked for (under AddressSanitizer, more than the caller was given).
     */
    rt_io_read_owned(&f->io, f->fd, 1, BUF_SIZE, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 1);
    ck_assert_uint_eq(f->buf.len, 1);
    ck_assert(bytes_ok(&f->buf, BUF_SIZE));
    rt_buf_release(&f->buf);
    rt_io_read_owned(&f->io, f->fd, 0, BUF_SIZE, &f->buf); /* 0 bytes: the request frees it */
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_ptr_null(f->buf.data);

    /* At the end of the file: no bytes, so no buffer; the request kept it and freed it. */
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, FILE_LEN, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_ptr_null(f->buf.data);
    ck_assert_uint_eq(f->buf.len, 0);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 1);
    rt_buf_release(&f->buf); /* an empty rt_buf: nothing to do */

    /* An error: the same. */
    rt_io_read_owned(&f->io, -1, BUF_SIZE, 0, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, -EBADF);
    ck_assert_ptr_null(f->buf.data);
    ck_assert_uint_eq(stats_now().outstanding, 1); /* only this main task's block */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable owned_reads_vtable = {owned_reads_poll, rt_async_drop};

START_TEST(owned_reads_bring_the_bytes_and_recycle_the_buffer)
{
    struct owned_reads f = {.async = RT_ASYNC_INIT(&owned_reads_vtable), .registered = true};

    need_memlock();
    f.fd = test_file(FILE_LEN);
    run_with_io_memory(&f.async.future, sizeof(f), IO_MEMORY); /* READ_FIXED */
    close(f.fd);
}
END_TEST

START_TEST(owned_reads_without_io_memory_use_the_lists)
{
    struct owned_reads f = {.async = RT_ASYNC_INIT(&owned_reads_vtable), .registered = false};

    f.fd = test_file(FILE_LEN);
    test_run(&f.async.future, sizeof(f)); /* the default: no I/O memory */
    close(f.fd);
}
END_TEST

/*
 * An owned read asked for more than RT_IO_MAX bytes, of a file that has more,
 * moves exactly RT_IO_MAX, like every other read (io.h): the future says
 * RT_IO_MAX, and the buffer it hands over holds that many bytes, the file's.
 */
#define BIG_READ_FILE (RT_IO_MAX + 100)

struct big_owned_read {
    struct rt_async async;
    int fd;
    struct rt_io io;
    struct rt_buf buf;
    intptr_t n;
};

static enum rt_poll big_owned_read_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct big_owned_read *f = (struct big_owned_read *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read_owned(&f->io, f->fd, 2 * (size_t)RT_IO_MAX, 0, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, RT_IO_MAX);
    ck_assert_uint_eq(f->buf.len, RT_IO_MAX);
    ck_assert(bytes_ok(&f->buf, 0));
    rt_buf_release(&f->buf);
    ck_assert_ptr_null(f->buf.data);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable big_owned_read_vtable = {big_owned_read_poll, rt_async_drop};

START_TEST(an_owned_read_moves_at_most_rt_io_max)
{
    struct big_owned_read f = {.async = RT_ASYNC_INIT(&big_owned_read_vtable)};

    f.fd = test_file(BIG_READ_FILE);
    test_run(&f.async.future, sizeof(f));
    close(f.fd);
}
END_TEST

/*
 * One page of I/O memory holds one 4 KiB buffer: with that one out, the next
 * read's buffer comes from the ordinary lists and its read is a plain READ;
 * both bring their bytes. Given back, the page's block is the next one out.
 */
struct io_memory_full {
    struct rt_async async;
    int fd;
    struct rt_io io;
    struct rt_buf first, second;
    intptr_t n;
};

static enum rt_poll io_memory_full_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct io_memory_full *f = (struct io_memory_full *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_uint_eq(stats_now().io_memory, 4096); /* 1 byte asked for: one page */
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, 0, &f->first);
    check_opcode(&f->io, true);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, BUF_SIZE);
    ck_assert(bytes_ok(&f->first, 0));

    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, BUF_SIZE, &f->second);
    check_opcode(&f->io, false); /* the page is out: a block of the lists */
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, BUF_SIZE);
    ck_assert(bytes_ok(&f->second, BUF_SIZE));
    ck_assert(!rt__percore_registered(f->second.owner, f->second.data));
    ck_assert_uint_eq(stats_now().registered, 1);

    rt_buf_release(&f->first);
    rt_buf_release(&f->second);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 1); /* the page's block */
    ck_assert_uint_eq(list_for_size(BUF_SIZE)->len, 1);     /* the other one */
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, 2 * BUF_SIZE, &f->first);
    check_opcode(&f->io, true);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, BUF_SIZE);
    ck_assert(bytes_ok(&f->first, 2 * BUF_SIZE));
    ck_assert_uint_eq(stats_now().registered, 2);
    rt_buf_release(&f->first);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable io_memory_full_vtable = {io_memory_full_poll, rt_async_drop};

START_TEST(with_the_io_memory_all_out_a_read_uses_the_lists)
{
    struct io_memory_full f = {.async = RT_ASYNC_INIT(&io_memory_full_vtable)};

    need_memlock();
    f.fd = test_file(FILE_LEN);
    run_with_io_memory(&f.async.future, sizeof(f), 1);
    close(f.fd);
}
END_TEST

/*
 * Registered memory counts against RLIMIT_MEMLOCK unless the process has
 * CAP_IPC_LOCK (in the initial user namespace). This test's process (each
 * has its own) gives the capability up and asks for four times the limit
 * (at most 8 MiB, lowered to that if need be): the kernel refuses it, the
 * executor is made anyway, without it, and an owned read is a plain READ
 * that brings its bytes. The limit is not lowered further, because the
 * rings count against it too (Linux 6.18), and a user's rings of a moment
 * ago are given back to it a little late: the ring must still fit.
 */
static void without_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct caps[2];

    ck_assert_int_eq(syscall(SYS_capget, &hdr, caps), 0);
    caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    caps[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    ck_assert_int_eq(syscall(SYS_capset, &hdr, caps), 0);
}

START_TEST(io_memory_the_kernel_refuses_is_left_out)
{
    struct owned_reads f = {.async = RT_ASYNC_INIT(&owned_reads_vtable), .registered = false};
    struct rlimit lim;

    without_ipc_lock();
    ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &lim), 0);
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (8 << 20))
        lim.rlim_cur = 8 << 20; /* the soft limit may always be lowered */
    ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &lim), 0);
    f.fd = test_file(FILE_LEN);
    run_with_io_memory(&f.async.future, sizeof(f), 4 * (size_t)lim.rlim_cur);
    close(f.fd);
}
END_TEST

/*
 * A block cut from the I/O memory is aligned to its size, up to a page: a
 * 4 KiB buffer cut right after a 64-byte one starts the next page, so the
 * kernel's read fills one page, not two.
 */
START_TEST(io_memory_blocks_are_aligned_to_their_size_up_to_a_page)
{
    static const size_t sizes[] = {64, 4096, 256, 8192, 128};
    struct rt_builder b = io_memory_builder(IO_MEMORY);
    struct rt_executor *ex;
    struct rt_percore *pc;
    void *blocks[5];

    need_memlock();
    ex = test_executor_with(&b);
    pc = rt__executor_percore(ex);
    for (int i = 0; i < 5; i++) {
        size_t align = sizes[i] < 4096 ? sizes[i] : 4096;

        blocks[i] = rt__percore_alloc_buf(pc, sizes[i]);
        ck_assert(rt__percore_registered(pc, blocks[i]));
        ck_assert_msg((uintptr_t)blocks[i] % align == 0, "a block of %zu bytes at %p", sizes[i],
                      blocks[i]);
    }
    for (int i = 0; i < 5; i++)
        rt__percore_free_buf(pc, blocks[i], sizes[i]);
    rt_executor_destroy(ex);
}
END_TEST

START_TEST(io_memory_past_the_limit_is_refused)
{
    struct rt_builder b = io_memory_builder(RT_IO_MEMORY_MAX + 1);
    struct rt_executor *ex = NULL;

    ck_assert_int_eq(rt_executor_create(&b, &ex), -EINVAL);
    ck_assert_ptr_null(ex);
    ck_assert_msg(strstr(rt_last_error(), "io_memory 1073741825 is more than RT_IO_MEMORY_MAX"),
                  "%s", rt_last_error());
}
END_TEST

/*
 * io_memory at exactly the limit is allowed: the builder's check lets it
 * through, and only the ring, made next, refuses this builder (its
 * ring_entries is too big on purpose). The error is the ring's, and nothing
 * was made, so the test needs no gigabyte: a real executor with it would
 * have the kernel pin all of it, which a test has no business doing.
 */
START_TEST(io_memory_at_the_limit_is_allowed)
{
    struct rt_builder b = io_memory_builder(RT_IO_MEMORY_MAX);
    struct rt_executor *ex = NULL;

    rt_executor_destroy(test_executor()); /* skipped where there is no io_uring at all */
    b.ring_entries = 1u << 20;            /* the kernel takes at most 32768 */
    ck_assert_int_eq(rt_executor_create(&b, &ex), -EINVAL);
    ck_assert_ptr_null(ex);
    ck_assert_msg(strstr(rt_last_error(), "ring of 1048576 entries") &&
                      !strstr(rt_last_error(), "io_memory"),
                  "%s", rt_last_error());
}
END_TEST

/* An owned read of a pipe that stays empty until the test writes: in flight until then. */
struct pipe_reader {
    struct rt_async async;
    int fd;
    struct rt_io io;
    struct rt_buf buf;
    intptr_t n;
};

static enum rt_poll pipe_reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct pipe_reader *f = (struct pipe_reader *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, RT_OFFSET_CURRENT, &f->buf);
    AWAIT(&f->io.future, &f->n);
    rt_buf_release(&f->buf);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable pipe_reader_vtable = {pipe_reader_poll, rt_async_drop};

struct drop_in_flight {
    struct rt_async async;
    int pipe[2];
    struct rt_join_handle victim;
    struct test_yield pause;
    struct rt_memory_stats before;
};

static enum rt_poll drop_in_flight_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct drop_in_flight *f = (struct drop_in_flight *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct pipe_reader child = {.async = RT_ASYNC_INIT(&pipe_reader_vtable), .fd = f->pipe[0]};

        f->victim = rt_spawn(&child.async.future, sizeof(child));
    }
    f->pause = test_yield(2, 0, NULL); /* the reader polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(in_flight(), 1);
    f->before = stats_now(); /* out: this task's block, the reader's, its source's, its buffer */
    ck_assert_uint_eq(f->before.outstanding, 4);

    /*
     * Bytes for the read, and then the read's task is cancelled. The kernel
     * either copies them into the buffer while it runs the cancel (the
     * completion is deferred until the thread asks) or cancels the read;
     * either way the buffer is the kernel's until the completions come.
     */
    ck_assert_int_eq(write(f->pipe[1], "late", 4), 4);
    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    /*
     * The reader's task is freed, but the completions of its read and of the
     * cancel are not reaped yet: the orphaned source still holds the buffer.
     */
    ck_assert_uint_eq(in_flight(), 2);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 0);
    ck_assert_uint_eq(stats_now().outstanding, 3);
    while (in_flight() > 0) {
        f->pause = test_yield(1, 0, NULL); /* a turn of the loop reaps completions */
        AWAIT(&f->pause.future, NULL);
    }
    /* The completions are in: the source is freed, and the buffer is back on its list. */
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 1);
    ck_assert_uint_eq(stats_now().outstanding, 1); /* only this main task's block */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable drop_in_flight_vtable = {drop_in_flight_poll, rt_async_drop};

START_TEST(an_owned_read_dropped_in_flight_keeps_its_buffer_until_the_completion)
{
    struct drop_in_flight f = {.async = RT_ASYNC_INIT(&drop_in_flight_vtable)};

    ck_assert_int_eq(pipe(f.pipe), 0);
    test_run(&f.async.future, sizeof(f));
    close(f.pipe[0]);
    close(f.pipe[1]);
}
END_TEST

/*
 * Polls an owned read once, then, woken by its completion, finishes without
 * polling it again: the read is done and its buffer was never handed out.
 * Dropping this future drops the read, which must release that buffer.
 */
struct read_untaken {
    struct rt_future future;
    struct rt_io io;
    struct rt_buf *buf; /* the test's: must stay empty */
    int fd;
    bool started;
};

static enum rt_poll read_untaken_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct read_untaken *f = (struct read_untaken *)self;
    intptr_t n;

    if (!f->started) {
        f->started = true;
        rt_io_read_owned(&f->io, f->fd, BUF_SIZE, 0, f->buf);
        ck_assert_int_eq(rt_future_poll(&f->io.future, cx, &n), RT_PENDING);
        return RT_PENDING;
    }
    ck_assert_int_eq(f->io.source->state, SOURCE_DONE); /* woken by the completion */
    ck_assert_int_eq(f->io.source->res, BUF_SIZE);
    *out = 0;
    return RT_READY;
}

static void read_untaken_drop(struct rt_future *self)
{
    struct read_untaken *f = (struct read_untaken *)self;

    if (f->started)
        rt_future_drop(&f->io.future);
}

static const struct rt_future_vtable read_untaken_vtable = {read_untaken_poll, read_untaken_drop};

struct untaken_main {
    struct rt_async async;
    int fd;
    struct rt_buf *buf;
    struct rt_join_handle h;
};

static enum rt_poll untaken_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct untaken_main *f = (struct untaken_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct read_untaken child = {.future = {&read_untaken_vtable}, .fd = f->fd, .buf = f->buf};

        f->h = rt_spawn(&child.future, sizeof(child));
    }
    AWAIT(&f->h.future, NULL);
    /* The task is done and freed; its read's buffer went back with the read's source. */
    ck_assert_ptr_null(f->buf->data);
    ck_assert_uint_eq(buf_list_for_size(BUF_SIZE)->len, 1);
    ck_assert_uint_eq(stats_now().outstanding, 1); /* only this main task's block */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable untaken_main_vtable = {untaken_main_poll, rt_async_drop};

START_TEST(an_owned_buffer_nobody_took_is_released)
{
    struct rt_buf buf = {0};
    struct untaken_main f = {.async = RT_ASYNC_INIT(&untaken_main_vtable), .buf = &buf};

    f.fd = test_file(BUF_SIZE);
    test_run(&f.async.future, sizeof(f));
    close(f.fd);
}
END_TEST

/* One owned read of the whole test file into the test's rt_buf. */
struct read_one {
    struct rt_async async;
    int fd;
    struct rt_buf *buf;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll read_one_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct read_one *f = (struct read_one *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read_owned(&f->io, f->fd, BUF_SIZE, 0, f->buf);
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable read_one_vtable = {read_one_poll, rt_async_drop};

/* Read the test file into `*buf` on `ex`. */
static void read_on(struct rt_executor *ex, struct rt_buf *buf)
{
    struct read_one f = {.async = RT_ASYNC_INIT(&read_one_vtable), .buf = buf};

    f.fd = test_file(BUF_SIZE);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), BUF_SIZE);
    close(f.fd);
}

/*
 * Read the test file into `*buf` on a new executor with `io_memory` bytes of
 * I/O memory (0: none), which is returned, still alive.
 */
static struct rt_executor *read_into_with(struct rt_buf *buf, size_t io_memory)
{
    struct rt_builder b = io_memory_builder(io_memory);
    struct rt_executor *ex = test_executor_with(&b);

    read_on(ex, buf);
    return ex;
}

static struct rt_executor *read_into(struct rt_buf *buf)
{
    return read_into_with(buf, 0);
}

static void *release_it(void *buf)
{
    rt_buf_release(buf);
    return NULL;
}

START_TEST(releasing_on_another_thread_stops_the_program)
{
    struct rt_buf buf = {0};
    pthread_t thread;

    read_into(&buf);
    ck_assert_int_eq(pthread_create(&thread, NULL, release_it, &buf), 0);
    pthread_join(thread, NULL); /* not reached: the release stops the program */
}
END_TEST

START_TEST(a_buffer_released_after_destroy_goes_to_free)
{
    struct rt_buf buf = {0};

    rt_executor_destroy(read_into(&buf));
    ck_assert_ptr_nonnull(buf.data);
    ck_assert_int_eq(rt__alloc_live(), 2); /* the buffer, and the memory it would go back to */
    rt_buf_release(&buf);
    ck_assert_int_eq(rt__alloc_live(), 0);
}
END_TEST

/*
 * A buffer in the I/O memory keeps that memory, and the struct that owns it,
 * until it is released: then both go. (The memory is mapped, not malloc'd:
 * rt__alloc_live() counts only the struct.)
 */
START_TEST(a_registered_buffer_released_after_destroy_frees_the_io_memory)
{
    struct rt_buf buf = {0};
    struct rt_percore *pc;

    need_memlock();
    rt_executor_destroy(read_into_with(&buf, IO_MEMORY));
    pc = buf.owner;
    ck_assert(rt__percore_registered(pc, buf.data));
    ck_assert(pc->closed);
    ck_assert_uint_eq(pc->outstanding, 1);
    ck_assert_int_eq(rt__alloc_live(), 1); /* the struct, kept alive by the buffer */
    ((unsigned char *)buf.data)[0] ^= 1;   /* still mapped: a write is fine */
    rt_buf_release(&buf);
    ck_assert_int_eq(rt__alloc_live(), 0);
}
END_TEST

/*
 * Run `body` in a child process with its stderr captured, and check that it
 * did not end normally and that its report (ASan's, or the runtime's
 * message) names `what`.
 */
static void expect_report(void (*body)(void), const char *what)
{
    static char report[1 << 16];
    size_t used = 0;
    int out[2], status;
    ssize_t n;
    pid_t pid;

    ck_assert_int_eq(pipe(out), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDERR_FILENO);
        close(out[0]);
        body();
        _exit(0); /* nothing was reported */
    }
    close(out[1]);
    while (used < sizeof(report) - 1 &&
           (n = read(out[0], report + used, sizeof(report) - 1 - used)) > 0)
        used += (size_t)n;
    report[used] = '\0';
    close(out[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0,
                  "the child ended normally: nothing was reported");
    ck_assert_msg(strstr(report, what), "expected \"%s\" in the child's report:\n%s", what, report);
}

/*
 * Release a buffer, then a copy of it. Another buffer stays out meanwhile, as
 * in a real program: with none out, the count of blocks out would fall to 0
 * and stop the second release on an assertion instead.
 */
static void release_twice_with(size_t io_memory)
{
    struct rt_buf buf = {0}, copy, other = {0};

    read_on(read_into_with(&buf, io_memory), &other);
    copy = buf;
    rt_buf_release(&buf);
    rt_buf_release(&copy);
}

static void release_twice(void)
{
    release_twice_with(IO_MEMORY); /* buffers in the I/O memory */
}

static void release_twice_unregistered(void)
{
    release_twice_with(0);
}

/* Plain builds too: the buffer is on top of its list when it comes back the second time. */
START_TEST(a_buffer_released_twice_stops_the_program)
{
    expect_report(release_twice, "given back twice");
    expect_report(release_twice_unregistered, "given back twice");
}
END_TEST

/*
 * The same after the executor is gone, with another buffer given back in
 * between, so that the first is no longer on top of its list; a third stays
 * out, and keeps the per-core memory alive. The blocks that come back then
 * wait on their lists for the last one, and each release searches its list.
 */
static void release_twice_after_destroy_with(size_t io_memory)
{
    struct rt_buf buf = {0}, copy, between = {0}, kept = {0};
    struct rt_executor *ex = read_into_with(&buf, io_memory);

    read_on(ex, &between);
    read_on(ex, &kept);
    rt_executor_destroy(ex);
    copy = buf;
    rt_buf_release(&buf);
    rt_buf_release(&between);
    rt_buf_release(&copy);
}

static void release_twice_after_destroy(void)
{
    release_twice_after_destroy_with(IO_MEMORY);
}

static void release_twice_after_destroy_unregistered(void)
{
    release_twice_after_destroy_with(0);
}

START_TEST(a_buffer_released_twice_after_destroy_stops_the_program)
{
    expect_report(release_twice_after_destroy, "given back twice");
    expect_report(release_twice_after_destroy_unregistered, "given back twice");
}
END_TEST

/* The blocks that came back after destroy are all freed with the last one, I/O memory or not. */
START_TEST(blocks_back_after_destroy_are_freed_with_the_last)
{
    for (size_t io_memory = 0; io_memory <= IO_MEMORY; io_memory += IO_MEMORY) {
        struct rt_buf a = {0}, b = {0}, c = {0};
        struct rt_executor *ex = read_into_with(&a, io_memory);
        struct rt_percore *pc;

        read_on(ex, &b);
        read_on(ex, &c);
        rt_executor_destroy(ex);
        pc = a.owner;
        rt_buf_release(&b);
        rt_buf_release(&a);
        ck_assert(pc->closed);
        ck_assert_uint_eq(pc->outstanding, 1);
        ck_assert_ptr_nonnull(c.data);
        memset(c.data, 0xa5, BUF_SIZE); /* still its own: the others did not take the memory */
        rt_buf_release(&c);
        ck_assert_int_eq(rt__alloc_live(), 0);
    }
}
END_TEST

/* -------------------------------------------------- AddressSanitizer sees it */

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifdef TEST_ASAN

/* The child's main future: spawn a task, note where it lives, join it (which frees it). */
static struct rt_task *joined_task;
static struct rt_source *finished_source;

struct leave_pointers {
    struct rt_async async;
    struct rt_join_handle h;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll leave_pointers_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct leave_pointers *f = (struct leave_pointers *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_value child = test_value(1);

        f->h = rt_spawn(&child.future, sizeof(child));
    }
    joined_task = f->h.task;
    AWAIT(&f->h.future, &f->n);
    rt_io_nop(&f->io);
    finished_source = f->io.source;
    AWAIT(&f->io.future, &f->n);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable leave_pointers_vtable = {leave_pointers_poll, rt_async_drop};

static void run_leave_pointers(void)
{
    struct leave_pointers f = {.async = RT_ASYNC_INIT(&leave_pointers_vtable)};

    /* The executor stays alive: the blocks are on its free lists, not freed to malloc. */
    rt_executor_run(test_executor(), &f.async.future, sizeof(f));
}

static void touch_freed_task(void)
{
    run_leave_pointers();
    fprintf(stderr, "state %u\n", ((volatile struct rt_task *)joined_task)->state);
}

static void touch_freed_source(void)
{
    run_leave_pointers();
    fprintf(stderr, "res %d\n", ((volatile struct rt_source *)finished_source)->res);
}

static void touch_released_buffer_with(size_t io_memory)
{
    struct rt_buf buf = {0};
    volatile unsigned char *data;

    read_into_with(&buf, io_memory);
    data = buf.data;
    rt_buf_release(&buf);
    fprintf(stderr, "byte %d\n", data[10]);
}

static void touch_released_buffer(void)
{
    touch_released_buffer_with(IO_MEMORY); /* a block of the I/O memory */
}

static void touch_released_unregistered_buffer(void)
{
    touch_released_buffer_with(0); /* a block of the lists */
}

START_TEST(asan_sees_a_freed_task_touched)
{
    expect_report(touch_freed_task, "AddressSanitizer: use-after-poison");
}
END_TEST

START_TEST(asan_sees_a_freed_request_touched)
{
    expect_report(touch_freed_source, "AddressSanitizer: use-after-poison");
}
END_TEST

START_TEST(asan_sees_a_released_buffer_touched)
{
    expect_report(touch_released_buffer, "AddressSanitizer: use-after-poison");
    expect_report(touch_released_unregistered_buffer, "AddressSanitizer: use-after-poison");
}
END_TEST

#endif /* TEST_ASAN */

Suite *suite_percore(void)
{
    Suite *s = suite_create("percore");
    TCase *tc = test_case("percore");

    tcase_add_test(tc, a_spawn_after_a_join_reuses_the_block);
    tcase_add_test(tc, a_request_reuses_the_last_requests_block);
    tcase_add_test(tc, a_block_goes_back_to_the_list_of_its_size);
    tcase_add_test(tc, the_cache_is_bounded);
    tcase_add_test(tc, a_block_taken_from_a_list_is_no_longer_counted_there);
    tcase_add_test(tc, every_block_is_freed_at_destroy);
    tcase_add_test(tc, a_task_freed_after_destroy_goes_to_free);
    tcase_add_test(tc, owned_reads_bring_the_bytes_and_recycle_the_buffer);
    tcase_add_test(tc, owned_reads_without_io_memory_use_the_lists);
    tcase_add_test(tc, an_owned_read_moves_at_most_rt_io_max);
    tcase_add_test(tc, with_the_io_memory_all_out_a_read_uses_the_lists);
    tcase_add_test(tc, io_memory_the_kernel_refuses_is_left_out);
    tcase_add_test(tc, io_memory_blocks_are_aligned_to_their_size_up_to_a_page);
    tcase_add_test(tc, io_memory_past_the_limit_is_refused);
    tcase_add_test(tc, io_memory_at_the_limit_is_allowed);
    tcase_add_test(tc, an_owned_read_dropped_in_flight_keeps_its_buffer_until_the_completion);
    tcase_add_test(tc, an_owned_buffer_nobody_took_is_released);
    tcase_add_test_raise_signal(tc, releasing_on_another_thread_stops_the_program, SIGABRT);
    tcase_add_test(tc, a_buffer_released_after_destroy_goes_to_free);
    tcase_add_test(tc, a_registered_buffer_released_after_destroy_frees_the_io_memory);
    tcase_add_test(tc, a_buffer_released_twice_stops_the_program);
    tcase_add_test(tc, a_buffer_released_twice_after_destroy_stops_the_program);
    tcase_add_test(tc, blocks_back_after_destroy_are_freed_with_the_last);
#ifdef TEST_ASAN
    /* Only an ASan build can see these; without it they would be undefined behaviour. */
    tcase_add_test(tc, asan_sees_a_freed_task_touched);
    tcase_add_test(tc, asan_sees_a_freed_request_touched);
    tcase_add_test(tc, asan_sees_a_released_buffer_touched);
#endif
    suite_add_tcase(s, tc);
    return s;
}
