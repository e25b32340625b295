/*
 * tests/test_file.c - file I/O through the ring: open, write, fsync, read
 * and close as futures, and the whole-transfer futures built on them.
 *
 * Cases: a round trip of 3 MiB + 123 bytes (more than one request can move,
 * so rt_write_all and rt_read_exact must loop); one read and one write of
 * more than RT_IO_MAX bytes, which move exactly RT_IO_MAX; reads at and
 * across the end of a file; whole transfers at the file's own position
 * (RT_OFFSET_CURRENT) over more than one request; 1,000 reads issued at
 * once to a ring of 8 entries, which takes the reactor down its "submission
 * queue full" and "completion queue overflow" paths; and errors (-ENOENT,
 * -EBADF) after which the executor carries on as if nothing had happened.
 *
 * Every test file's bytes follow one pattern (pattern_byte below), so a read
 * from the wrong offset can never compare equal. The futures here always run
 * to their end (a failed assertion ends the test's process), so they free
 * what they own on their last lines rather than in a drop function.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reactor.h" /* the statistics that show which paths the reactor took */

TEST_SINCE_PHASE(2);

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* ------------------------------------------------------ files and bytes */

/*
 * Byte `pos` of every test file: byte pos % 4 of the 32-bit number pos / 4,
 * least significant first. The file is the numbers 0, 1, 2, ... in a row,
 * so every 4-byte word says where it belongs.
 */
static unsigned char pattern_byte(size_t pos)
{
    uint32_t word = (uint32_t)(pos / 4);

    return (unsigned char)(word >> (8 * (pos % 4)));
}

/* Fill `buf` with the bytes the pattern has at positions start .. start + len - 1. */
static void fill_pattern(unsigned char *buf, size_t len, size_t start)
{
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = pattern_byte(start + i);
}

/* True if `buf` holds the pattern's bytes from position `start` on. */
static bool matches_pattern(const unsigned char *buf, size_t len, size_t start)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (buf[i] != pattern_byte(start + i))
            return false;
    return true;
}

/* Make a new empty file in $TMPDIR (or /tmp), write its name into `path`, return its fd. */
static int make_temp_file(char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(path, size, "%s/rt-test-file-XXXXXX", dir);
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp(%s): %s", path, strerror(errno));
    return fd;
}

/*
 * An fd for a file that already holds `len` bytes of the pattern. It is
 * unlinked at once: it has no name left to clean up, and it vanishes when
 * the fd is closed. Written with plain pwrite(): setting up is not what
 * these tests are about.
 */
static int pattern_file(size_t len)
{
    char path[PATH_MAX];
    int fd = make_temp_file(path, sizeof(path));
    unsigned char *bytes = rt__malloc(len);
    size_t done = 0;

    ck_assert_int_eq(unlink(path), 0);
    fill_pattern(bytes, len, 0);
    while (done < len) {
        ssize_t n = pwrite(fd, bytes + done, len - done, (off_t)done);

        ck_assert_msg(n > 0, "pwrite: %s", strerror(errno));
        done += (size_t)n;
    }
    rt__free(bytes);
    return fd;
}

/* ------------------------------------------------------------ round trip */

/* Three requests' worth and 123 bytes more: a fourth, short request ends each transfer. */
#define BIG_FILE (3 * RT_IO_MAX + 123)

struct round_trip {
    struct rt_async async;
    const char *path;    /* an existing, empty file */
    const void *data;    /* BIG_FILE bytes to write */
    unsigned char *back; /* BIG_FILE bytes to read them back into */
    int fd;
    struct rt_io io;
    struct rt_write_all write;
    struct rt_read_exact read;
    unsigned long completed; /* the reactor's count of completions, before a transfer */
    intptr_t n;
};

