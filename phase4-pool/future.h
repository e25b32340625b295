/*
 * future.h - futures, poll results, wakers and contexts.
 *
 * A future is a computation that finishes later. Nothing inside it blocks and
 * nothing calls it back; instead an executor *polls* it. A poll either
 * finishes (RT_READY, with an output) or returns RT_PENDING after arranging
 * for the context's waker to be woken once polling again could make progress.
 * Waking puts the task that owns the future back on its executor's queue, and
 * the executor polls it again. That is the whole protocol.
 *
 * A future is any struct whose first field is a `struct rt_future`: a pointer
 * to a table of two functions, poll and drop. C has no generics, so every
 * future has the same output type: an intptr_t, big enough for an integer
 * result or a pointer. The convention for fallible work is the runtime's
 * own: >= 0 for success, -errno for failure. A future whose successful
 * result can be negative cannot use that convention; it reports its result
 * through a pointer to the caller's memory instead.
 *
 * Rules every future follows (Rust's Future and Pin say the same):
 *   - Once polled, a future never moves: it may hold pointers into itself
 *     (an async function's `awaiting` points at a child in the same struct).
 *     Before the first poll it may be copied, which is how rt_spawn() moves
 *     a future into its task.
 *   - After it returned RT_READY it is not polled again.
 *   - drop() is called exactly once, whether the future finished or not.
 */
#ifndef RT_FUTURE_H
#define RT_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rt_poll {
    RT_PENDING = 0, /* not finished; the context's waker will be woken */
    RT_READY = 1,   /* finished; the output has been written */
};

struct rt_context;
struct rt_future;

struct rt_future_vtable {
    /* Make progress; on RT_READY store the output in *out (never NULL). */
    enum rt_poll (*poll)(struct rt_future *self, struct rt_context *cx, intptr_t *out);
    /* Release what the future holds. NULL when there is nothing to release. */
    void (*drop)(struct rt_future *self);
};

struct rt_future {
    const struct rt_future_vtable *vtable; /* first field of every future */
};

/* ---------------------------------------------------------------- wakers */

/*
 * A waker is a pointer plus a table of functions, so that anything (a task
 * of this executor, a test's counter, later an I/O reactor) can be woken the
 * same way. For the executor's tasks, `data` is the task and each waker holds
 * one reference to it, which is why a waker has to be dropped or consumed.
 *
 * Unlike Rust's Waker, these wakers belong to their executor's thread: a
 * task's state and reference count are not atomic, so waking it from another
 * thread is a data race. (Phase 4 crosses threads through channels.)
 */
struct rt_waker;

struct rt_waker_vtable {
    struct rt_waker (*clone)(void *data); /* a second waker for the same thing */
    void (*wake)(void *data);             /* wake, and release this waker */
    void (*wake_by_ref)(void *data);      /* wake, and keep this waker */
    void (*drop)(void *data);             /* release this waker without waking */
};

struct rt_waker {
    void *data;                           /* what to wake (a task, for the executor) */
    const struct rt_waker_vtable *vtable; /* NULL: an empty waker, owns nothing */
};

/* What a poll is given: today only the waker of the task being polled. */
struct rt_context {
    const struct rt_waker *waker; /* borrowed for this poll: clone it to keep it */
};

static inline bool rt_waker_is_empty(const struct rt_waker *w)
{
    return w->vtable == NULL;
}

static inline struct rt_waker rt_waker_clone(const struct rt_waker *w)
{
    return w->vtable->clone(w->data);
}

/* Wake and consume: `*w` is left empty. Waking an empty waker does nothing. */
static inline void rt_waker_wake(struct rt_waker *w)
{
    struct rt_waker taken = *w;

    *w = (struct rt_waker){0};
    if (taken.vtable)
        taken.vtable->wake(taken.data);
}

/* Wake and keep: `*w` can be woken again later. */
static inline void rt_waker_wake_by_ref(const struct rt_waker *w)
{
    if (w->vtable)
        w->vtable->wake_by_ref(w->data);
}

/* Release without waking: `*w` is left empty. Dropping an empty waker is fine. */
static inline void rt_waker_drop(struct rt_waker *w)
{
    struct rt_waker taken = *w;

    *w = (struct rt_waker){0};
    if (taken.vtable)
        taken.vtable->drop(taken.data);
}

/* True when both wakers wake the same thing, so one can stand for the other. */
static inline bool rt_waker_will_wake(const struct rt_waker *a, const struct rt_waker *b)
{
    return a->data == b->data && a->vtable == b->vtable;
}

/*
 * Keep the context's waker in `*slot`, for a future that returns RT_PENDING.
 * If the slot already wakes the same task (the common case: the same task
 * polled again) nothing changes; otherwise the old waker is dropped and the
 * context's waker cloned in.
 */
static inline void rt_waker_register(struct rt_waker *slot, const struct rt_context *cx)
{
    if (rt_waker_will_wake(slot, cx->waker))
        return;
    rt_waker_drop(slot);
    *slot = rt_waker_clone(cx->waker);
}

/* --------------------------------------------------------------- futures */

/* Poll `f`. `out` may be NULL when the caller does not want the output. */
static inline enum rt_poll rt_future_poll(struct rt_future *f, struct rt_context *cx, intptr_t *out)
{
    intptr_t ignored;

    return f->vtable->poll(f, cx, out ? out : &ignored);
}

/* Release what `f` holds; call exactly once, finished or not. */
static inline void rt_future_drop(struct rt_future *f)
{
    if (f->vtable->drop)
        f->vtable->drop(f);
}

#endif /* RT_FUTURE_H */
