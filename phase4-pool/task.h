/*
 * task.h - a spawned future and the bookkeeping around it (internal).
 *
 * A task is one allocation: this header, then a copy of the future that was
 * spawned. The executor never sees the future's type; it polls and drops it
 * through the future's own vtable, which is the task's "small vtable".
 *
 * State bits (not atomic: a task belongs to one thread, always):
 *
 *   SCHEDULED  on the run queue; the queue holds a reference
 *   RUNNING    being polled right now
 *   COMPLETED  the future returned RT_READY; `output` is valid; future dropped
 *   CLOSED     cancelled, its executor destroyed, or its last reference gone
 *              while it was pending; it will never be polled again, and its
 *              future has been dropped, or will be as soon as the poll that
 *              is RUNNING returns
 *   HANDLE     a join handle still refers to this task
 *
 * Phase 4: the block comes from the executor's per-core memory and goes
 * back there (percore.h); a task freed after its executor was destroyed
 * goes back to malloc. And rt__join_handle_new() is inline, below.
 *
 * References. A task is freed when its count drops to zero. One reference
 * is held by each of:
 *
 *   - the run queue, while SCHEDULED. Popping the task hands that reference
 *     to the executor for the poll, which releases it afterwards;
 *   - each waker of this task that is alive (clone takes one, wake and drop
 *     release one; wake_by_ref keeps it);
 *   - the join handle, while HANDLE is set (await, detach and drop release it).
 *
 * So a finished task whose handle is gone and whose wakers were all dropped
 * is freed right away, and a waker kept somewhere after the task finished
 * still points at valid memory: waking it finds COMPLETED and does nothing.
 */
#ifndef RT_TASK_H
#define RT_TASK_H

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/fatal.h"
#include "common/list.h"
#include "future.h"
#include "join.h"

struct rt_executor;
struct rt_percore;
struct task_queue;

enum task_state {
    TASK_SCHEDULED = 1u << 0,
    TASK_RUNNING = 1u << 1,
    TASK_COMPLETED = 1u << 2,
    TASK_CLOSED = 1u << 3,
    TASK_HANDLE = 1u << 4,
};

struct rt_task {
    struct list_node queue_link;  /* in its task queue's run queue while SCHEDULED */
    struct list_node all_link;    /* in the executor's list of every task it owns */
    struct rt_executor *executor; /* the executor it runs on; NULL once destroyed */
    struct task_queue *queue;     /* phase 3: the task queue it runs in; NULL once destroyed */
    unsigned state;               /* TASK_* bits */
    unsigned refs;                /* references, see above */
    intptr_t output;              /* the future's output, once COMPLETED */
    struct rt_waker awaiter;      /* who awaits the join handle; woken on COMPLETED or CLOSED */
    unsigned long trace_id;       /* its number in an RT_TRACE trace; 0 when not traced */
    struct rt_percore *mem;       /* phase 4: where its block goes back (percore.h) */
    size_t size;                  /* phase 4: the block's size, this header included */
    /* The spawned future, copied in. Aligned like malloc's memory, so any future type fits. */
    alignas(max_align_t) unsigned char future[];
};

static inline struct rt_future *task_future(struct rt_task *t)
{
    return (struct rt_future *)t->future;
}

static inline bool task_is_done(const struct rt_task *t)
{
    return (t->state & (TASK_COMPLETED | TASK_CLOSED)) != 0;
}

/*
 * Allocate a task holding a copy of the `size` bytes at `f`, to run in task
 * queue `q` (phase 3) of `ex`. It has one reference: the handle's.
 */
struct rt_task *rt__task_new(struct rt_executor *ex, struct task_queue *q,
                             const struct rt_future *f, size_t size);

/*
 * Stop the program with a message naming `who` unless `f` looks like a
 * future: `size` at least a struct rt_future, and a vtable with a poll.
 * A zeroed struct or the size of the wrong type would otherwise be read
 * past its end, or called through NULL, far from the mistake.
 */
