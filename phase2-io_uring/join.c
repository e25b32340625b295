/*
 * join.c - join handles: awaiting, detaching and cancelling a task.
 */
#include "join.h"

#include "common/fatal.h"
#include "task.h"

/* Give back the handle's reference; the handle is empty afterwards. */
static void join_release(struct rt_join_handle *h)
{
    struct rt_task *t = h->task;

    h->task = NULL;
    rt_waker_drop(&t->awaiter); /* only this handle ever registers an awaiter */
    t->state &= ~TASK_HANDLE;
    rt__task_unref(t);
}

static enum rt_poll join_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_join_handle *h = (struct rt_join_handle *)self;
    struct rt_task *t = h->task;

    if (!t)
        rt__die("a join handle was awaited after it was awaited to the end, detached or dropped");
    if (!task_is_done(t)) {
        /* The task wakes us when it completes or is cancelled: see task_finish(). */
        rt_waker_register(&t->awaiter, cx);
        return RT_PENDING;
    }
    h->cancelled = (t->state & TASK_CLOSED) != 0;
    *out = h->cancelled ? 0 : t->output;
    join_release(h);
    return RT_READY;
}

static void join_drop(struct rt_future *self)
{
    rt_join_detach((struct rt_join_handle *)self);
}

static const struct rt_future_vtable join_vtable = {
    .poll = join_poll,
    .drop = join_drop,
};

struct rt_join_handle rt__join_handle_new(struct rt_task *t)
{
    return (struct rt_join_handle){.future = {.vtable = &join_vtable}, .task = t};
}

void rt_join_detach(struct rt_join_handle *h)
{
    ASSERT_ARG(h);
    if (h->task)
        join_release(h);
}

bool rt_join_cancel(struct rt_join_handle *h)
{
    ASSERT_ARG(h);
    if (!h->task || task_is_done(h->task))
        return false;
    rt__task_cancel(h->task);
    return true;
}