static enum rt_poll round_trip_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct round_trip *f = (struct round_trip *)self;
    struct stat st;

    ASYNC_BEGIN(f, cx, out);
    rt_io_open(&f->io, f->path, O_RDWR | O_CLOEXEC, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_msg(f->n >= 0, "rt_io_open: %s", strerror((int)-f->n));
    f->fd = (int)f->n;
    ck_assert_int_eq(unlink(f->path), 0); /* the open fd keeps the file; nothing is left behind */

    /* One request moves at most RT_IO_MAX bytes: writing it all takes at least four. */
    f->completed = reactor_now()->stats.completed;
    rt_write_all(&f->write, f->fd, f->data, BIG_FILE, 0);
    AWAIT(&f->write.async.future, &f->n);
    ck_assert_int_eq(f->n, BIG_FILE);
    ck_assert_uint_ge(reactor_now()->stats.completed - f->completed, 4);
    ck_assert_int_eq(fstat(f->fd, &st), 0); /* a second opinion, from outside the ring */
    ck_assert_int_eq(st.st_size, BIG_FILE);

    rt_io_fsync(&f->io, f->fd);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);

    f->completed = reactor_now()->stats.completed;
    rt_read_exact(&f->read, f->fd, f->back, BIG_FILE, 0);
    AWAIT(&f->read.async.future, &f->n);
    ck_assert_int_eq(f->n, BIG_FILE);
    ck_assert_uint_ge(reactor_now()->stats.completed - f->completed, 4);
    ck_assert(memcmp(f->back, f->data, BIG_FILE) == 0);

    rt_io_close(&f->io, f->fd);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    /* The ring really closed it: the descriptor is gone from the process. */
    ck_assert(fcntl(f->fd, F_GETFD) == -1 && errno == EBADF);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable round_trip_vtable = {round_trip_poll, rt_async_drop};

START_TEST(write_fsync_read_back_more_than_one_request)
{
    char path[PATH_MAX];
    unsigned char *data = rt__malloc(BIG_FILE);
    unsigned char *back = rt__calloc(1, BIG_FILE);
    struct round_trip f = {.async = RT_ASYNC_INIT(&round_trip_vtable),
                           .path = path,
                           .data = data,
                           .back = back,
                           .fd = -1};

    /* The file is opened again through the ring; this descriptor only made it. */
    close(make_temp_file(path, sizeof(path)));
    fill_pattern(data, BIG_FILE, 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    rt__free(data);
    rt__free(back);
}
END_TEST

/* ---------------------------------------------------- one request's most */

struct one_request {
    struct rt_async async;
    int fd;             /* BIG_FILE bytes of the pattern */
    unsigned char *buf; /* BIG_FILE bytes */
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll one_request_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct one_request *f = (struct one_request *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read(&f->io, f->fd, f->buf, BIG_FILE, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, RT_IO_MAX);
    ck_assert(matches_pattern(f->buf, RT_IO_MAX, 0));
    /* The same bytes written back, in one request: the same limit. */
    rt_io_write(&f->io, f->fd, f->buf, BIG_FILE, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, RT_IO_MAX);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable one_request_vtable = {one_request_poll, rt_async_drop};

/*
 * One read or write asked for more than RT_IO_MAX bytes, where the file has
 * them, moves exactly RT_IO_MAX: the round trip above only sees that the
 * transfer loops, and would not notice a limit one byte short.
 */
START_TEST(one_request_moves_exactly_rt_io_max)
{
    struct one_request f = {.async = RT_ASYNC_INIT(&one_request_vtable),
                            .fd = pattern_file(BIG_FILE),
                            .buf = rt__malloc(BIG_FILE)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    rt__free(f.buf);
    close(f.fd);
}
END_TEST

/* ----------------------------------------------------------- end of file */

#define SMALL_FILE 10000

struct past_eof {
    struct rt_async async;
    int fd; /* SMALL_FILE bytes of the pattern */
    struct rt_io io;
    struct rt_read_exact read;
    unsigned char buf[4096];
    intptr_t n;
};

static enum rt_poll past_eof_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct past_eof *f = (struct past_eof *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Exactly at the end, and far beyond it: 0 bytes, which is not an error. */
    rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), SMALL_FILE);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), 10 * SMALL_FILE);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);

    /* Across the end: rt_read_exact stops there and says how much it got. */
    rt_read_exact(&f->read, f->fd, f->buf, sizeof(f->buf), SMALL_FILE - 1000);
    AWAIT(&f->read.async.future, &f->n);
    ck_assert_int_eq(f->n, 1000);
    ck_assert(matches_pattern(f->buf, 1000, SMALL_FILE - 1000));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable past_eof_vtable = {past_eof_poll, rt_async_drop};

