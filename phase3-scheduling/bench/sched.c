/*
 * bench/sched.c - what phase 3's scheduling costs, and whether it keeps its
 * promises: preemption checks, yields, parking, waking, timers and shares,
 * each next to a baseline measured in the same run. New in phase 3.
 *
 * Run it with `make phase3 bench` (or build/phase3/bench/sched). It prints
 * one `name=value` line per figure; a figure measured several times is the
 * median of its samples, and latencies are given as a median and a p99:
 *
 *   need_preempt_ns            one rt_need_preempt() from inside a task (two loads
 *                              from the preemption ring; preempt.h)
 *   clock_gettime_ns           baseline: one clock_gettime(CLOCK_MONOTONIC), what
 *                              asking the clock "is my slice over?" would cost
 *   yield_if_needed_ns         a task awaiting rt_yield_if_needed() when its slice is
 *                              not over (so it does not yield)
 *   yield_now_ns               baseline: a task alone in its queue awaiting
 *                              rt_yield_now(), a real yield: one turn of the loop
 *   idle_cpu_percent           CPU time (the thread's CPU clock) of an executor whose
 *                              one task waits IDLE_NS for a receive that never comes,
 *                              raced against rt_timeout, in % of that time
 *   idle_cpu_percent_spin_1s   baseline: the same with spin_before_park_ns = 1 s, so
 *                              that the executor keeps looking for work, as phase 2's did
 *   park_notify_wake_us        another thread calls rt_executor_notify() on a parked
 *                              executor; from just before that call until the task
 *                              waiting in rt_wait_notify() runs (median, and _p99)
 *   pipe_wake_us               baseline: a thread blocked in read() on a pipe, woken
 *                              by a one-byte write from another thread (median, and _p99)
 *   sleep_1ms_p99_late_us      how late a task wakes from rt_sleep(1 ms), on an
 *                              otherwise idle executor (and sleep_1ms_median_late_us)
 *   nanosleep_1ms_p99_late_us  baseline: clock_nanosleep for 1 ms in a plain thread (and
 *                              nanosleep_1ms_median_late_us). The kernel may end it up
 *                              to the thread's timer slack (50 us by default) late;
 *                              the wait in io_uring_enter that parks the executor has
 *                              no slack
 *   sleep_1ms_p99_late_us_under_hog
 *                              the sleeping task beside a CPU hog (a task computing
 *                              in a loop that awaits rt_yield_if_needed() every few
 *                              microseconds) in another task queue of the same shares
 *   sleep_1ms_p99_late_us_under_hog_same_queue
 *                              the same with the hog in the sleeper's own queue: the
 *                              deadline ends the hog's slice, and the sleeper runs
 *                              before the hog, which yielded (a second hog would be
 *                              ahead of it for a whole slice: examples/priorities)
 *   timeout_cancelled_ns_heap  what an rt_timeout() adds to a NOP that wins the race,
 *                              so that the timeout is cancelled: rt_timeout(NOP)
 *                              minus a bare NOP, TIMEOUT_TASKS tasks doing it at once
 *   timeout_cancelled_ns_kernel
 *                              baseline: the same race built on phase 2's kernel timer
 *                              (rt_io_sleep, kept for this): a TIMEOUT request, its
 *                              cancel, and their completions
 *   timeout_cancelled_kernel_vs_heap_ratio
 *                              the second divided by the first
 *   nop_ns                     the bare NOP both are measured against
 *   fairness_2to1_measured_ratio
 *                              two task queues with shares 200 and 100, each running a
 *                              CPU-bound task that awaits rt_yield_if_needed() every
 *                              few microseconds, for FAIR_NS: the first queue's
 *                              runtime divided by the second's (rt_task_queue_stats)
 *
 * Targets (reported, not asserted): need_preempt_ns under 2; idle CPU under
 * 1%; a cancelled timeout at least 5x cheaper than phase 2's (the ratio at
 * least 5); fairness within 5% of 2.
 */
