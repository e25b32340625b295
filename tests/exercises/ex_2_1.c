/*
 * tests/exercises/ex_2_1.c - the check for chapter 2's exercise 1: an
 * owned-buffer read.
 *
 * The exercise adds to io.c (declared in io.h):
 *
 *   void rt_io_read_owned(struct rt_io *io, int fd, size_t len, uint64_t offset, void **buf);
 *   void rt_io_free_buffer(void *buf);
 *
 * The future's output is the number of bytes read (or -errno). When it
 * brought bytes, *buf points at the memory the kernel read into, which the
 * caller now owns and gives back with rt_io_free_buffer(); when it brought
 * none (0 or -errno), *buf is NULL. No copy is made. Dropped while in
 * flight, it cancels and orphans its request like any rt_io.
 *
 * The two functions are declared weak below, so that this file builds and
 * runs before the exercise is done and fails with a message that says so.
 * A weak reference does not pull a file out of librt.a by itself: write
 * them in io.c, which this test links because it calls rt_io_read().
 *
 * Cases: a read in the middle of a file hands over exactly those bytes; a
 * read at the end of the file hands over nothing; a read dropped in flight
 * is cancelled, frees everything, and takes nothing from the pipe.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reactor.h" /* in-flight counts, to see the cancelled read leave the kernel */

TEST_SINCE_PHASE(2);

__attribute__((weak)) void rt_io_read_owned(struct rt_io *io, int fd, size_t len, uint64_t offset,
                                            void **buf);
__attribute__((weak)) void rt_io_free_buffer(void *buf);

#define FILE_BYTES 8192

static void require_exercise(void)
{
    if (!rt_io_read_owned || !rt_io_free_buffer)
        ck_abort_msg("exercise 2.1 is not done yet: rt_io_read_owned() and rt_io_free_buffer() "
                     "do not exist (write them in io.c, declare them in io.h)");
}

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* A temporary file holding FILE_BYTES bytes, byte i being (i * 7) & 0xff; unlinked at once. */
static int make_file(void)
{
    char path[] = "/tmp/rt-ex-2-1-XXXXXX";
    unsigned char bytes[FILE_BYTES];
    int fd = mkstemp(path);
    int i;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    for (i = 0; i < FILE_BYTES; i++)
        bytes[i] = (unsigned char)(i * 7);
    ck_assert_int_eq(write(fd, bytes, sizeof(bytes)), FILE_BYTES);
    return fd;
}

/* --------------------------------------------- reads from a file */

struct owned_reads {
    struct rt_async async;
    int fd;
    struct rt_io io;
    void *buf;
    intptr_t n;
};

static enum rt_poll owned_reads_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct owned_reads *f = (struct owned_reads *)self;
    unsigned char *bytes;
    int i;

    ASYNC_BEGIN(f, cx, out);
    /* The second 4 KiB of the file. */
    f->buf = NULL;
    rt_io_read_owned(&f->io, f->fd, 4096, 4096, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 4096);
    ck_assert_ptr_nonnull(f->buf);
    bytes = f->buf;
    for (i = 0; i < 4096; i++)
        ck_assert_uint_eq(bytes[i], (unsigned char)((4096 + i) * 7));
    rt_io_free_buffer(f->buf);

    /* At the end of the file: nothing read, nothing handed over. */
    f->buf = &f->n; /* anything but NULL, to see it cleared */
    rt_io_read_owned(&f->io, f->fd, 4096, FILE_BYTES, &f->buf);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_ptr_null(f->buf);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable owned_reads_vtable = {owned_reads_poll, rt_async_drop};

START_TEST(owned_read_hands_over_the_bytes)
{
    struct owned_reads f = {.async = RT_ASYNC_INIT(&owned_reads_vtable)};

    require_exercise();
    f.fd = make_file();
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fd);
}
END_TEST

/* --------------------------------------------- dropped in flight */

/* Reads from an empty pipe: the kernel holds the request until it is cancelled. */
struct pipe_reader {
    struct rt_async async;
    int fd;
    struct rt_io io;
    void *buf;
};

static enum rt_poll pipe_reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct pipe_reader *f = (struct pipe_reader *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_read_owned(&f->io, f->fd, 64, RT_OFFSET_CURRENT, &f->buf);
    AWAIT(&f->io.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable pipe_reader_vtable = {pipe_reader_poll, rt_async_drop};

struct drop_in_flight {
    struct rt_async async;
    int pipe[2];
    struct rt_join_handle victim;
    struct test_yield pause;
    struct rt_io io;
    char c;
    intptr_t n;
};

static enum rt_poll drop_in_flight_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct drop_in_flight *f = (struct drop_in_flight *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct pipe_reader r = {.async = RT_ASYNC_INIT(&pipe_reader_vtable), .fd = f->pipe[0]};
        f->victim = rt_spawn(&r.async.future, sizeof(r));
    }
    f->pause = test_yield(2, 0, NULL); /* two turns: the victim polls, the reactor submits */
    AWAIT(&f->pause.future, NULL);
    ck_assert_uint_eq(reactor_now()->in_flight, 1);
    ck_assert(rt_join_cancel(&f->victim));
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);

    /* The cancelled read took nothing: a byte written now is still there. */
    ck_assert_int_eq(write(f->pipe[1], "x", 1), 1);
    rt_io_read(&f->io, f->pipe[0], &f->c, 1, RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 1);
    ck_assert_int_eq(f->c, 'x');
    ck_assert(rt__reactor_idle(reactor_now())); /* the cancellation's completions were reaped */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable drop_in_flight_vtable = {drop_in_flight_poll, rt_async_drop};

START_TEST(owned_read_dropped_in_flight_is_cancelled)
{
    struct drop_in_flight f = {.async = RT_ASYNC_INIT(&drop_in_flight_vtable)};

    require_exercise();
    ck_assert_int_eq(pipe(f.pipe), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.pipe[0]);
    close(f.pipe[1]);
}
END_TEST

Suite *suite_ex_2_1(void)
{
    Suite *s = suite_create("exercise 2.1");
    TCase *tc = test_case("owned-buffer read");

    tcase_add_test(tc, owned_read_hands_over_the_bytes);
    tcase_add_test(tc, owned_read_dropped_in_flight_is_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
