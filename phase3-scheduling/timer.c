/*
 * timer.c - rt_timeout: a future raced against a sleep. New in phase 2.
 *
 * Phase 3: rt_sleep, a deadline in the executor's heap instead of a TIMEOUT
 * request, and rt_timeout races against it.
 */
#include "timer.h"

#include <errno.h>

#include "common/clock.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "executor.h"
#include "timers.h"

/* ------------------------------------------------------------------ sleep */

static enum rt_poll sleep_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_sleep *s = (struct rt_sleep *)self;

    if (s->finished)
        rt__die("an rt_sleep was polled after it finished");
    if (!s->started) {
        if (s->ns > RT_DURATION_MAX) {
            s->finished = true;
            *out = -EINVAL;
            return RT_READY;
        }
        s->ex = rt_executor_current();
        if (!s->ex)
            rt__die("an rt_sleep future was polled outside an executor");
        s->started = true;
        s->timer.deadline = now_ns() + s->ns;
        RT_TRACE(s->timer.trace_id = rt__trace_timer(s->ns));
        rt_waker_register(&s->timer.waker, cx);
        rt__executor_add_timer(s->ex, &s->timer);
        return RT_PENDING;
    }
    /* The executor takes the entry out of its heap when the deadline passes, then wakes us. */
    if (s->timer.index != RT_TIMER_NOT_IN_HEAP) {
        rt_waker_register(&s->timer.waker, cx);
        return RT_PENDING;
    }
    s->finished = true;
    *out = 0;
    return RT_READY;
}

static void sleep_drop(struct rt_future *self)
{
    struct rt_sleep *s = (struct rt_sleep *)self;

    /* Cancelling a sleep is taking it out of the heap: no request, no system call. */
    if (s->started && s->timer.index != RT_TIMER_NOT_IN_HEAP) {
        RT_TRACE(rt__trace_timer_cancel(s->timer.trace_id));
        rt__timers_remove(rt__executor_timers(s->ex), &s->timer);
    }
    rt_waker_drop(&s->timer.waker);
}

static const struct rt_future_vtable sleep_vtable = {sleep_poll, sleep_drop};

void rt_sleep(struct rt_sleep *s, uint64_t ns)
{
    struct rt_executor *ex = rt_executor_current();

    ASSERT_ARG(s);
    /* Zeroing it would leave its deadline in the heap, pointing at a sleep that no longer waits. */
    if (ex && rt__timers_holds(rt__executor_timers(ex), &s->timer))
        rt__die("an rt_sleep was prepared again while its deadline was still in the heap: await "
                "it to the end or drop it first");
    *s = (struct rt_sleep){.future = {&sleep_vtable}, .ns = ns};
    s->timer.index = RT_TIMER_NOT_IN_HEAP;
}

/* ---------------------------------------------------------------- timeout */

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
    rt_sleep(&t->timer, ns);
}