#include "rt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/args.h"
#include "common/bench.h"
#include "common/clock.h"

#define RUNS          5                     /* samples of each cost figure */
#define CHECKS        20000000              /* rt_need_preempt() calls per sample */
#define CLOCK_READS   2000000               /* clock_gettime() calls per sample */
#define YIELDS        1000000               /* yields per sample */
#define IDLE_NS       (1 * NSEC_PER_SEC)    /* how long the idle executor waits */
#define WAKES         1000                  /* wake-ups measured, of each kind */
#define WAKE_GAP_NS   (200 * NSEC_PER_USEC) /* between two: time for the waiter to sleep */
#define SLEEPS        200                   /* 1 ms sleeps per lateness figure */
#define SLEEP_NS      (1 * NSEC_PER_MSEC)   /* the sleep whose lateness is measured */
#define HOG_ITERS     2000                  /* work between two rt_yield_if_needed(): ~us */
#define TIMEOUT_OPS   200000                /* NOPs per timeout sample, all tasks together */
#define TIMEOUT_TASKS 128                   /* tasks doing them, each one at a time */
#define TIMEOUT_NS    (1 * NSEC_PER_SEC)    /* the timeout that never fires */
#define FAIR_RUNS     3                     /* fairness samples */
#define FAIR_NS       (1 * NSEC_PER_SEC)    /* how long the two queues compete per sample */

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "bench/sched: %s\n", what);
    exit(1);
}

static struct rt_executor *new_executor(const struct rt_builder *b)
{
    struct rt_executor *ex;

    if (rt_executor_create(b, &ex) < 0) {
        fprintf(stderr, "bench/sched: %s\n", rt_last_error());
        exit(1);
    }
    return ex;
}

/* Destroy `ex` after checking that the run left no task behind. */
static void end_executor(struct rt_executor *ex)
{
    if (rt_executor_task_count(ex) != 0)
        fail("tasks were left over after a run");
    rt_executor_destroy(ex);
}

/* An executor whose slices are as long as they can be: rt_need_preempt() stays false. */
static struct rt_executor *long_slice_executor(void)
{
    struct rt_builder b = RT_BUILDER_INIT;

    b.preempt_slice_ns = RT_SLICE_MAX_NS;
    return new_executor(&b);
}

/* The value at fraction `q` (0.5: the median, 0.99: p99) of `n` samples; sorts them. */
static double quantile(double *v, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);

    qsort(v, n, sizeof(*v), bench_cmp_double);
    return v[i];
}

/*
 * CPU time the calling thread has used, user + system, in ns: its CPU
 * clock, which counts what getrusage(RUSAGE_THREAD) does (that one needs
 * _GNU_SOURCE), to the nanosecond.
 */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Work the compiler cannot remove: a few microseconds of xorshift. */
static volatile uint64_t burn_sink = 1;

static void burn(unsigned iters)
{
    uint64_t x = burn_sink | 1;

    for (unsigned i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    burn_sink = x;
}

/* --------------------------------------------------- need_preempt, yields */

/* A main future that times `count` rounds of `what` inside the executor: its output is ns. */
enum cost_kind { NEED_PREEMPT, YIELD_IF_NEEDED, YIELD_NOW };

struct cost_main {
    struct rt_async async;
    enum cost_kind kind;
    long count;
    long i;
    long preempted; /* rt_need_preempt() answers that were true (kept so the calls stay) */
    uint64_t start;
    struct rt_yield yield;
};

static enum rt_poll cost_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cost_main *f = (struct cost_main *)self;

    ASYNC_BEGIN(f, cx, out);
    f->start = now_ns();
    if (f->kind == NEED_PREEMPT) {
        long yes = 0;

        for (long i = 0; i < f->count; i++)
            yes += rt_need_preempt();
        f->preempted = yes;
    } else {
        for (f->i = 0; f->i < f->count; f->i++) {
            if (f->kind == YIELD_IF_NEEDED)
                rt_yield_if_needed(&f->yield);
            else
                rt_yield_now(&f->yield);
            AWAIT(&f->yield.future, NULL);
        }
    }
    ASYNC_RETURN((intptr_t)(now_ns() - f->start));
    ASYNC_END;
}

