/*
 * timer.c - rt_timeout: a future raced against a sleep. New in phase 2.
 */
#include "timer.h"

#include <errno.h>

#include "common/fatal.h"

/*
 * Drop the inner future and the timer, whichever is still there; each
 * cancels what it has in flight. Both ways a timeout ends call this: its
 * poll, when it finishes, and its drop, when its owner lets go. The drop
 * itself runs once, as every future's does.
 */
static void timeout_release_children(struct rt_timeout *t)
{
    if (t->inner)
        rt_future_drop(t->inner);
    t->inner = NULL;
    rt_future_drop(&t->timer.future);
}

static void timeout_drop(struct rt_future *self)
{
    timeout_release_children((struct rt_timeout *)self);
}

static enum rt_poll timeout_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_timeout *t = (struct rt_timeout *)self;

    if (!t->inner)
        rt__die("an rt_timeout was polled after it finished");
    /* A bad duration is refused whatever the inner future would do, before it starts anything. */
    if (t->ns > RT_DURATION_MAX) {
        timeout_release_children(t); /* the inner future is never polled: it started nothing */
        *out = -EINVAL;
        return RT_READY;
    }
    /* Both are polled with our waker, so whichever finishes first wakes us. */
    if (rt_future_poll(t->inner, cx, out) == RT_READY) {
        timeout_release_children(t);
        return RT_READY;
    }
    if (rt_future_poll(&t->timer.future, cx, NULL) == RT_READY) {
        timeout_release_children(t); /* too late: give up on the inner future, cancelling its I/O */
        *out = -ETIMEDOUT;
        return RT_READY;
    }
    return RT_PENDING;
}

static const struct rt_future_vtable timeout_vtable = {timeout_poll, timeout_drop};

void rt_timeout(struct rt_timeout *t, struct rt_future *inner, uint64_t ns)
{
    ASSERT_ARG(t);
    ASSERT_ARG(inner);
    if (t->inner)
        rt__die("an rt_timeout was prepared again while it still had a future to race: await it "
                "to the end or drop it first, and start from a zero-filled struct rt_timeout");
    t->future.vtable = &timeout_vtable;
    t->inner = inner;
    t->ns = ns;
    rt_io_sleep(&t->timer, ns);
}
