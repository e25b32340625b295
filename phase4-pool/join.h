/*
 * join.h - join handles: what rt_spawn() returns.
 *
 * A join handle is itself a future: awaiting it waits for the task and gives
 * the task's output. It holds a reference to the task, so it must end in
 * exactly one of these ways:
 *
 *   - awaited to the end (AWAIT or rt_future_poll until RT_READY);
 *   - rt_join_detach(): let the task run on alone; its output is discarded;
 *   - rt_future_drop(&h.future): the same as detaching, and what happens when
 *     an async function holding the handle as its awaited child is dropped.
 *
 * rt_join_cancel() can be used before any of them: it stops the task (its
 * future is dropped, its memory freed once nothing refers to it) and an
 * await then finishes with `cancelled` set.
 *
 * A handle is a value that owns a reference; move it, do not copy it. A
 * zero-filled handle is empty: rt_join_detach() on it does nothing, so an
 * array of handles from calloc() can be cleaned up whether or not each slot
 * was ever filled. (rt_future_drop() needs the vtable rt_spawn() set.)
 */
#ifndef RT_JOIN_H
#define RT_JOIN_H

#include <stdbool.h>

#include "future.h"

struct rt_task;

struct rt_join_handle {
    struct rt_future future; /* await this; its output is the task's output */
    struct rt_task *task;    /* private: our reference; NULL once released */
    bool cancelled;          /* set when an await finishes: the task was cancelled; output 0 */
};

/* Let the task run to completion on its own. The handle is empty afterwards. */
void rt_join_detach(struct rt_join_handle *h);

/*
 * Cancel the task unless it has already finished. Returns true if this call
 * cancelled it; false if it had completed (its output is still there to
 * await) or was cancelled already, or if the handle is empty.
 */
bool rt_join_cancel(struct rt_join_handle *h);

/* True once the handle was awaited to the end, detached or dropped. */
static inline bool rt_join_is_empty(const struct rt_join_handle *h)
{
    return h->task == NULL;
}

#endif /* RT_JOIN_H */