static const struct rt_future_vtable cost_vtable = {cost_poll, rt_async_drop};

/* Nanoseconds per operation of `kind`, `count` of them, on a long-slice executor. */
static double cost_sample(enum cost_kind kind, long count)
{
    struct rt_executor *ex = long_slice_executor();
    struct cost_main f = {.async = RT_ASYNC_INIT(&cost_vtable), .kind = kind, .count = count};
    intptr_t ns = rt_executor_run(ex, &f.async.future, sizeof(f));

    end_executor(ex);
    return (double)ns / (double)count;
}

static volatile uint64_t clock_sink;

static double clock_sample(void)
{
    uint64_t start = now_ns(), sum = 0;

    for (long i = 0; i < CLOCK_READS; i++)
        sum += now_ns();
    clock_sink = sum;
    return (double)(now_ns() - start) / CLOCK_READS;
}

/* ------------------------------------------------------------------- idle */

/* Wait up to `ns` for a receive on `fd` that never comes. */
struct idle_main {
    struct rt_async async;
    int fd;
    uint64_t ns;
    struct rt_io recv;
    struct rt_timeout timeout;
    char byte;
    intptr_t res;
};

static enum rt_poll idle_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct idle_main *f = (struct idle_main *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv(&f->recv, f->fd, &f->byte, 1);
    rt_timeout(&f->timeout, &f->recv.future, f->ns);
    AWAIT(&f->timeout.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable idle_vtable = {idle_poll, rt_async_drop};

/* The CPU time of an executor that waits IDLE_NS, in % of the time it waited. */
static double idle_sample(uint64_t spin_ns)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    struct idle_main f = {.async = RT_ASYNC_INIT(&idle_vtable), .ns = IDLE_NS};
    int sv[2];
    uint64_t cpu, wall;

    b.spin_before_park_ns = spin_ns;
    ex = new_executor(&b);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fail("socketpair failed");
    f.fd = sv[0];
    cpu = thread_cpu_ns();
    wall = now_ns();
    if (rt_executor_run(ex, &f.async.future, sizeof(f)) != -ETIMEDOUT)
        fail("idle: the receive that never comes came");
    cpu = thread_cpu_ns() - cpu;
    wall = now_ns() - wall;
    end_executor(ex);
    close(sv[0]);
    close(sv[1]);
    return 100.0 * (double)cpu / (double)wall;
}

/* ------------------------------------------------------------ wake-ups */

/* What the driver (main thread) and the two waiting threads share. */
struct wake_shared {
    _Atomic(struct rt_executor *) ex; /* the waiting executor, once it runs */
    atomic_bool go;                   /* set just before the executor is notified */
    atomic_bool stop;                 /* the executor's task returns at the next wake-up */
    atomic_uint_fast64_t woke_at;     /* now_ns() when the woken side ran */
    atomic_uint seq;                  /* wake-ups the woken sides have taken */
    int pipe[2];                      /* the baseline thread reads pipe[0] */
};

static bool go_set(void *arg)
{
    return atomic_load(&((struct wake_shared *)arg)->go);
}

/* The executor's main future: wait for a notification, note when it came, again. */
struct waiter {
    struct rt_async async;
    struct wake_shared *sh;
    struct rt_wait_notify wait;
};

static enum rt_poll waiter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct waiter *f = (struct waiter *)self;

    ASYNC_BEGIN(f, cx, out);
    atomic_store(&f->sh->ex, rt_executor_current());
    for (;;) {
        rt_wait_notify(&f->wait, go_set, f->sh);
        AWAIT(&f->wait.future, NULL);
        if (atomic_load(&f->sh->stop))
            break;
        atomic_store(&f->sh->woke_at, now_ns());
        atomic_store(&f->sh->go, false);
        atomic_fetch_add(&f->sh->seq, 1);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable waiter_vtable = {waiter_poll, rt_async_drop};

/* The baseline: block in read() on the pipe, note when it returned; a zero byte stops it. */
static void *pipe_waiter(void *arg)
{
    struct wake_shared *sh = arg;
    char byte = 1;

    while (byte) {
        if (read(sh->pipe[0], &byte, 1) != 1)
            fail("pipe_wake: read failed");
        atomic_store(&sh->woke_at, now_ns());
        atomic_fetch_add(&sh->seq, 1);
    }
    return NULL;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
                          .tv_nsec = (long)(ns % NSEC_PER_SEC)};

    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        continue;
}

/* Wait, without spinning on a CPU the woken side may need, until it has taken wake-up `n`. */
static void wait_seq(struct wake_shared *sh, unsigned n)
{
    while (atomic_load(&sh->seq) != n)
        sleep_ns(20 * NSEC_PER_USEC);
}

/* Microseconds from `start` until the woken side ran. */
static double woke_us(struct wake_shared *sh, uint64_t start)
{
    return (double)(atomic_load(&sh->woke_at) - start) / NSEC_PER_USEC;
}

/* WAKES wake-ups of each kind, alternating; the latencies go to notify_us[] and pipe_us[]. */
static void wake_samples(double *notify_us, double *pipe_us)
{
    static struct wake_shared sh; /* static: the threads outlive no frame of ours */
    struct waiter w = {.async = RT_ASYNC_INIT(&waiter_vtable), .sh = &sh};
    struct rt_thread *executor;
    pthread_t piper;
    unsigned seq = 0;
    uint64_t start;

    if (pipe(sh.pipe) < 0)
        fail("pipe failed");
    if (rt_builder_spawn(NULL, &w.async.future, sizeof(w), &executor) < 0 ||
        pthread_create(&piper, NULL, pipe_waiter, &sh) != 0)
        fail("cannot start the waiting threads");
    while (!atomic_load(&sh.ex))
        sleep_ns(NSEC_PER_MSEC);
    for (int i = 0; i < WAKES; i++) {
        sleep_ns(WAKE_GAP_NS); /* the executor parks meanwhile */
        start = now_ns();
        atomic_store(&sh.go, true); /* before notifying: rt_wait_notify's rule */
        rt_executor_notify(atomic_load(&sh.ex));
        wait_seq(&sh, ++seq);
        notify_us[i] = woke_us(&sh, start);

        sleep_ns(WAKE_GAP_NS); /* the pipe thread is blocked in read() meanwhile */
        start = now_ns();
        if (write(sh.pipe[1], "\1", 1) != 1)
            fail("pipe_wake: write failed");
        wait_seq(&sh, ++seq);
        pipe_us[i] = woke_us(&sh, start);
    }
    atomic_store(&sh.stop, true);
    atomic_store(&sh.go, true);
    rt_executor_notify(atomic_load(&sh.ex));
    if (write(sh.pipe[1], "", 1) != 1 || rt_thread_join(executor, NULL) < 0 ||
        pthread_join(piper, NULL) != 0)
        fail("cannot stop the waiting threads");
    close(sh.pipe[0]);
    close(sh.pipe[1]);
}

/* ------------------------------------------------------------ sleep lateness */

/* Sleep SLEEP_NS `count` times, noting how late each wake-up was; then stop the hog, if any. */
struct sleeper {
    struct rt_async async;
    double *late_us; /* `count` of them, the caller's */
    int count;
    atomic_bool *stop; /* set when done: the hog returns; NULL without a hog */
    int i;
    uint64_t due;
    struct rt_sleep sleep;
};

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < f->count; f->i++) {
        f->due = now_ns() + SLEEP_NS;
        rt_sleep(&f->sleep, SLEEP_NS);
        AWAIT(&f->sleep.future, NULL);
        f->late_us[f->i] = (double)(now_ns() - f->due) / NSEC_PER_USEC;
    }
    if (f->stop)
        atomic_store(f->stop, true);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

