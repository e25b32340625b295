/*
 * async.h - write a future as sequential-looking code.
 *
 * An async function in Rust is compiled into a state machine: a struct with
 * the variables that live across `.await`s plus a number saying where to
 * resume, and a poll function that jumps to that point. C has no compiler
 * support for this, so these macros build the same machine by hand with the
 * oldest trick in C: a `switch` whose `case` labels sit in the middle of the
 * function body, one per AWAIT, numbered by __LINE__. (Simon Tatham's
 * coroutines and Adam Dunkels' protothreads made the trick famous.)
 *
 *     struct add_later {
 *         struct rt_async async;     // first: the future header and resume point
 *         struct rt_join_handle job; // everything alive across an AWAIT
 *         intptr_t x;
 *     };
 *
 *     static enum rt_poll add_later_poll(struct rt_future *self, struct rt_context *cx,
 *                                        intptr_t *out)
 *     {
 *         struct add_later *f = (struct add_later *)self;
 *         ASYNC_BEGIN(f, cx, out);
 *         f->job = rt_spawn(...);
 *         AWAIT(&f->job.future, &f->x);
 *         ASYNC_RETURN(f->x + 1);
 *         ASYNC_END;
 *     }
 *
 * The limits, all of which follow from "poll returns and is called again":
 *   - A local variable does not survive an AWAIT: the function really
 *     returns there. Whatever must live across one belongs in the struct.
 *   - The future being awaited must live in the struct too, for the same
 *     reason, and it must be initialized before the AWAIT.
 *   - The struct's first member is `struct rt_async async`, and ASYNC_BEGIN
 *     is given the pointer to the struct: a compile-time check (offsetof)
 *     stops the build if `async` is missing or not first.
 *   - One AWAIT per line (the line number is the label), and no AWAIT inside
 *     a `switch` of your own: its `case` would belong to your switch, and
 *     the resume would find no label. That stops the program with a message
 *     naming the line; use if/else around an AWAIT instead.
 *   - A local declared with an initializer before an AWAIT is skipped over
 *     when the poll resumes past it. The build warns about that jump (gcc's
 *     -Wjump-misses-init, clang's -Wconditional-uninitialized, both errors
 *     here): declare locals without initializers, or move them to the struct.
 *   - One ASYNC_BEGIN per function, and the function's poll parameter names
 *     are passed to it; the macros declare hidden locals named rt__*.
 *   - One child at a time: AWAIT waits for exactly one future. To wait for
 *     several at once, spawn them as tasks and await their join handles.
 *   - rt_async_drop() drops only the child being awaited. What the future
 *     owns besides (a handle or a buffer it was given when it was made)
 *     needs a drop function of its own, which calls rt_async_drop() too: a
 *     future can be dropped before its first poll, or between two AWAITs.
 *   - Every path ends in ASYNC_RETURN. Falling off the end, or polling the
 *     future again after it finished, stops the program with a message.
 */
#ifndef RT_ASYNC_H
#define RT_ASYNC_H

#include <stddef.h>

#include "future.h"

/* The header of every future written with these macros. */
struct rt_async {
    struct rt_future future;    /* must stay first: this is the future */
    int line;                   /* where to resume: 0 = start, -1 = finished */
    struct rt_future *awaiting; /* the child we are suspended on, or NULL */
};

/* A struct rt_async at its start: vtable set, resume point 0. */
#define RT_ASYNC_INIT(vtable_ptr)                                       \
    {                                                                   \
        .future = {.vtable = (vtable_ptr)}, .line = 0, .awaiting = NULL \
    }

/*
 * A drop function for async futures that hold nothing but their child: it
 * drops the child they are suspended on, if any. A future that owns more
 * (memory, a file descriptor) writes its own drop and calls this from it.
 */
void rt_async_drop(struct rt_future *self);

/* Called when an async future falls off its end without ASYNC_RETURN. */
_Noreturn void rt__async_fell_off(const struct rt_async *a, const char *file, int line);

/* Called when a resume finds no AWAIT of its own at a->line: polled after it finished, or an
 * AWAIT inside the program's own switch. */
_Noreturn void rt__async_bad_resume(const struct rt_async *a, const char *file, int line);

/*
 * __attribute__((fallthrough)) is a GNU extension that gcc and clang both
 * understand: it tells -Wimplicit-fallthrough (part of -Wextra) that running
 * from the statement before a `case` label into the label is intended.
 */
#define RT__FALLTHROUGH __attribute__((fallthrough))

/*
 * `self_struct` points at the future's own struct, whose first member must
 * be `struct rt_async async`: the _Static_assert makes any other layout a
 * compile error rather than a crash. (__typeof__ is a GNU extension that gcc
 * and clang both have; C23 spells it typeof.)
 */
#define ASYNC_BEGIN(self_struct, context, output)                                       \
    _Static_assert(offsetof(__typeof__(*(self_struct)), async) == 0,                    \
                   "an async future's struct must start with `struct rt_async async`"); \
    struct rt_async *rt__async = &(self_struct)->async;                                 \
    struct rt_context *rt__cx = (context);                                              \
    intptr_t *rt__out = (output);                                                       \
    (void)rt__cx;                                                                       \
    (void)rt__out;                                                                      \
    switch (rt__async->line) {                                                          \
    case 0:

/*
 * Suspend until `child` is ready; its output goes to `result` (an intptr_t *,
 * or NULL). Poll the child once right away: if it is already done we never
 * return to the executor at all.
 */
#define AWAIT(child, result)                                                     \
    do {                                                                         \
        rt__async->awaiting = (child);                                           \
        rt__async->line = __LINE__;                                              \
        RT__FALLTHROUGH;                                                         \
    case __LINE__:                                                               \
        if (rt_future_poll(rt__async->awaiting, rt__cx, (result)) == RT_PENDING) \
            return RT_PENDING;                                                   \
        rt_future_drop(rt__async->awaiting);                                     \
        rt__async->awaiting = NULL;                                              \
    } while (0)

/* Finish with `value` as this future's output. */
#define ASYNC_RETURN(value)   \
    do {                      \
        *rt__out = (value);   \
        rt__async->line = -1; \
        return RT_READY;      \
    } while (0)

/*
 * Close the switch. Running into it from the last statement means a path
 * without ASYNC_RETURN; jumping to `default` means the resume point is not
 * a label of this switch. Both are bugs, reported as what they are.
 */
#define ASYNC_END                                            \
    rt__async_fell_off(rt__async, __FILE__, __LINE__);       \
    default:                                                 \
        rt__async_bad_resume(rt__async, __FILE__, __LINE__); \
        }

#endif /* RT_ASYNC_H */