START_TEST(reads_at_and_across_end_of_file)
{
    struct past_eof f = {.async = RT_ASYNC_INIT(&past_eof_vtable), .fd = pattern_file(SMALL_FILE)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fd);
}
END_TEST

/* ------------------------------------------- 1,000 reads through 8 slots */

#define BLOCK  4096
#define BLOCKS 1000

/* Reads block `i` of the file and checks it. Output: the bytes read. */
struct block_reader {
    struct rt_async async;
    int fd;
    size_t i;
    struct rt_io io;
    unsigned char buf[BLOCK];
    intptr_t n;
};

static enum rt_poll block_reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct block_reader *f = (struct block_reader *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read(&f->io, f->fd, f->buf, BLOCK, f->i * BLOCK);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, BLOCK);
    ck_assert_msg(matches_pattern(f->buf, BLOCK, f->i * BLOCK), "block %zu holds wrong bytes",
                  f->i);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable block_reader_vtable = {block_reader_poll, rt_async_drop};

struct many_reads {
    struct rt_async async;
    int fd;
    struct rt_join_handle *jobs; /* BLOCKS handles, rt__calloc'd */
    size_t i;
    intptr_t n;
};

static enum rt_poll many_reads_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_reads *f = (struct many_reads *)self;

    ASYNC_BEGIN(f, cx, out);
    f->jobs = rt__calloc(BLOCKS, sizeof(*f->jobs));
    /* All spawned before any runs: their 1,000 requests reach the reactor in the same turn. */
    for (f->i = 0; f->i < BLOCKS; f->i++) {
        struct block_reader r = {
            .async = RT_ASYNC_INIT(&block_reader_vtable), .fd = f->fd, .i = f->i};
        f->jobs[f->i] = rt_spawn(&r.async.future, sizeof(r));
    }
    for (f->i = 0; f->i < BLOCKS; f->i++) {
        AWAIT(&f->jobs[f->i].future, &f->n);
        ck_assert_int_eq(f->n, BLOCK);
    }
    rt__free(f->jobs);

    /*
     * 1,000 requests do not fit in 8 submission slots: the reactor had to
     * submit a full queue and go on filling it. Nor do their completions
     * fit in 16 completion slots: the kernel held the rest back (it never
     * drops them), and the reactor had to ask for them.
     */
    ck_assert_uint_gt(reactor_now()->stats.sq_full, 0);
    ck_assert_uint_gt(reactor_now()->stats.cq_overflow, 0);
    ck_assert_uint_ge(reactor_now()->stats.completed, BLOCKS);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable many_reads_vtable = {many_reads_poll, rt_async_drop};

START_TEST(a_thousand_reads_through_a_ring_of_eight)
{
    struct many_reads f = {.async = RT_ASYNC_INIT(&many_reads_vtable),
                           .fd = pattern_file(BLOCKS * BLOCK)};
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;

    b.ring_entries = 8; /* the kernel gives the completion queue twice that: 16 */
    ex = test_executor_with(&b);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    close(f.fd);
}
END_TEST

/* ------------------------------------------------- the file's own position */

/* Where the file's own position starts, and a span that takes more than one request. */
#define POSITION 1000
#define SPAN     (RT_IO_MAX + 2000)

struct at_current {
    struct rt_async async;
    int fd;             /* POSITION + SPAN bytes of the pattern */
    int empty;          /* an empty file */
    unsigned char *buf; /* SPAN bytes */
    struct rt_read_exact read;
    struct rt_write_all write;
    intptr_t n;
};

