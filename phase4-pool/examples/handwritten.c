/*
 * handwritten.c - one async function written twice: first as a state machine
 * by hand, then with the ASYNC_* macros, which generate the same machine.
 *
 * The function, in Rust-like pseudocode:
 *
 *     async fn square_plus_one(x) {
 *         let sq = spawn(square(x)).await;   // suspension point 1
 *         yield_once().await;                // suspension point 2
 *         sq + 1
 *     }
 *
 * Both versions run on one executor; the program prints what each returned
 * and how many polls it took, and exits with 1 if they disagree.
 *
 * Run: make phase1 && build/phase1/examples/handwritten
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "rt.h"

/*
 * gcc and clang both understand this GNU attribute: it tells
 * -Wimplicit-fallthrough that running into the next `case` is meant.
 * async.h uses the same attribute inside AWAIT.
 */
#define FALLTHROUGH __attribute__((fallthrough))

/* ------------------------------------------------------- the two children */

/* Ready at once with x * x. We run it as a task, so awaiting it means awaiting a join handle. */
struct square {
    struct rt_future future;
    intptr_t x;
};

static enum rt_poll square_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)cx;
    *out = ((struct square *)self)->x * ((struct square *)self)->x;
    return RT_READY;
}

static const struct rt_future_vtable square_vtable = {.poll = square_poll};

static struct rt_join_handle spawn_square(intptr_t x)
{
    struct square f = {{&square_vtable}, x};

    return rt_spawn(&f.future, sizeof(f)); /* copies f: a local is fine */
}

/*
 * Pending once, then ready: lets every other ready task run before we go on.
 * It wakes its own task before returning RT_PENDING; without that wake
 * nothing would ever poll it again.
 */
struct yield_once {
    struct rt_future future;
    bool yielded;
};

static enum rt_poll yield_once_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct yield_once *f = (struct yield_once *)self;

    if (f->yielded) {
        *out = 0;
        return RT_READY;
    }
    f->yielded = true;
    rt_waker_wake_by_ref(cx->waker); /* back of the run queue: polled again next turn */
    return RT_PENDING;
}

static const struct rt_future_vtable yield_once_vtable = {.poll = yield_once_poll};

static struct yield_once yield_once(void)
{
    return (struct yield_once){.future = {&yield_once_vtable}, .yielded = false};
}

/* ------------------------------------------------------ version 1: by hand */

/* Where to resume. Each state is a `case` that the macros in version 2 generate. */
enum manual_state {
    MANUAL_START,     /* ASYNC_BEGIN's `case 0:` */
    MANUAL_AWAIT_JOB, /* the `case __LINE__:` inside AWAIT(&f->job.future, &f->sq) */
    MANUAL_AWAIT_NAP, /* the `case __LINE__:` inside AWAIT(&f->nap.future, NULL) */
    MANUAL_DONE,      /* ASYNC_RETURN sets line = -1 */
};

/* Everything alive across a suspension point is a field: poll really returns there. */
struct manual {
    struct rt_future future;   /* a plain future: the state below is our own `line` */
    enum manual_state state;   /* where the next poll resumes */
    intptr_t x;                /* the argument */
    int *polls;                /* main()'s counter: this struct is copied into a task */
    struct rt_join_handle job; /* the child of suspension point 1 */
    struct yield_once nap;     /* the child of suspension point 2 */
    intptr_t sq;               /* computed before point 2, used after it */
};

