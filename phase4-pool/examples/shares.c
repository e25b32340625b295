/*
 * shares.c - two task queues with shares 2:1: who runs, when, and for how long.
 *
 * Two CPU-bound tasks, each in a task queue of its own: "two" has 200
 * shares, "one" has 100. Each computes in steps of a few microseconds and
 * awaits rt_yield_if_needed() after every step, so it gives the thread back
 * only when its time slice is over. The slice is made short (2 ms, the
 * builder's preempt_slice_ns) so that a run of RUN_MS holds many slices.
 * Main waits in the default queue: it sleeps RUN_MS, then tells both to stop.
 *
 * The executor runs the queue with the smaller virtual runtime and charges a
 * slice of t nanoseconds as t * 1000 / shares: 5 t for "two", 10 t for "one".
 * So "two" runs two slices for each one of "one"'s, and gets two thirds of
 * the thread. Main's queue has used almost nothing when its sleep ends, and
 * starts level with the others rather than ahead (no banked credit): the
 * table shows its virtual runtime moved up to theirs.
 *
 * It prints each queue's statistics (rt_task_queue_stats) and
 * runtime_ratio_two_to_one=R, about 2. On a machine busy with other work,
 * time the thread spends waiting for a CPU is charged to whichever queue was
 * running, and the ratio moves.
 *
 * Run: make phase3 && build/phase3/examples/shares
 * docs/trace-shares.png draws its trace:
 *     RT_TRACE=shares.json build/phase3/examples/shares
 */
#include <stdatomic.h>
#include <stdio.h>

#include "common/args.h"
#include "rt.h"

#define RUN_MS   30   /* how long the two queues compete */
#define SLICE_MS 2    /* the executor's time slice */
#define STEP     2000 /* work between two rt_yield_if_needed(): a few microseconds */

#define NS_PER_MS 1000000u

static volatile unsigned long long sink; /* so that the compiler keeps the work */

/* Compute until *stop, asking after every step whether the slice is over. */
struct worker {
    struct rt_async async;
    atomic_bool *stop; /* main's */
    unsigned long long x;
    struct rt_yield yield;
};

static enum rt_poll worker_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct worker *f = (struct worker *)self;

    ASYNC_BEGIN(f, cx, out);
    f->x = 1;
    while (!atomic_load_explicit(f->stop, memory_order_relaxed)) {
        for (int i = 0; i < STEP; i++)
            f->x = f->x * 6364136223846793005ull + 1442695040888963407ull;
        rt_yield_if_needed(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    sink = f->x;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable worker_vtable = {worker_poll, rt_async_drop};

/* Main: a worker in each queue; sleep RUN_MS; stop them and wait for both. */
struct contest {
    struct rt_async async;
    int queue[2]; /* "two" and "one", made by main() */
    atomic_bool stop;
    struct rt_join_handle workers[2];
    struct rt_sleep sleep;
};

static enum rt_poll contest_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct contest *f = (struct contest *)self;

    ASYNC_BEGIN(f, cx, out);
    for (int i = 0; i < 2; i++) {
        struct worker w = {.async = RT_ASYNC_INIT(&worker_vtable), .stop = &f->stop};

        if (rt_spawn_into(f->queue[i], &w.async.future, sizeof(w), &f->workers[i]) < 0)
            ASYNC_RETURN(-1);
    }
    rt_sleep(&f->sleep, RUN_MS * NS_PER_MS);
    AWAIT(&f->sleep.future, NULL);
    atomic_store(&f->stop, true);
    AWAIT(&f->workers[0].future, NULL);
    AWAIT(&f->workers[1].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable contest_vtable = {contest_poll, rt_async_drop};

static void print_queue(const char *name, const struct rt_task_queue_stats *st)
{
    printf("  %-8s %6u %11.2f %10llu %12.2f %11.2f %12.0f\n", name, st->shares,
           (double)st->runtime_ns / NS_PER_MS, (unsigned long long)st->tasks_run,
           (double)st->vruntime / NS_PER_MS, (double)st->waiting_ns / NS_PER_MS,
           (double)st->max_wait_ns / 1e3);
}

int main(int argc, char **argv)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    struct contest c = {.async = RT_ASYNC_INIT(&contest_vtable)};
    struct rt_task_queue_stats st[3];
    intptr_t out;

    if (argc > 1)
        return args_none(argc, argv, "two task queues with shares 2:1: who runs, when, how long");
    b.preempt_slice_ns = SLICE_MS * NS_PER_MS;
    if (rt_executor_create(&b, &ex) < 0) {
        fprintf(stderr, "shares: %s\n", rt_last_error());
        return 1;
    }
    atomic_init(&c.stop, false);
    c.queue[0] = rt_task_queue_create(ex, "two", 200, 0);
    c.queue[1] = rt_task_queue_create(ex, "one", 100, 0);
    if (c.queue[0] < 0 || c.queue[1] < 0) {
        fprintf(stderr, "shares: rt_task_queue_create failed\n");
        rt_executor_destroy(ex);
        return 1;
    }
    out = rt_executor_run(ex, &c.async.future, sizeof(c));
    rt_task_queue_stats(ex, RT_TASK_QUEUE_DEFAULT, &st[0]);
    rt_task_queue_stats(ex, c.queue[0], &st[1]);
    rt_task_queue_stats(ex, c.queue[1], &st[2]);
    rt_executor_destroy(ex); /* it removes the queues, too */
    if (out < 0)
        return 1;

    printf("Two CPU-bound tasks in queues with shares 200 and 100, for %d ms, in %d ms slices\n",
           RUN_MS, SLICE_MS);
    printf("(times in ms; tasks_run counts polls: a worker is polled once per slice):\n");
    printf("  %-8s %6s %11s %10s %12s %11s %12s\n", "queue", "shares", "runtime", "tasks_run",
           "vruntime", "waiting", "max_wait_us");
    print_queue("default", &st[0]);
    print_queue("two", &st[1]);
    print_queue("one", &st[2]);
    printf("\nruntime_ratio_two_to_one=%.2f\n",
           st[2].runtime_ns ? (double)st[1].runtime_ns / (double)st[2].runtime_ns : 0.0);
    return 0;
}
