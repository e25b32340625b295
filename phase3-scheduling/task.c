/*
 * task.c - tasks: creation, reference counting, waking, polling, cancelling.
 *
 * The rules for states and references are in task.h; every function here
 * keeps them. Read rt__task_run() first: it is the one place a future is
 * polled.
 */
#include "task.h"

#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "join.h"

static const struct rt_waker_vtable task_waker_vtable;

struct rt_task *rt__task_new(struct rt_executor *ex, struct task_queue *q,
                             const struct rt_future *f, size_t size)
{
    struct rt_task *t;

    rt__task_check_future("spawning", f, size);
    /* Only a bug makes a size this large (a negative number?); the sum below would wrap around. */
    if (size > SIZE_MAX - sizeof(*t))
        rt__die("spawning a future of %zu bytes: no task can hold it (the size overflows)", size);
    t = rt__malloc(sizeof(*t) + size);
    list_init(&t->queue_link);
    t->executor = ex;
    t->queue = q;
    t->state = TASK_HANDLE;
    t->refs = 1; /* the join handle's */
    t->output = 0;
    t->awaiter = (struct rt_waker){0};
    t->trace_id = 0;
    RT_TRACE(t->trace_id = rt__trace_spawn(size));
    /* The move Rust's Pin allows: copy the future in before its first poll, never after. */
    memcpy(t->future, f, size);
    rt__executor_adopt(ex, t);
    return t;
}

void rt__task_ref(struct rt_task *t)
{
    t->refs++;
}

void rt__task_unref(struct rt_task *t)
{
    ASSERT(t->refs > 0);
    if (--t->refs > 0)
        return;
    /*
     * Nobody can poll, wake or await this task any more. If its future never
     * finished (it waited for a wake-up that can no longer come), drop it now
     * so that what it holds is released too.
     */
    RT_TRACE(rt__trace_free(t->trace_id, task_is_done(t) ? NULL : "was pending: future dropped"));
    if (!task_is_done(t)) {
        t->state |= TASK_CLOSED;
        rt_future_drop(task_future(t));
    }
    ASSERT(rt_waker_is_empty(&t->awaiter)); /* only a handle registers one, and it is gone */
    if (t->executor)
        rt__executor_forget(t->executor, t);
    rt__free(t);
}

void rt__task_schedule(struct rt_task *t)
{
    /* Already queued: one entry is enough. Done: there is nothing left to poll. */
    if (t->state & (TASK_SCHEDULED | TASK_COMPLETED | TASK_CLOSED))
        return;
    /* A RUNNING task can be scheduled too: woken during its own poll, it is polled again. */
    t->state |= TASK_SCHEDULED;
    rt__task_ref(t); /* the queue's reference */
    rt__executor_enqueue(t->executor, t);
}

/* Drop the future of a task that has just become done, and tell its awaiter. */
static void task_finish(struct rt_task *t)
{
    rt_future_drop(task_future(t));
    rt_waker_wake(&t->awaiter);
}

void rt__task_run(struct rt_task *t)
{
    /* This waker is lent to the future for one poll; it holds no reference of its own. */
    struct rt_waker waker = {.data = t, .vtable = &task_waker_vtable};
    struct rt_context cx = {.waker = &waker};
    intptr_t output = 0;
    enum rt_poll result;

    /* The queue's reference is ours now; it keeps the task alive during the poll. */
    t->state &= ~TASK_SCHEDULED;
    if (task_is_done(t)) {
        /* Cancelled while it waited in the queue. */
        rt__task_unref(t);
        return;
    }

    t->state |= TASK_RUNNING;
    RT_TRACE(rt__trace_poll(t->trace_id));
    result = rt_future_poll(task_future(t), &cx, &output);
    t->state &= ~TASK_RUNNING;
    RT_TRACE(rt__trace_polled(t->trace_id, result == RT_READY, (long)output));

    if (t->state & TASK_CLOSED) {
        /* Cancelled during its own poll: rt__task_cancel() left the drop to us. */
        task_finish(t);
    } else if (result == RT_READY) {
        t->output = output;
        t->state |= TASK_COMPLETED;
        task_finish(t);
    }
    RT_TRACE(rt__trace_poll_end(t->trace_id)); /* after task_finish: its wake is this task's */
    rt__task_unref(t);
}

void rt__task_cancel(struct rt_task *t)
{
    if (task_is_done(t))
        return;
    RT_TRACE(rt__trace_cancel(t->trace_id, (t->state & TASK_RUNNING) != 0));
    t->state |= TASK_CLOSED;
    /* A future cannot be dropped in the middle of its own poll; rt__task_run() will do it. */
    if (t->state & TASK_RUNNING)
        return;
    task_finish(t);
    /* If the task is still queued, it stays there: rt__task_run() sees CLOSED and lets go. */
}

/* ---------------------------------------------------------------- the task's waker */

/* The trace's wake line says whether this wake queues the task (see rt__task_schedule). */
static void trace_wake(const struct rt_task *t)
{
    const char *note = NULL;

    if (t->state & TASK_SCHEDULED)
        note = "already queued";
    else if (task_is_done(t))
        note = "it is done: nothing to do";
    rt__trace_wake(t->trace_id, note);
}

static struct rt_waker task_waker_clone(void *data)
{
    rt__task_ref(data);
    return (struct rt_waker){.data = data, .vtable = &task_waker_vtable};
}

static void task_waker_wake(void *data)
{
    RT_TRACE(trace_wake(data));
    rt__task_schedule(data);
    rt__task_unref(data); /* this waker's reference; the queue took its own */
}

static void task_waker_wake_by_ref(void *data)
{
    RT_TRACE(trace_wake(data));
    rt__task_schedule(data);
}

static void task_waker_drop(void *data)
{
    rt__task_unref(data);
}

static const struct rt_waker_vtable task_waker_vtable = {
    .clone = task_waker_clone,
    .wake = task_waker_wake,
    .wake_by_ref = task_waker_wake_by_ref,
    .drop = task_waker_drop,
};
