/*
 * tests/test_starvation.c - a task that is always ready does not starve
 * I/O: a task that wakes itself at every poll, forever, runs beside a read
 * from a pipe that another thread writes to, and the read completes.
 *
 * Cases: in every ring mode, with the busy task in the reader's own queue
 * and in another one. The executor never parks here (something is always
 * ready), so the completion must be collected while the loop runs: in COOP
 * and DEFER modes the kernel holds it back until the thread enters the
 * kernel, and the loop must notice (IORING_SQ_TASKRUN) that it should.
 *
 * The other thread writes only once the read is in the kernel: the busy
 * task tells it so after it has been polled twice since the reader asked,
 * which means a turn of the loop, and with it a submission, came in
 * between. A starved read makes the test hang, which the harness's timeout
 * turns into a failure.
 */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

TEST_SINCE_PHASE(3);

static const int ring_modes[] = {RT_RING_AUTO, RT_RING_PLAIN, RT_RING_COOP, RT_RING_DEFER};
#define N_RING_MODES ((int)(sizeof(ring_modes) / sizeof(ring_modes[0])))

struct pipe_scene {
    int fds[2];            /* the pipe: the reader reads fds[0], the other thread writes fds[1] */
    bool reader_asked;     /* the reader's read is queued (this thread only) */
    int polls_since;       /* the busy task's polls since it saw that */
    atomic_bool in_kernel; /* told to the other thread: write now */
    pthread_t writer;
};

static void *writer_main(void *arg)
{
    struct pipe_scene *sc = arg;

    while (!atomic_load(&sc->in_kernel))
        sched_yield();
    ck_assert_int_eq(write(sc->fds[1], "fed", 3), 3);
    return NULL;
}

/* Always ready again: wakes itself at every poll, until cancelled. */
struct busy {
    struct rt_future future;
    struct pipe_scene *sc;
};

static enum rt_poll busy_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct busy *f = (struct busy *)self;

    (void)out;
    if (f->sc->reader_asked && ++f->sc->polls_since == 2)
        atomic_store(&f->sc->in_kernel, true);
    rt_waker_wake_by_ref(cx->waker);
    return RT_PENDING;
}

static const struct rt_future_vtable busy_vtable = {.poll = busy_poll};

struct reader {
    struct rt_async async;
    struct pipe_scene *sc;
    bool other_queue; /* the busy task runs in a queue of its own */
    struct rt_join_handle busy;
    struct rt_io io;
    char buf[8];
    intptr_t res;
};

static enum rt_poll reader_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reader *f = (struct reader *)self;
    struct busy b = {{&busy_vtable}, f->sc};
    int queue;

    ASYNC_BEGIN(f, cx, out);
    queue = f->other_queue ? rt_task_queue_create(rt_executor_current(), "busy", RT_SHARES_MAX, 0)
                           : rt_task_queue_current();
    ck_assert_int_eq(rt_spawn_into(queue, &b.future, sizeof(b), &f->busy), 0);
    ck_assert_int_eq(pthread_create(&f->sc->writer, NULL, writer_main, f->sc), 0);
    rt_io_read(&f->io, f->sc->fds[0], f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
    f->sc->reader_asked = true;
    AWAIT(&f->io.future, &f->res);
    ck_assert_int_eq(f->res, 3);
    ck_assert(rt_join_cancel(&f->busy));
    AWAIT(&f->busy.future, NULL);
    ck_assert_int_eq(pthread_join(f->sc->writer, NULL), 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reader_vtable = {reader_poll, rt_async_drop};

START_TEST(an_always_ready_task_does_not_starve_a_read)
{
    static struct pipe_scene sc;
    struct rt_builder b = RT_BUILDER_INIT;
    struct reader f = {.async = RT_ASYNC_INIT(&reader_vtable), .sc = &sc, .other_queue = _i % 2};
    struct rt_executor *ex;

    b.ring_mode = ring_modes[_i / 2];
    ex = test_executor_with(&b);
    atomic_init(&sc.in_kernel, false);
    ck_assert_int_eq(pipe(sc.fds), 0);
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    close(sc.fds[0]);
    close(sc.fds[1]);
}
END_TEST

Suite *suite_starvation(void)
{
    Suite *s = suite_create("starvation");
    TCase *tc = test_case("starvation");

    tcase_add_loop_test(tc, an_always_ready_task_does_not_starve_a_read, 0, 2 * N_RING_MODES);
    suite_add_tcase(s, tc);
    return s;
}
