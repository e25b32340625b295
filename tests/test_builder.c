/*
 * tests/test_builder.c - the builder's phase-3 fields: every ring mode
 * works, and fields out of range are refused.
 *
 * Cases: in each ring mode, named explicitly (PLAIN, COOP, DEFER) and left
 * to AUTO, an executor reports the mode it was made in and does the
 * everyday things: a file written and read back, bytes over a socket, both
 * kinds of sleep, a notification, and more requests at once than its
 * 8-entry ring holds; then a builder with ring_mode 99, -1 or one past
 * RT_RING_DEFER, preempt_slice_ns over RT_SLICE_MAX_NS, or
 * spin_before_park_ns over a second is refused with -EINVAL,
 * rt_last_error() naming the field, and nothing made (the leak check),
 * while the limits themselves are accepted.
 * An executor in COOP mode made on one thread runs on another; one in DEFER
 * mode (SINGLE_ISSUER) run or destroyed on another thread stops the program
 * with a message that says why.
 *
 * A kernel too old for a mode makes its test SKIP with rt_last_error()'s
 * reason (test_executor_with does that), never pass silently.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "reactor.h" /* the mode the ring was made in, and its statistics */

TEST_SINCE_PHASE(3);

static const int ring_modes[] = {RT_RING_PLAIN, RT_RING_COOP, RT_RING_DEFER, RT_RING_AUTO};
#define N_RING_MODES ((int)(sizeof(ring_modes) / sizeof(ring_modes[0])))

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/* ------------------------------------------------------ each mode does the job */

#define FILE_BYTES (100 * 1000)
#define NOPS       64 /* eight times the ring */