static enum rt_poll manual_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct manual *f = (struct manual *)self;

    (*f->polls)++;
    switch (f->state) {
    case MANUAL_START:
        f->job = spawn_square(f->x);
        f->state = MANUAL_AWAIT_JOB;
        FALLTHROUGH; /* poll the child at once, as AWAIT does: it may be ready already */
    case MANUAL_AWAIT_JOB:
        if (rt_future_poll(&f->job.future, cx, &f->sq) == RT_PENDING)
            return RT_PENDING; /* the join handle keeps our waker; the task's end wakes us */
        rt_future_drop(&f->job.future); /* AWAIT drops a child as soon as it is ready */
        f->nap = yield_once();
        f->state = MANUAL_AWAIT_NAP;
        FALLTHROUGH;
    case MANUAL_AWAIT_NAP:
        if (rt_future_poll(&f->nap.future, cx, NULL) == RT_PENDING)
            return RT_PENDING;
        rt_future_drop(&f->nap.future);
        *out = f->sq + 1;
        f->state = MANUAL_DONE;
        return RT_READY;
    case MANUAL_DONE:
        break;
    }
    /* ASYNC_END: polled after it finished, which the protocol forbids. */
    fprintf(stderr, "manual: polled again after it finished\n");
    abort();
}

/* What rt_async_drop() does via `awaiting`: a suspended machine owns the child it waits for. */
static void manual_drop(struct rt_future *self)
{
    struct manual *f = (struct manual *)self;

    if (f->state == MANUAL_AWAIT_JOB)
        rt_future_drop(&f->job.future); /* detaches the task */
    else if (f->state == MANUAL_AWAIT_NAP)
        rt_future_drop(&f->nap.future);
}

static const struct rt_future_vtable manual_vtable = {manual_poll, manual_drop};

/* --------------------------------------------------- version 2: the macros */

struct with_macros {
    struct rt_async async; /* the future, plus `line` (the state) and `awaiting` */
    intptr_t x;            /* the same fields as struct manual, for the same reasons */
    int *polls;
    struct rt_join_handle job;
    struct yield_once nap;
    intptr_t sq;
};

static enum rt_poll with_macros_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct with_macros *f = (struct with_macros *)self;

    (*f->polls)++;
    /* switch (f->async.line) { case 0:                      MANUAL_START */
    ASYNC_BEGIN(f, cx, out);
    f->job = spawn_square(f->x);
    /* awaiting = child; line = __LINE__; case __LINE__: ... MANUAL_AWAIT_JOB */
    AWAIT(&f->job.future, &f->sq);
    f->nap = yield_once();
    /* the same, with this line's number:                    MANUAL_AWAIT_NAP */
    AWAIT(&f->nap.future, NULL);
    /* *out = value; line = -1; return RT_READY:             MANUAL_DONE */
    ASYNC_RETURN(f->sq + 1);
    /* } and then "polled again after it finished":          the abort() in manual_poll */
    ASYNC_END;
}

/* Nothing owned beyond the child being awaited, so the generic drop is enough. */
static const struct rt_future_vtable with_macros_vtable = {with_macros_poll, rt_async_drop};

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    struct rt_executor *ex;
    int manual_polls = 0, macro_polls = 0;
    intptr_t by_hand, by_macros;
    int err;

    if (argc > 1)
        return args_none(argc, argv, "one async function by hand, then with the ASYNC_* macros");
    err = rt_executor_create(NULL, &ex);
    if (err < 0) {
        fprintf(stderr, "rt_executor_create: %s\n", strerror(-err));
        return 1;
    }
    struct manual m = {{&manual_vtable}, MANUAL_START, 12, &manual_polls};
    struct with_macros w = {RT_ASYNC_INIT(&with_macros_vtable), 12, &macro_polls};

    by_hand = rt_executor_run(ex, &m.future, sizeof(m));
    by_macros = rt_executor_run(ex, &w.async.future, sizeof(w));
    rt_executor_destroy(ex);

    /* 3 polls each: start (task not run yet), after the task woke us, after the yield. */
    printf("square_plus_one(12) by hand:     %ld after %d polls\n", (long)by_hand, manual_polls);
    printf("square_plus_one(12) with macros: %ld after %d polls\n", (long)by_macros, macro_polls);
    if (by_hand != by_macros || manual_polls != macro_polls) {
        printf("they DISAGREE\n");
        return 1;
    }
    printf("they agree\n");
    return 0;
}
