/*
 * spawn_join.c - fan out N tasks, fan their results back in through join handles.
 *
 * main() fills an array of N slices of numbers; one async function spawns a
 * task per slice (each sums the squares of its slice), then awaits every join
 * handle and adds up what they return. The total is checked against the same
 * sum computed directly; the program exits with 1 if they differ.
 *
 * Run: make phase1 && build/phase1/examples/spawn_join [N]   (N tasks, default 1000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "rt.h"

#define SLICE     100    /* numbers per task */
#define MAX_TASKS 100000 /* 400 bytes of numbers a task: 40 MB at most */

/* ------------------------------------------------------------- one task */

struct sum_squares {
    struct rt_future future;
    const int *slice; /* borrowed from main(), which frees it only after the executor is gone */
    size_t len;
};

static enum rt_poll sum_squares_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sum_squares *f = (struct sum_squares *)self;
    intptr_t sum = 0;

    (void)cx; /* finishes in one poll: it never waits, so it never needs its waker */
    for (size_t i = 0; i < f->len; i++)
        sum += (intptr_t)f->slice[i] * f->slice[i];
    *out = sum;
    return RT_READY;
}

static const struct rt_future_vtable sum_squares_vtable = {.poll = sum_squares_poll};

/* ---------------------------------------------------- fan out, fan in */

struct fan_out {
    struct rt_async async;
    const int *data;             /* n * SLICE numbers, borrowed from main() */
    size_t n;                    /* tasks to spawn */
    struct rt_join_handle *jobs; /* n handles: owned, so fan_out_drop() below exists */
    size_t i;                    /* the loop counter lives across AWAIT, so it lives here */
    intptr_t part;               /* one task's output */
    intptr_t total;
};

static enum rt_poll fan_out_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fan_out *f = (struct fan_out *)self;

    ASYNC_BEGIN(f, cx, out);
    f->jobs = calloc(f->n, sizeof(*f->jobs));
    if (!f->jobs)
        ASYNC_RETURN(-ENOMEM);
    for (size_t i = 0; i < f->n; i++) {
        /* A local is fine: rt_spawn copies it into the task before anything polls it. */
        struct sum_squares job = {{&sum_squares_vtable}, f->data + i * SLICE, SLICE};
        f->jobs[i] = rt_spawn(&job.future, sizeof(job));
    }
    /*
     * Spawning only queued the tasks; they run while we are suspended here.
     * Awaiting in spawn order costs nothing: all the tasks run anyway,
     * interleaved on this one thread, and a handle whose task is done lets
     * AWAIT go straight on without suspending.
     */
    for (f->i = 0; f->i < f->n; f->i++) {
        AWAIT(&f->jobs[f->i].future, &f->part);
        f->total += f->part;
    }
    free(f->jobs);
    f->jobs = NULL; /* so that fan_out_drop(), called after we finish, frees nothing twice */
    ASYNC_RETURN(f->total);
    ASYNC_END;
}

/*
 * Called exactly once, finished or not. Finished, nothing is left. Dropped
 * early (had we been spawned, then cancelled, or left to rt_executor_destroy()),
 * the handles not yet awaited still hold their tasks: detach them, then free
 * the array.
 * rt_async_drop() alone would only release the one handle being awaited.
 */
static void fan_out_drop(struct rt_future *self)
{
    struct fan_out *f = (struct fan_out *)self;

    rt_async_drop(self);
    if (!f->jobs)
        return;
    for (size_t i = 0; i < f->n; i++)
        rt_join_detach(&f->jobs[i]); /* an empty handle (already awaited) is left alone */
    free(f->jobs);
    f->jobs = NULL;
}

static const struct rt_future_vtable fan_out_vtable = {fan_out_poll, fan_out_drop};

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    long n = 1000;
    struct rt_executor *ex;
    int *data;
    intptr_t total, expected = 0;
    int err;

    if (argc > 2 || args_help(argc, argv)) {
        int status = argc > 2 ? 2 : 0;

        fprintf(args_usage_to(status), "usage: %s [N]   (1 <= N <= %d tasks)\n", argv[0],
                MAX_TASKS);
        return status;
    }
    if (argc == 2 && !args_number("spawn_join", "N", argv[1], 1, MAX_TASKS, &n))
        return 2;
    data = malloc((size_t)n * SLICE * sizeof(*data));
    if (!data)
        return 1;
    for (long i = 0; i < n * SLICE; i++) {
        data[i] = (int)(i % 1000);
        expected += (intptr_t)data[i] * data[i];
    }

    err = rt_executor_create(NULL, &ex);
    if (err < 0) {
        fprintf(stderr, "rt_executor_create: %s\n", strerror(-err));
        free(data);
        return 1;
    }
    struct fan_out f = {.async = RT_ASYNC_INIT(&fan_out_vtable), .data = data, .n = (size_t)n};
    total = rt_executor_run(ex, &f.async.future, sizeof(f));
    /* Every handle was awaited, so every task has been freed already. */
    printf("%ld tasks, %d numbers each: sum of squares %ld (direct: %ld), tasks left: %zu\n", n,
           SLICE, (long)total, (long)expected, rt_executor_task_count(ex));
    rt_executor_destroy(ex);
    free(data);

    if (total < 0) {
        fprintf(stderr, "spawn_join: %s\n", strerror((int)-total));
        return 1;
    }
    if (total != expected) {
        fprintf(stderr, "spawn_join: WRONG: %ld != %ld\n", (long)total, (long)expected);
        return 1;
    }
    return 0;
}
