/*
 * tests/test_transfer.c - the edges of moving bytes: the one rule the whole
 * transfers (rt_read_exact, rt_write_all, rt_send_all) share, transfers of
 * zero bytes, a NULL buffer with a length of 0, which write(2) allows, and
 * one rt_io reused for a recv and then a send.
 *
 * Run under `make test SAN=1`: UndefinedBehaviorSanitizer reports a
 * memcpy() from a NULL pointer even when it would copy nothing.
 */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h" /* to count the requests that reached the kernel */

TEST_SINCE_PHASE(2);

/* ------------------------------------------------------------ the rule */

START_TEST(one_rule_for_every_result)
{
    static const struct {
        intptr_t n;       /* one request's result */
        bool reading;     /* rt_read_exact, or rt_write_all / rt_send_all */
        bool goes_on;     /* what rt__transfer_step() says */
        intptr_t n_after; /* the transfer's output, when it ends */
        size_t done_after;
    } cases[] = {
        {100, true, true, 100, 110},       {100, false, true, 100, 110},
        {-EINTR, true, true, -EINTR, 10},  {-EAGAIN, false, true, -EAGAIN, 10},
        {-EBADF, true, false, -EBADF, 10}, {-EPIPE, false, false, -EPIPE, 10},
        {0, true, false, 10, 10},    /* end of file: the bytes read so far */
        {0, false, false, -EIO, 10}, /* a write or send that moved nothing */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        intptr_t n = cases[i].n;
        size_t done = 10;

        ck_assert_msg(rt__transfer_step(&n, &done, cases[i].reading) == cases[i].goes_on,
                      "case %zu", i);
        ck_assert_msg(done == cases[i].done_after, "case %zu: done %zu", i, done);
        if (!cases[i].goes_on)
            ck_assert_msg(n == cases[i].n_after, "case %zu: output %ld", i, (long)n);
    }
}
END_TEST

/* ------------------------------------------------------- zero bytes */

struct nothing_to_move {
    struct rt_async async;
    int file, sock; /* a temporary file; one end of a socket pair */
    struct rt_read_exact read;
    struct rt_write_all write;
    struct rt_send_all send;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll nothing_to_move_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct nothing_to_move *f = (struct nothing_to_move *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Whole transfers of nothing finish at once, without a request. */
    rt_read_exact(&f->read, f->file, NULL, 0, 0);
    AWAIT(&f->read.async.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    rt_write_all(&f->write, f->file, NULL, 0, 0);
    AWAIT(&f->write.async.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    rt_send_all(&f->send, f->sock, NULL, 0);
    AWAIT(&f->send.async.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_uint_eq(rt__executor_reactor(rt_executor_current())->stats.submitted, 0);

    /* Single requests of nothing, with no buffer at all, are legal and return 0. */
    rt_io_write(&f->io, f->file, NULL, 0, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    rt_io_send(&f->io, f->sock, NULL, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    rt_io_read(&f->io, f->file, NULL, 0, 0);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable nothing_to_move_vtable = {nothing_to_move_poll, rt_async_drop};

START_TEST(moving_nothing)
{
    struct nothing_to_move f = {.async = RT_ASYNC_INIT(&nothing_to_move_vtable)};
    char path[] = "/tmp/rt-test-empty-XXXXXX";
    int fds[2];

    f.file = mkstemp(path);
    ck_assert_int_ge(f.file, 0);
    unlink(path);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    f.sock = fds[0];
    test_run(&f.async.future, sizeof(f));
    close(f.file);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* ------------------------------------------------------- one rt_io, reused */

struct reused {
    struct rt_async async;
    int fds[2]; /* a connected pair */
    struct rt_io io;
    char buf[8], back[8];
    intptr_t n;
};

static enum rt_poll reused_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reused *f = (struct reused *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_int_eq(write(f->fds[1], "abc", 3), 3);
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 3);
    ck_assert(memcmp(f->buf, "abc", 3) == 0);

    /* Finished, so fit to reuse: a send, whose bytes go to the peer and nowhere else. */
    rt_io_send(&f->io, f->fds[0], "xyz", 3);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 3);
    ck_assert_int_eq(read(f->fds[1], f->back, sizeof(f->back)), 3);
    ck_assert(memcmp(f->back, "xyz", 3) == 0);
    ck_assert(memcmp(f->buf, "abc", 3) == 0); /* the recv's buffer is the caller's again */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reused_vtable = {reused_poll, rt_async_drop};

/*
 * An rt_io that received into a buffer, then reused for a send: the send's
 * result is copied nowhere, least of all into the buffer of the recv before.
 */
START_TEST(a_reused_request_forgets_the_last_buffer)
{
    struct reused f = {.async = RT_ASYNC_INIT(&reused_vtable)};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

Suite *suite_transfer(void)
{
    Suite *s = suite_create("transfer");
    TCase *tc = test_case("transfer");

    tcase_add_test(tc, one_rule_for_every_result);
    tcase_add_test(tc, moving_nothing);
    tcase_add_test(tc, a_reused_request_forgets_the_last_buffer);
    suite_add_tcase(s, tc);
    return s;
}
