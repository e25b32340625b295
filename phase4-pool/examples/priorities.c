/*
 * priorities.c - task queues: an interactive task beside two CPU hogs, first
 * in one queue, then in two.
 *
 * The interactive task wakes every millisecond (rt_sleep) and notes how
 * late it woke. Each hog computes without end, awaiting rt_yield_if_needed()
 * every few microseconds: it lets others run whenever its time slice is
 * over, and only then.
 *
 * Part 1 puts all three in the executor's default queue. When a sleep is
 * due, the running hog yields (the executor ended its slice at the
 * deadline), and the woken task is queued ahead of that hog, but behind the
 * other one, which then has a whole slice (10 ms by default) before it is
 * asked to yield. So the interactive task wakes about one slice late, every
 * time. (With one hog it would not: it would be first in line.)
 *
 * Part 2 gives the interactive task a queue of its own, with a latency of
 * 1 ms ("serve it within 1 ms once it has work"), and the hogs another. The
 * executor runs the queue that has used the least CPU time for its shares;
 * the interactive queue has barely used any, so it runs as soon as its sleep
 * is due, and the running hog's slice is cut short to let it. The hogs still
 * get nearly all of the CPU: the interactive task needs only microseconds of
 * it per wake-up.
 *
 * It prints a table of lateness and the queues' statistics
 * (rt_task_queue_stats), then interactive_p99_late_us_one_queue=X and
 * interactive_p99_late_us_two_queues=Y. On a busy machine the other
 * programs add their own delays to both parts.
 *
 * Run: make phase3 && build/phase3/examples/priorities
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/args.h"
#include "rt.h"

#define WAKES      100      /* wake-ups the interactive task measures in each part */
#define PERIOD_NS  1000000u /* it sleeps this long each time: 1 ms */
#define LATENCY_NS 1000000u /* part 2: its queue's latency, 1 ms */
#define HOGS       2        /* CPU hogs beside it */
#define HOG_STEP   2000     /* a hog's work between two rt_yield_if_needed(): a few us */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ the two tasks */

/* Sleep PERIOD_NS, WAKES times, noting how late each wake-up is; then tell the hog to stop. */
struct interactive {
    struct rt_async async;
    double *late_us;   /* WAKES of them, main()'s */
    atomic_bool *stop; /* the hog's stop flag */
    int i;
    uint64_t due;
    struct rt_sleep sleep;
};

static enum rt_poll interactive_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct interactive *f = (struct interactive *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < WAKES; f->i++) {
        f->due = now_ns() + PERIOD_NS;
        rt_sleep(&f->sleep, PERIOD_NS);
        AWAIT(&f->sleep.future, NULL);
        f->late_us[f->i] = (double)(now_ns() - f->due) / 1000.0;
    }
    atomic_store(f->stop, true);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable interactive_vtable = {interactive_poll, rt_async_drop};

static volatile uint64_t hog_result; /* so that the compiler keeps the hog's work */

/* Compute until told to stop, asking after every step whether it is time to yield. */
struct hog {
    struct rt_async async;
    atomic_bool *stop;
    uint64_t x;
    struct rt_yield yield;
};

