/*
 * tests/exercises/ex_2_7.c - the check for chapter 2's exercise 7: where
 * does a cancelled write go?
 *
 * The exercise adds to file.c (declared in file.h):
 *
 *   size_t rt_write_all_written(const struct rt_write_all *f);
 *
 * The bytes an rt_write_all is known to have written, counted from the
 * start of its buffer: those of every request that completed. It may be
 * called at any time, and still after the future was dropped (its struct
 * is the caller's memory, which a drop does not free): that is the promise
 * a caller needs after a timeout gave up on the write.
 *
 * rt_write_all_written() is declared weak below, so that this file builds
 * and runs before the exercise is done and fails with a message that says
 * so. Write it in file.c, which this test links because it calls
 * rt_write_all().
 *
 * The case: 1 MiB written to a pipe nobody reads, under a 50 ms deadline.
 * The pipe takes what fits, the next request waits in the kernel, and the
 * deadline cancels it. Then the pipe holds exactly the bytes the function
 * reports, and they are the first bytes of the buffer.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"

TEST_SINCE_PHASE(2);

__attribute__((weak)) size_t rt_write_all_written(const struct rt_write_all *f);

#define LEN (1u << 20)

struct cancelled_write {
    struct rt_async async;
    int fd;             /* the pipe's write end */
    unsigned char *buf; /* the test's: LEN bytes */
    size_t *written;    /* the test's: where the count goes */
    struct rt_write_all write;
    struct rt_timeout timeout;
    intptr_t n;
};

static enum rt_poll cancelled_write_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct cancelled_write *f = (struct cancelled_write *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_write_all(&f->write, f->fd, f->buf, LEN, RT_OFFSET_CURRENT);
    rt_timeout(&f->timeout, &f->write.async.future, 50 * NSEC_PER_MSEC);
    AWAIT(&f->timeout.future, &f->n);
    /* The timeout has dropped the write; its struct is still ours to read. */
    *f->written = rt_write_all_written(&f->write);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable cancelled_write_vtable = {cancelled_write_poll, rt_async_drop};

START_TEST(a_cancelled_write_all_reports_what_it_wrote)
{
    struct cancelled_write f = {.async = RT_ASYNC_INIT(&cancelled_write_vtable)};
    unsigned char *back = rt__malloc(LEN);
    size_t written = 0, in_pipe = 0, i;
    ssize_t n;
    int fds[2];

    if (!rt_write_all_written)
        ck_abort_msg("exercise 2.7 is not done yet: rt_write_all_written() does not exist "
                     "(write it in file.c, declare it in file.h)");
    f.buf = rt__malloc(LEN);
    for (i = 0; i < LEN; i++)
        f.buf[i] = (unsigned char)(i * 13 + 1);
    f.written = &written;
    ck_assert_int_eq(pipe(fds), 0);
    f.fd = fds[1];
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -ETIMEDOUT);

    /* What reached the pipe: exactly the reported bytes, the first ones of the buffer. */
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    while ((n = read(fds[0], back + in_pipe, LEN - in_pipe)) > 0)
        in_pipe += (size_t)n;
    ck_assert(n < 0 && errno == EAGAIN);
    ck_assert_uint_gt(written, 0);
    ck_assert_uint_lt(written, LEN);
    ck_assert_uint_eq(in_pipe, written);
    for (i = 0; i < in_pipe; i++)
        ck_assert_uint_eq(back[i], f.buf[i]);
    rt__free(back);
    rt__free(f.buf);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

Suite *suite_ex_2_7(void)
{
    Suite *s = suite_create("exercise 2.7");
    TCase *tc = test_case("where does a cancelled write go?");

    tcase_add_test(tc, a_cancelled_write_all_reports_what_it_wrote);
    suite_add_tcase(s, tc);
    return s;
}
