/*
 * sleep_sort.c - timers: a sleep sort, then a timeout.
 *
 * Part 1 sorts numbers by sleeping: one task per number n sleeps n
 * milliseconds, then prints n. All the timers are in the kernel at once, so
 * however many numbers there are, each task wakes about n ms after the
 * start, and the numbers come out in order.
 *
 * Part 2 races sleeps against a deadline with rt_timeout(): a sleep that
 * fits finishes with 0; one that is too long is given up on with
 * -ETIMEDOUT. Giving up cancels the long sleep in the kernel, so the
 * program does not wait it out, even at rt_executor_destroy().
 *
 * Run: make phase2 && build/phase2/examples/sleep_sort [N...]   (milliseconds, 0 to 10000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/args.h"
#include "rt.h"

#define NS_PER_MS   1000000ull
#define MAX_NUMBERS 100
#define MAX_MS      10000

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------- part 1: sleep sort */

/* What the sleepers report to main(), which owns it and outlives the executor. */
struct sorted {
    double start;          /* when the sort began, in ms */
    long out[MAX_NUMBERS]; /* the numbers in the order they woke up */
    int count;             /* how many have */
};

/* One number: sleep that many milliseconds, then say so. */
struct sleeper {
    struct rt_async async;
    long ms;
    struct sorted *sorted; /* borrowed from main() */
    struct rt_io nap;
};

static enum rt_poll sleeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleeper *f = (struct sleeper *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->nap, (uint64_t)f->ms * NS_PER_MS);
    AWAIT(&f->nap.future, NULL);
    printf("%5ld   (woke after %5.1f ms)\n", f->ms, now_ms() - f->sorted->start);
    f->sorted->out[f->sorted->count++] = f->ms;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sleeper_vtable = {sleeper_poll, rt_async_drop};

/* Spawn a sleeper per number, then wait for them all. */
struct sleep_sort {
    struct rt_async async;
    const long *numbers; /* borrowed from main() */
    int count;
    struct sorted *sorted;
    struct rt_join_handle jobs[MAX_NUMBERS]; /* owned until awaited: see sleep_sort_drop() */
    int i;
};

static enum rt_poll sleep_sort_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sleep_sort *f = (struct sleep_sort *)self;

    ASYNC_BEGIN(f, cx, out);
    f->sorted->start = now_ms();
    for (f->i = 0; f->i < f->count; f->i++) {
        struct sleeper s = {
            .async = RT_ASYNC_INIT(&sleeper_vtable), .ms = f->numbers[f->i], .sorted = f->sorted};
        f->jobs[f->i] = rt_spawn(&s.async.future, sizeof(s));
    }
    /* In spawn order, not wake order: waiting for one that is done already costs nothing. */
    for (f->i = 0; f->i < f->count; f->i++)
        AWAIT(&f->jobs[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

/* Dropped before the end, the handles not yet awaited still hold their tasks: let them go. */
static void sleep_sort_drop(struct rt_future *self)
{
    struct sleep_sort *f = (struct sleep_sort *)self;

    rt_async_drop(self);
    for (int i = 0; i < MAX_NUMBERS; i++)
        rt_join_detach(&f->jobs[i]); /* does nothing for a handle already awaited, or never set */
}

static const struct rt_future_vtable sleep_sort_vtable = {sleep_sort_poll, sleep_sort_drop};

/* ------------------------------------------------- part 2: a deadline */

static const struct {
    long sleep_ms, limit_ms;
} cases[] = {{20, 100}, {1000, 100}};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

struct deadline {
    struct rt_async async;
    int i;
    struct rt_io nap;        /* the sleep; `limit` owns it from rt_timeout() on */
    struct rt_timeout limit; /* in the same struct as `nap`, which must not move */
    intptr_t res;            /* 0, or -ETIMEDOUT */
    double start;
    int *wrong; /* main()'s: set when a case does not end as it should */
};

static enum rt_poll deadline_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct deadline *f = (struct deadline *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < NCASES; f->i++) {
        rt_io_sleep(&f->nap, (uint64_t)cases[f->i].sleep_ms * NS_PER_MS);
        rt_timeout(&f->limit, &f->nap.future, (uint64_t)cases[f->i].limit_ms * NS_PER_MS);
        f->start = now_ms();
        /* Whichever ends first wins; the timeout then drops `nap`, cancelling it if need be. */
        AWAIT(&f->limit.future, &f->res);
        printf("sleep %4ld ms, limit %ld ms: %s, after %5.1f ms\n", cases[f->i].sleep_ms,
               cases[f->i].limit_ms,
               f->res == 0            ? "0, in time"
               : f->res == -ETIMEDOUT ? "-ETIMEDOUT, gave up and cancelled the sleep"
                                      : strerror((int)-f->res),
               now_ms() - f->start);
        if (f->res != (cases[f->i].sleep_ms < cases[f->i].limit_ms ? 0 : -ETIMEDOUT))
            *f->wrong = 1;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

/* `limit` is the awaited child whenever it holds anything, so rt_async_drop() is enough. */
static const struct rt_future_vtable deadline_vtable = {deadline_poll, rt_async_drop};

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    long numbers[MAX_NUMBERS] = {15, 4, 42, 8, 23, 16}; /* when none are given */
    int count = 6, wrong = 0;
    struct sorted sorted = {0};
    struct rt_executor *ex;

    if (args_help(argc, argv)) {
        printf("usage: %s [N...]   (up to %d numbers, each from 0 to %d milliseconds)\n", argv[0],
               MAX_NUMBERS, MAX_MS);
        return 0;
    }
    if (argc > 1) {
        count = argc - 1;
        if (count > MAX_NUMBERS) {
            fprintf(stderr, "%s: at most %d numbers\n", argv[0], MAX_NUMBERS);
            return 2;
        }
        for (int i = 0; i < count; i++)
            if (!args_number("sleep_sort", "N", argv[i + 1], 0, MAX_MS, &numbers[i]))
                return 2;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "sleep_sort: %s\n", rt_last_error());
        return 1;
    }

    printf("sleep sort of %d numbers, one sleeping task each:\n", count);
    struct sleep_sort sort = {.async = RT_ASYNC_INIT(&sleep_sort_vtable),
                              .numbers = numbers,
                              .count = count,
                              .sorted = &sorted};
    rt_executor_run(ex, &sort.async.future, sizeof(sort));
    for (int i = 1; i < sorted.count; i++)
        if (sorted.out[i - 1] > sorted.out[i])
            wrong = 1;
    printf("%s\n", wrong ? "NOT sorted" : "sorted");

    printf("rt_timeout around a sleep:\n");
    struct deadline d = {.async = RT_ASYNC_INIT(&deadline_vtable), .wrong = &wrong};
    rt_executor_run(ex, &d.async.future, sizeof(d));
    rt_executor_destroy(ex);
    return wrong;
}