struct nop {
    struct rt_async async;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll nop_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct nop *f = (struct nop *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable nop_vtable = {nop_poll, rt_async_drop};

static bool always(void *arg)
{
    return *(bool *)arg;
}

struct everyday {
    struct rt_async async;
    int mode;
    int file;
    int fds[2];
    unsigned char *out_bytes, *in_bytes; /* FILE_BYTES each, rt__malloc'd */
    struct rt_write_all write;
    struct rt_read_exact read;
    struct rt_io io;
    struct rt_sleep sleep;
    struct rt_wait_notify wait;
    bool notified;
    struct rt_join_handle nops[NOPS];
    char buf[8];
    int i;
    intptr_t res;
};

static enum rt_poll everyday_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct everyday *f = (struct everyday *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_int_eq(reactor_now()->mode, f->mode);

    /* A file. */
    f->out_bytes = rt__malloc(FILE_BYTES);
    f->in_bytes = rt__malloc(FILE_BYTES);
    for (f->i = 0; f->i < FILE_BYTES; f->i++)
        f->out_bytes[f->i] = (unsigned char)(f->i * 7 + f->i / 256);
    rt_write_all(&f->write, f->file, f->out_bytes, FILE_BYTES, 0);
    AWAIT(&f->write.async.future, &f->res);
    ck_assert_int_eq(f->res, FILE_BYTES);
    rt_read_exact(&f->read, f->file, f->in_bytes, FILE_BYTES, 0);
    AWAIT(&f->read.async.future, &f->res);
    ck_assert_int_eq(f->res, FILE_BYTES);
    ck_assert(memcmp(f->in_bytes, f->out_bytes, FILE_BYTES) == 0);
    rt__free(f->out_bytes);
    rt__free(f->in_bytes);

    /* A socket, both ways. */
    rt_io_send(&f->io, f->fds[0], "ping", 4);
    AWAIT(&f->io.future, &f->res);
    ck_assert_int_eq(f->res, 4);
    rt_io_recv(&f->io, f->fds[1], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->res);
    ck_assert_int_eq(f->res, 4);
    ck_assert(memcmp(f->buf, "ping", 4) == 0);
    rt_io_send(&f->io, f->fds[1], "pong", 4);
    AWAIT(&f->io.future, &f->res);
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->res);
    ck_assert_int_eq(f->res, 4);
    ck_assert(memcmp(f->buf, "pong", 4) == 0);

    /* Both sleeps: the executor's heap and the kernel's timer. */
    rt_sleep(&f->sleep, NSEC_PER_MSEC);
    AWAIT(&f->sleep.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    rt_io_sleep(&f->io, NSEC_PER_MSEC);
    AWAIT(&f->io.future, &f->res);
    ck_assert_int_eq(f->res, 0);

    /* A notification (from this thread: test_park sends them from others). */
    f->notified = false;
    rt_wait_notify(&f->wait, always, &f->notified);
    f->notified = true;
    rt_executor_notify(rt_executor_current());
    AWAIT(&f->wait.future, &f->res);
    ck_assert_int_eq(f->res, 0);

    /* More requests than the ring holds: the full-queue path, in this mode. */
    for (f->i = 0; f->i < NOPS; f->i++) {
        struct nop n = {.async = RT_ASYNC_INIT(&nop_vtable)};
        f->nops[f->i] = rt_spawn(&n.async.future, sizeof(n));
    }
    for (f->i = 0; f->i < NOPS; f->i++) {
        AWAIT(&f->nops[f->i].future, &f->res);
        ck_assert_int_eq(f->res, 0);
    }
    ck_assert_uint_gt(reactor_now()->stats.sq_full, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable everyday_vtable = {everyday_poll, rt_async_drop};

/* The mode RT_RING_AUTO must choose here: the first of DEFER, COOP, PLAIN this kernel makes. */
static int best_mode(void)
{
    static const int best_first[] = {RT_RING_DEFER, RT_RING_COOP, RT_RING_PLAIN};
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    size_t i;

    for (i = 0; i < sizeof(best_first) / sizeof(best_first[0]); i++) {
        b.ring_mode = best_first[i];
        if (rt_executor_create(&b, &ex) == 0) {
            rt_executor_destroy(ex);
            return best_first[i];
        }
    }
    return RT_RING_AUTO; /* none: test_executor_with() will skip */
}

START_TEST(every_ring_mode_does_the_everyday_things)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct everyday f = {.async = RT_ASYNC_INIT(&everyday_vtable), .mode = ring_modes[_i]};
    struct rt_executor *ex;
    const char *dir = getenv("TMPDIR");
    char path[4096];

    /* AUTO is never the mode a ring is in: it is the best one there is. */
    if (f.mode == RT_RING_AUTO)
        f.mode = best_mode();
    b.ring_mode = ring_modes[_i];
    b.ring_entries = 8;
    ex = test_executor_with(&b);
    snprintf(path, sizeof(path), "%s/rt-test-mode-XXXXXX", dir && *dir ? dir : "/tmp");
    f.file = mkstemp(path);
    ck_assert_int_ge(f.file, 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    close(f.file);
    close(f.fds[0]);
    close(f.fds[1]);
}
END_TEST

/* ------------------------------------------------------ fields out of range */

/* rt_executor_create(b) must fail with -EINVAL, say why naming `field`, and make nothing. */
static void check_refused(const struct rt_builder *b, const char *field)
{
    static char sentinel;
    struct rt_executor *const before = (struct rt_executor *)&sentinel;
    struct rt_executor *ex = before; /* must not be overwritten */

    ck_assert_int_eq(rt_executor_create(b, &ex), -EINVAL);
    ck_assert_ptr_eq(ex, before);
    ck_assert_msg(strstr(rt_last_error(), field), "rt_last_error() says \"%s\", not why %s",
                  rt_last_error(), field);
    ck_assert_int_eq(rt__alloc_live(), 0);
}

START_TEST(builder_fields_out_of_range_are_refused)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    char why[64];

    b.ring_mode = 99;
    check_refused(&b, "ring_mode");
    b.ring_mode = -1;
    check_refused(&b, "ring_mode");
    /*
     * One past the last mode is refused by the builder's check, for its value: let through,
     * the ring's setup would refuse it too, but blaming the kernel ("this kernel refused an
     * io_uring in mode ...", which also says "ring_mode").
     */
    b.ring_mode = RT_RING_DEFER + 1;
    snprintf(why, sizeof(why), "ring_mode %d is not one of RT_RING_*", b.ring_mode);
    check_refused(&b, why);
    b.ring_mode = RT_RING_AUTO;

    b.preempt_slice_ns = RT_SLICE_MAX_NS + 1;
    check_refused(&b, "preempt_slice_ns");
    b.preempt_slice_ns = UINT64_MAX;
    check_refused(&b, "preempt_slice_ns");
    b.preempt_slice_ns = 0;

    b.spin_before_park_ns = NSEC_PER_SEC + 1;
    check_refused(&b, "spin_before_park_ns");
    b.spin_before_park_ns = UINT64_MAX;
    check_refused(&b, "spin_before_park_ns");

    /*
     * The limits themselves are fine, and a good builder after bad ones works.
     * Made directly, not with test_executor_with(), which skips the test on
     * any failure to make one: a limit wrongly refused would show as a skip.
     * Whether this machine can make an executor at all is asked first.
     */
    rt_executor_destroy(test_executor());
    b.preempt_slice_ns = RT_SLICE_MAX_NS;
    b.spin_before_park_ns = NSEC_PER_SEC;
    ck_assert_msg(rt_executor_create(&b, &ex) == 0, "%s", rt_last_error());
    ck_assert_str_eq(rt_last_error(), "");
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------------ the thread an executor is used on */

struct elsewhere {
    int mode; /* the ring mode to make the executor in */
    struct rt_executor *ex;
    int made;     /* rt_executor_create()'s result */
    intptr_t out; /* rt_executor_run()'s */
};

static void on_another_thread(void *(*fn)(void *), struct elsewhere *e)
{
    pthread_t thread;

    ck_assert_int_eq(pthread_create(&thread, NULL, fn, e), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
}

/* A task that sleeps for an hour: still there when its executor is destroyed. */
struct sleeper {
    struct rt_async async;
    struct rt_sleep sleep;
};

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_sleep(&f->sleep, 3600 * NSEC_PER_SEC);
    AWAIT(&f->sleep.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

/* A NOP (one trip to the ring), then a sleeper spawned and left behind: the run's main. */
struct nop_and_leave {
    struct rt_async async;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll nop_and_leave_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct nop_and_leave *f = (struct nop_and_leave *)self;
    struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable)};
    struct rt_join_handle left;

    ASYNC_BEGIN(f, cx, out);
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->res);
    left = rt_spawn(&s.async.future, sizeof(s));
    rt_join_detach(&left);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable nop_and_leave_vtable = {nop_and_leave_poll, rt_async_drop};

/* Run e->ex on the calling thread, another one than its maker's. */
static void *run_there(void *arg)
{
    struct elsewhere *e = arg;
    struct nop_and_leave f = {.async = RT_ASYNC_INIT(&nop_and_leave_vtable)};

    e->out = rt_executor_run(e->ex, &f.async.future, sizeof(f));
    return NULL;
}

/* Make e->ex, in ring mode e->mode, on the calling thread (also a pthread start routine). */
static void *make_here(void *arg)
{
    struct elsewhere *e = arg;
    struct rt_builder b = RT_BUILDER_INIT;

    b.ring_mode = e->mode;
    e->made = rt_executor_create(&b, &e->ex);
    return NULL;
}

/*
 * Make a COOP executor on this thread, run it on another, destroy it here,
 * with the run's sleeper still in it: destroy frees its task here. The test
 * does this on a thread of its own: blocks the run allocated are freed at
 * destroy, on another thread than the run's, which would upset the test
 * thread's count of live blocks (common/alloc.h).
 */
static void *coop_moves(void *arg)
{
    struct elsewhere *e = arg;

    make_here(e);
    if (e->made == 0) {
        on_another_thread(run_there, e);
        rt_executor_destroy(e->ex);
    }
    return NULL;
}

static void defer_run_elsewhere(void *arg)
{
    struct elsewhere e = {.mode = RT_RING_DEFER};

    (void)arg;
    make_here(&e);
    ck_assert_int_eq(e.made, 0);
    on_another_thread(run_there, &e); /* dies there */
}

static void defer_destroy_elsewhere(void *arg)
{
    struct elsewhere e = {.mode = RT_RING_DEFER};

    (void)arg;
    on_another_thread(make_here, &e);
    ck_assert_int_eq(e.made, 0);
    rt_executor_destroy(e.ex); /* dies */
}

START_TEST(only_a_defer_executor_stays_on_the_thread_that_made_it)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct elsewhere e = {.mode = RT_RING_COOP, .out = -1};

    b.ring_mode = RT_RING_COOP;
    rt_executor_destroy(test_executor_with(&b)); /* skips the test on a kernel without COOP */
    on_another_thread(coop_moves, &e);
    ck_assert_int_eq(e.made, 0);
    ck_assert_int_eq(e.out, 0);

    b.ring_mode = RT_RING_DEFER;
    rt_executor_destroy(test_executor_with(&b)); /* and the rest on a kernel without DEFER */
    test_expect_die(defer_run_elsewhere, NULL,
                    "rt_executor_run: this executor was made on another thread");
    test_expect_die(defer_destroy_elsewhere, NULL,
                    "rt_executor_destroy: this executor was made on another thread");
}
END_TEST

Suite *suite_builder(void)
{
    Suite *s = suite_create("builder");
    TCase *tc = test_case("builder");

    tcase_add_loop_test(tc, every_ring_mode_does_the_everyday_things, 0, N_RING_MODES);
    tcase_add_test(tc, builder_fields_out_of_range_are_refused);
    tcase_add_test(tc, only_a_defer_executor_stays_on_the_thread_that_made_it);
    suite_add_tcase(s, tc);
    return s;
}