/* Compute in steps of HOG_ITERS, asking to yield after each, until *stop. */
struct hog {
    struct rt_async async;
    atomic_bool *stop;
    struct rt_yield yield;
};

static enum rt_poll hog_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct hog *f = (struct hog *)self;

    ASYNC_BEGIN(f, cx, out);
    while (!atomic_load_explicit(f->stop, memory_order_relaxed)) {
        burn(HOG_ITERS);
        rt_yield_if_needed(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable hog_vtable = {hog_poll, rt_async_drop};

/* Spawn a sleeper into `sleeper_q` and, if `hog_q` >= 0, a hog into it; await both. */
struct lateness_main {
    struct rt_async async;
    double *late_us;
    int count;
    int hog_q;          /* -1: no hog; RT_TASK_QUEUE_DEFAULT or a new queue's id */
    bool hog_own_queue; /* make a queue for the hog, of the default's shares */
    atomic_bool stop;   /* the sleeper tells the hog to stop */
    struct rt_join_handle sleeper, hog;
};

static enum rt_poll lateness_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct lateness_main *f = (struct lateness_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct sleeper s = {.async = RT_ASYNC_INIT(&sleeper_vtable),
                            .late_us = f->late_us,
                            .count = f->count,
                            .stop = f->hog_q >= 0 ? &f->stop : NULL};
        struct hog h = {.async = RT_ASYNC_INIT(&hog_vtable), .stop = &f->stop};

        f->sleeper = rt_spawn(&s.async.future, sizeof(s));
        if (f->hog_q >= 0 && rt_spawn_into(f->hog_q, &h.async.future, sizeof(h), &f->hog) < 0)
            fail("rt_spawn_into failed");
    }
    AWAIT(&f->sleeper.future, NULL);
    if (f->hog_q >= 0)
        AWAIT(&f->hog.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable lateness_vtable = {lateness_poll, rt_async_drop};

/*
 * The p99 lateness of `count` 1 ms sleeps in the default queue: alone
 * (hog = 0), beside a hog in a queue of its own with the same shares
 * (hog = 1), or beside a hog in the same queue (hog = 2). The median goes
 * to *median_us.
 */
static double lateness_p99(int count, int hog, double *median_us)
{
    struct rt_executor *ex = new_executor(NULL);
    struct lateness_main f = {
        .async = RT_ASYNC_INIT(&lateness_vtable), .count = count, .hog_q = -1};
    double *late = calloc((size_t)count, sizeof(*late)), p99;

    if (!late)
        fail("out of memory");
    f.late_us = late;
    atomic_init(&f.stop, false);
    if (hog == 1)
        f.hog_q = rt_task_queue_create(ex, "hog", RT_SHARES_MAX, 0);
    else if (hog == 2)
        f.hog_q = RT_TASK_QUEUE_DEFAULT;
    if (hog == 1 && f.hog_q < 0)
        fail("rt_task_queue_create failed");
    rt_executor_run(ex, &f.async.future, sizeof(f));
    if (hog == 1 && rt_task_queue_remove(ex, f.hog_q) < 0)
        fail("rt_task_queue_remove failed");
    end_executor(ex);
    p99 = quantile(late, (size_t)count, 0.99);
    if (median_us)
        *median_us = quantile(late, (size_t)count, 0.5);
    free(late);
    return p99;
}

/* The baseline: how late clock_nanosleep wakes a plain thread from 1 ms. The median goes to
 * *median_us. */
static double nanosleep_p99(int count, double *median_us)
{
    double *late = calloc((size_t)count, sizeof(*late)), p99;

    if (!late)
        fail("out of memory");
    for (int i = 0; i < count; i++) {
        uint64_t due = now_ns() + SLEEP_NS;

        sleep_ns(SLEEP_NS);
        late[i] = (double)(now_ns() - due) / NSEC_PER_USEC;
    }
    p99 = quantile(late, (size_t)count, 0.99);
    *median_us = quantile(late, (size_t)count, 0.5);
    free(late);
    return p99;
}

/* ---------------------------------------------------------- cancelled timeouts */

/*
 * Phase 2's rt_timeout, rebuilt here on phase 2's kernel timer: the inner
 * future raced against an rt_io_sleep, a TIMEOUT request in the ring. When
 * the inner future wins, dropping the sleep cancels that request in the
 * kernel. This is the baseline the heap-based rt_timeout is measured against.
 */
struct kernel_timeout {
    struct rt_future future;
    struct rt_future *inner; /* NULL once dropped */
    struct rt_io timer;
};

static void kernel_timeout_drop(struct rt_future *self)
{
    struct kernel_timeout *t = (struct kernel_timeout *)self;

    if (t->inner)
        rt_future_drop(t->inner);
    t->inner = NULL;
    rt_future_drop(&t->timer.future); /* in flight: cancelled in the kernel */
}

static enum rt_poll kernel_timeout_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct kernel_timeout *t = (struct kernel_timeout *)self;

    if (rt_future_poll(t->inner, cx, out) == RT_READY) {
        kernel_timeout_drop(self);
        return RT_READY;
    }
    if (rt_future_poll(&t->timer.future, cx, NULL) == RT_READY) {
        kernel_timeout_drop(self);
        *out = -ETIMEDOUT;
        return RT_READY;
    }
    return RT_PENDING;
}

static const struct rt_future_vtable kernel_timeout_vtable = {kernel_timeout_poll,
                                                              kernel_timeout_drop};

static void kernel_timeout(struct kernel_timeout *t, struct rt_future *inner, uint64_t ns)
{
    t->future.vtable = &kernel_timeout_vtable;
    t->inner = inner;
    rt_io_sleep(&t->timer, ns);
}

enum timeout_kind { BARE_NOP, HEAP_TIMEOUT, KERNEL_TIMEOUT };

/* One of TIMEOUT_TASKS tasks: NOPs, one at a time, bare or under a timeout. */
struct nop_job {
    enum timeout_kind kind;
    long left; /* NOPs not yet started, all tasks together */
    long bad;  /* NOPs that did not finish with 0 */
};

struct nopper {
    struct rt_async async;
    struct nop_job *job;
    struct rt_io nop;
    struct rt_timeout heap; /* the inner future (nop) lives beside it, so it never moves */
    struct kernel_timeout kernel;
    intptr_t res;
};

static enum rt_poll nopper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct nopper *f = (struct nopper *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->job->left > 0) {
        f->job->left--;
        rt_io_nop(&f->nop);
        if (f->job->kind == BARE_NOP) {
            AWAIT(&f->nop.future, &f->res);
        } else if (f->job->kind == HEAP_TIMEOUT) {
            rt_timeout(&f->heap, &f->nop.future, TIMEOUT_NS);
            AWAIT(&f->heap.future, &f->res);
        } else {
            kernel_timeout(&f->kernel, &f->nop.future, TIMEOUT_NS);
            AWAIT(&f->kernel.future, &f->res);
        }
        f->job->bad += f->res != 0;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

/* rt_async_drop is enough: the NOP is the child being awaited, or the timeout that is owns it. */
static const struct rt_future_vtable nopper_vtable = {nopper_poll, rt_async_drop};

/* Spawn TIMEOUT_TASKS nopper tasks and await them all. */
struct fan_out {
    struct rt_async async;
    struct nop_job *job;
    int i;
    struct rt_join_handle jobs[TIMEOUT_TASKS];
};

static enum rt_poll fan_out_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fan_out *f = (struct fan_out *)self;

    ASYNC_BEGIN(f, cx, out);
    for (int i = 0; i < TIMEOUT_TASKS; i++) {
        struct nopper n = {.async = RT_ASYNC_INIT(&nopper_vtable), .job = f->job};
        f->jobs[i] = rt_spawn(&n.async.future, sizeof(n));
    }
    for (f->i = 0; f->i < TIMEOUT_TASKS; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable fan_out_vtable = {fan_out_poll, rt_async_drop};

/* Nanoseconds per NOP of `kind`; the executor's teardown (orphaned TIMEOUTs) is not timed. */
static double timeout_sample(enum timeout_kind kind)
{
    struct rt_executor *ex = new_executor(NULL);
    struct nop_job job = {.kind = kind, .left = TIMEOUT_OPS};
    struct fan_out f = {.async = RT_ASYNC_INIT(&fan_out_vtable), .job = &job};
    uint64_t start = now_ns(), ns;

    rt_executor_run(ex, &f.async.future, sizeof(f));
    ns = now_ns() - start;
    if (job.bad != 0)
        fail("timeouts: a NOP did not win its race");
    end_executor(ex);
    return (double)ns / TIMEOUT_OPS;
}

/* ---------------------------------------------------------------- fairness */

/* Spawn a hog into each of two queues, let them compete for FAIR_NS, stop them. */
struct fair_main {
    struct rt_async async;
    int q[2];
    atomic_bool stop;
    struct rt_join_handle hogs[2];
    struct rt_sleep sleep;
};

static enum rt_poll fair_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fair_main *f = (struct fair_main *)self;

    ASYNC_BEGIN(f, cx, out);
    for (int i = 0; i < 2; i++) {
        struct hog h = {.async = RT_ASYNC_INIT(&hog_vtable), .stop = &f->stop};

        if (rt_spawn_into(f->q[i], &h.async.future, sizeof(h), &f->hogs[i]) < 0)
            fail("rt_spawn_into failed");
    }
    /* Main waits in the default queue; its sleep ends the hogs' contest. */
    rt_sleep(&f->sleep, FAIR_NS);
    AWAIT(&f->sleep.future, NULL);
    atomic_store(&f->stop, true);
    AWAIT(&f->hogs[0].future, NULL);
    AWAIT(&f->hogs[1].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable fair_vtable = {fair_poll, rt_async_drop};

/* The runtime of a queue with shares 200 divided by that of one with shares 100. */
static double fairness_sample(void)
{
    struct rt_executor *ex = new_executor(NULL);
    struct fair_main f = {.async = RT_ASYNC_INIT(&fair_vtable)};
    struct rt_task_queue_stats st[2];

    atomic_init(&f.stop, false);
    f.q[0] = rt_task_queue_create(ex, "two", 200, 0);
    f.q[1] = rt_task_queue_create(ex, "one", 100, 0);
    if (f.q[0] < 0 || f.q[1] < 0)
        fail("rt_task_queue_create failed");
    rt_executor_run(ex, &f.async.future, sizeof(f));
    for (int i = 0; i < 2; i++)
        if (rt_task_queue_stats(ex, f.q[i], &st[i]) < 0 || rt_task_queue_remove(ex, f.q[i]) < 0)
            fail("cannot read or remove a queue");
    end_executor(ex);
    if (st[1].runtime_ns == 0)
        fail("fairness: the queue with fewer shares never ran");
    return (double)st[0].runtime_ns / (double)st[1].runtime_ns;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    double preempt[RUNS], clock[RUNS], yin[RUNS], ynow[RUNS];
    double nop[RUNS], heap[RUNS], kernel[RUNS], fair[FAIR_RUNS];
    static double notify_us[WAKES], pipe_us[WAKES];
    double idle, idle_spin, median, p99;

    if (argc > 1)
        return args_none(argc, argv, "what phase 3's scheduling costs, as name=value lines");
    /* Untimed, so that code and heap are warm. */
    cost_sample(NEED_PREEMPT, CHECKS / 10);
    cost_sample(YIELD_NOW, YIELDS / 10);
    timeout_sample(HEAP_TIMEOUT);

    /* Cost figures: RUNS rounds, each taking one sample of every figure in turn. */
    for (int r = 0; r < RUNS; r++) {
        preempt[r] = cost_sample(NEED_PREEMPT, CHECKS);
        clock[r] = clock_sample();
        yin[r] = cost_sample(YIELD_IF_NEEDED, YIELDS);
        ynow[r] = cost_sample(YIELD_NOW, YIELDS);
        nop[r] = timeout_sample(BARE_NOP);
        heap[r] = timeout_sample(HEAP_TIMEOUT);
        kernel[r] = timeout_sample(KERNEL_TIMEOUT);
    }
    printf("need_preempt_ns=%.2f\n", bench_median(preempt, RUNS));
    printf("clock_gettime_ns=%.1f\n", bench_median(clock, RUNS));
    printf("yield_if_needed_ns=%.2f\n", bench_median(yin, RUNS));
    printf("yield_now_ns=%.1f\n", bench_median(ynow, RUNS));
    fflush(stdout);

    idle = idle_sample(0);
    idle_spin = idle_sample(NSEC_PER_SEC);
    printf("idle_cpu_percent=%.2f\n", idle);
    printf("idle_cpu_percent_spin_1s=%.1f\n", idle_spin);
    fflush(stdout);

    wake_samples(notify_us, pipe_us);
    printf("park_notify_wake_us=%.1f\n", quantile(notify_us, WAKES, 0.5));
    printf("park_notify_wake_us_p99=%.1f\n", quantile(notify_us, WAKES, 0.99));
    printf("pipe_wake_us=%.1f\n", quantile(pipe_us, WAKES, 0.5));
    printf("pipe_wake_us_p99=%.1f\n", quantile(pipe_us, WAKES, 0.99));
    fflush(stdout);

    p99 = lateness_p99(SLEEPS, 0, &median);
    printf("sleep_1ms_median_late_us=%.1f\n", median);
    printf("sleep_1ms_p99_late_us=%.1f\n", p99);
    p99 = nanosleep_p99(SLEEPS, &median);
    printf("nanosleep_1ms_median_late_us=%.1f\n", median);
    printf("nanosleep_1ms_p99_late_us=%.1f\n", p99);
    printf("sleep_1ms_p99_late_us_under_hog=%.1f\n", lateness_p99(SLEEPS, 1, NULL));
    printf("sleep_1ms_p99_late_us_under_hog_same_queue=%.1f\n", lateness_p99(SLEEPS, 2, NULL));
    fflush(stdout);

    {
        double h[RUNS], k[RUNS];

        for (int r = 0; r < RUNS; r++) {
            h[r] = heap[r] - nop[r];
            k[r] = kernel[r] - nop[r];
        }
        printf("timeout_cancelled_ns_heap=%.1f\n", bench_median(h, RUNS));
        printf("timeout_cancelled_ns_kernel=%.1f\n", bench_median(k, RUNS));
        printf("timeout_cancelled_kernel_vs_heap_ratio=%.1f\n",
               bench_median(k, RUNS) / bench_median(h, RUNS));
        printf("nop_ns=%.1f\n", bench_median(nop, RUNS));
    }
    fflush(stdout);

    for (int r = 0; r < FAIR_RUNS; r++)
        fair[r] = fairness_sample();
    printf("fairness_2to1_measured_ratio=%.3f\n", bench_median(fair, FAIR_RUNS));

    /* Every task, source, timer and queue the runtime made on this thread was freed. */
    if (rt__alloc_live() != 0)
        fail("the runtime left memory allocated");
    return 0;
}