static inline void rt__task_check_future(const char *who, const struct rt_future *f, size_t size)
{
    if (size < sizeof(struct rt_future))
        rt__die("%s: a future of %zu bytes is smaller than struct rt_future (%zu bytes); "
                "give the size of the whole future",
                who, size, sizeof(struct rt_future));
    if (!f->vtable || !f->vtable->poll)
        rt__die("%s: the future has no vtable or no poll function (a zeroed struct, or "
                "one its preparing function never made?)",
                who);
}

void rt__task_ref(struct rt_task *t);
void rt__task_free(struct rt_task *t); /* its last reference is gone: see rt__task_unref() */

/*
 * Give back one reference; the last one frees the task. Phase 4: inline,
 * with the freeing out of line. A task's references are given back two or
 * more times (its run's, its handle's), and only the last one frees, so
 * most calls only decrement: cheaper here than a call into task.c, which
 * saves and restores the registers the freeing path needs.
 */
static inline void rt__task_unref(struct rt_task *t)
{
    ASSERT(t->refs > 0);
    if (--t->refs == 0)
        rt__task_free(t);
}

/*
 * Phase 4: the three functions every task passes through, rt_spawn(),
 * rt__task_run() and the join handle's poll, each take everything they
 * call into themselves (`flatten`, an attribute gcc and clang share; gcc
 * goes to every depth, clang one call deep). Built with link-time
 * optimization (the Makefile's LTO_PHASES), that reaches into the other
 * files too: with gcc, a task's whole path is three functions, with no call
 * between the runtime's files left in it.
 */
#define RT__FLATTEN __attribute__((flatten))

/* Put the task on its task queue's run queue, unless it is queued or done already. */
void rt__task_schedule(struct rt_task *t);

/* Poll the task once, consuming the queue's reference that came with it. */
void rt__task_run(struct rt_task *t);

/* Close the task: drop its future (now, or when its running poll returns) and wake its awaiter. */
void rt__task_cancel(struct rt_task *t);

/* ----------------------------------------------- what executor.c and join.c provide */

void rt__executor_adopt(struct rt_executor *ex, struct rt_task *t);   /* a new task */
void rt__executor_forget(struct rt_executor *ex, struct rt_task *t);  /* a task being freed */
void rt__executor_enqueue(struct rt_executor *ex, struct rt_task *t); /* a task just scheduled */

/* ----------------------------------------------------------- join handles */

extern const struct rt_future_vtable rt__join_vtable; /* join.c's */

/* Two machine words that a compiler moves as one (a GNU extension gcc and clang share). */
typedef uintptr_t rt__word_pair __attribute__((vector_size(2 * sizeof(uintptr_t))));

/*
 * A join handle for `t`, taking over the reference rt__task_new() made for it.
 *
 * Phase 4: inline, and written in two stores: one for the vtable and the
 * task together, one for the rest. The handle is returned through memory,
 * and the caller copies it at once (h = rt_spawn(...)), 16 bytes and then
 * 8, before the stores that wrote it have reached the cache. A load is given
 * the bytes of such a store only when that one store holds all of them;
 * written field by field, the handle's first 16 bytes would come from two
 * stores, and the copy would wait until both reached the cache (a
 * store-forwarding stall, task.c says more). The static_asserts hold the
 * layout this relies on.
 */
static inline struct rt_join_handle rt__join_handle_new(struct rt_task *t)
{
    struct rt_join_handle h;
    rt__word_pair head = {(uintptr_t)&rt__join_vtable, (uintptr_t)t};
    uintptr_t tail = 0; /* `cancelled` false, and the padding after it */

    static_assert(offsetof(struct rt_join_handle, task) == sizeof(uintptr_t), "vtable, task");
    static_assert(sizeof(h) == sizeof(head) + sizeof(tail), "and one word more");
    memcpy(&h, &head, sizeof(head));
    memcpy((unsigned char *)&h + sizeof(head), &tail, sizeof(tail));
    return h;
}

#endif /* RT_TASK_H */