static enum rt_poll hog_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct hog *f = (struct hog *)self;

    ASYNC_BEGIN(f, cx, out);
    f->x = 1;
    while (!atomic_load_explicit(f->stop, memory_order_relaxed)) {
        for (int i = 0; i < HOG_STEP; i++) {
            f->x ^= f->x << 13;
            f->x ^= f->x >> 7;
            f->x ^= f->x << 17;
        }
        rt_yield_if_needed(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    hog_result = f->x;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable hog_vtable = {hog_poll, rt_async_drop};

/* ------------------------------------------------------------ one part */

/* Spawn the tasks into their queues and wait for them all. */
struct part {
    struct rt_async async;
    int interactive_queue, hog_queue; /* RT_TASK_QUEUE_DEFAULT, or a queue made by main() */
    double *late_us;
    atomic_bool stop;
    int i;
    struct rt_join_handle interactive, hogs[HOGS];
};

static enum rt_poll part_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct part *f = (struct part *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct interactive i = {
            .async = RT_ASYNC_INIT(&interactive_vtable), .late_us = f->late_us, .stop = &f->stop};
        struct hog h = {.async = RT_ASYNC_INIT(&hog_vtable), .stop = &f->stop};

        if (rt_spawn_into(f->interactive_queue, &i.async.future, sizeof(i), &f->interactive) < 0)
            ASYNC_RETURN(-1);
        for (int k = 0; k < HOGS; k++)
            if (rt_spawn_into(f->hog_queue, &h.async.future, sizeof(h), &f->hogs[k]) < 0)
                ASYNC_RETURN(-1);
    }
    AWAIT(&f->interactive.future, NULL);
    for (f->i = 0; f->i < HOGS; f->i++)
        AWAIT(&f->hogs[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable part_vtable = {part_poll, rt_async_drop};

/* ------------------------------------------------------------ the report */

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The value at fraction q (0.5: the median; 0.99: p99) of WAKES sorted samples. */
static double at(const double *sorted, double q)
{
    return sorted[(int)(q * (WAKES - 1) + 0.5)];
}

static void print_lateness(const char *part, double *late_us)
{
    qsort(late_us, WAKES, sizeof(*late_us), compare);
    printf("  %-10s %6d %9.0f %9.0f %9.0f %9.0f\n", part, WAKES, late_us[0], at(late_us, 0.5),
           at(late_us, 0.99), late_us[WAKES - 1]);
}

static void print_queue(const char *part, const char *name, const struct rt_task_queue_stats *st)
{
    printf("  %-10s %-12s %6u %7.1f %8.1f %10llu %10.1f %12.0f\n", part, name, st->shares,
           (double)st->latency_ns / 1e6, (double)st->runtime_ns / 1e6,
           (unsigned long long)st->tasks_run, (double)st->waiting_ns / 1e6,
           (double)st->max_wait_ns / 1e3);
}

/* ------------------------------------------------------------------- main */

/*
 * Run one part on a fresh executor; with `two_queues`, make the two queues
 * first. The statistics of the queue(s) the tasks ran in go to st[0] (and st[1]).
 */
static int run_part(bool two_queues, double *late_us, struct rt_task_queue_stats *st)
{
    struct rt_executor *ex;
    struct part p = {.async = RT_ASYNC_INIT(&part_vtable),
                     .interactive_queue = RT_TASK_QUEUE_DEFAULT,
                     .hog_queue = RT_TASK_QUEUE_DEFAULT,
                     .late_us = late_us};
    intptr_t out;

    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "priorities: %s\n", rt_last_error());
        return -1;
    }
    atomic_init(&p.stop, false);
    if (two_queues) {
        /* The same shares: the point is not who gets more CPU time, but who waits. */
        p.interactive_queue = rt_task_queue_create(ex, "interactive", 100, LATENCY_NS);
        p.hog_queue = rt_task_queue_create(ex, "hog", 100, 0);
    }
    out = rt_executor_run(ex, &p.async.future, sizeof(p));
    rt_task_queue_stats(ex, p.interactive_queue, &st[0]);
    rt_task_queue_stats(ex, p.hog_queue, &st[1]);
    rt_executor_destroy(ex); /* it removes the queues, too */
    return out < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static double one[WAKES], two[WAKES];
    struct rt_task_queue_stats one_st[2], two_st[2];

    if (argc > 1)
        return args_none(argc, argv, "an interactive task and two hogs: one task queue, then two");
    if (run_part(false, one, one_st) < 0 || run_part(true, two, two_st) < 0)
        return 1;
    printf("How late the interactive task woke from its 1 ms sleeps, in us:\n");
    printf("  %-10s %6s %9s %9s %9s %9s\n", "part", "wakes", "min", "median", "p99", "max");
    print_lateness("one queue", one);
    print_lateness("two queues", two);
    printf("\nThe queues they ran in (rt_task_queue_stats; times in ms, the worst wait in us):\n");
    printf("  %-10s %-12s %6s %7s %8s %10s %10s %12s\n", "part", "queue", "shares", "latency",
           "runtime", "tasks_run", "waiting", "max_wait_us");
    print_queue("one queue", "default", &one_st[0]);
    print_queue("two queues", "interactive", &two_st[0]);
    print_queue("two queues", "hog", &two_st[1]);
    printf("\ninteractive_p99_late_us_one_queue=%.0f\n", at(one, 0.99));
    printf("interactive_p99_late_us_two_queues=%.0f\n", at(two, 0.99));
    return 0;
}