static enum rt_poll at_current_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct at_current *f = (struct at_current *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Read from wherever the file's position is: each piece follows the one before. */
    ck_assert_int_eq(lseek(f->fd, POSITION, SEEK_SET), POSITION);
    rt_read_exact(&f->read, f->fd, f->buf, SPAN, RT_OFFSET_CURRENT);
    AWAIT(&f->read.async.future, &f->n);
    ck_assert_int_eq(f->n, SPAN);
    ck_assert(matches_pattern(f->buf, SPAN, POSITION));
    ck_assert_int_eq(lseek(f->fd, 0, SEEK_CUR), POSITION + SPAN); /* the position moved with them */

    /* Written the same way, the pieces land one after another, from the start of the file. */
    fill_pattern(f->buf, SPAN, 0);
    rt_write_all(&f->write, f->empty, f->buf, SPAN, RT_OFFSET_CURRENT);
    AWAIT(&f->write.async.future, &f->n);
    ck_assert_int_eq(f->n, SPAN);
    ck_assert_int_eq(lseek(f->empty, 0, SEEK_CUR), SPAN);
    memset(f->buf, 0, SPAN); /* a second opinion, from outside the ring */
    ck_assert_int_eq(pread(f->empty, f->buf, SPAN, 0), SPAN);
    ck_assert(matches_pattern(f->buf, SPAN, 0));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable at_current_vtable = {at_current_poll, rt_async_drop};

/*
 * rt_read_exact and rt_write_all at RT_OFFSET_CURRENT, over more than one
 * request: every request after the first must follow the file's position
 * too, not jump to an offset of its own.
 */
START_TEST(whole_transfers_follow_the_file_position)
{
    char path[PATH_MAX];
    struct at_current f = {.async = RT_ASYNC_INIT(&at_current_vtable),
                           .fd = pattern_file(POSITION + SPAN),
                           .empty = make_temp_file(path, sizeof(path)),
                           .buf = rt__malloc(SPAN)};

    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    rt__free(f.buf);
    close(f.fd);
    close(f.empty);
}
END_TEST

/* ---------------------------------------------------------------- errors */

struct errors {
    struct rt_async async;
    const char *missing; /* a path where no file is */
    int fd;              /* SMALL_FILE bytes of the pattern */
    int closed_fd;       /* a descriptor that was closed */
    struct rt_io io;
    unsigned char buf[100];
    intptr_t n;
};

static enum rt_poll errors_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct errors *f = (struct errors *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_open(&f->io, f->missing, O_RDONLY | O_CLOEXEC, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, -ENOENT);
    /* The executor carries on: a read right after the error works. */
    rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, sizeof(f->buf));
    ck_assert(matches_pattern(f->buf, sizeof(f->buf), 0));

    /*
     * A descriptor number that was valid a moment ago, and no longer is.
     * Made here, not before the executor: the ring's own descriptor would
     * have taken the free number.
     */
    f->closed_fd = dup(f->fd);
    ck_assert_int_ge(f->closed_fd, 0);
    ck_assert_int_eq(close(f->closed_fd), 0);
    rt_io_read(&f->io, f->closed_fd, f->buf, sizeof(f->buf), 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, -EBADF);
    memset(f->buf, 0, sizeof(f->buf));
    rt_io_read(&f->io, f->fd, f->buf, sizeof(f->buf), 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, sizeof(f->buf));
    ck_assert(matches_pattern(f->buf, sizeof(f->buf), 0));

    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable errors_vtable = {errors_poll, rt_async_drop};

START_TEST(errors_are_results_and_the_executor_carries_on)
{
    char missing[PATH_MAX];
    struct errors f = {
        .async = RT_ASYNC_INIT(&errors_vtable), .missing = missing, .fd = pattern_file(SMALL_FILE)};

    /* A path that named a file a moment ago, and no longer does. */
    close(make_temp_file(missing, sizeof(missing)));
    ck_assert_int_eq(unlink(missing), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fd);
}
END_TEST

Suite *suite_file(void)
{
    Suite *s = suite_create("file");
    TCase *tc = test_case("file");

    tcase_add_test(tc, write_fsync_read_back_more_than_one_request);
    tcase_add_test(tc, one_request_moves_exactly_rt_io_max);
    tcase_add_test(tc, reads_at_and_across_end_of_file);
    tcase_add_test(tc, a_thousand_reads_through_a_ring_of_eight);
    tcase_add_test(tc, whole_transfers_follow_the_file_position);
    tcase_add_test(tc, errors_are_results_and_the_executor_carries_on);
    suite_add_tcase(s, tc);
    return s;
}
