/*
 * timers.c - a binary min-heap of deadlines. New in phase 3.
 *
 * The heap is an array in which every entry is due no later than its two
 * children, so the nearest deadline is always items[0]. Adding puts the new
 * entry at the end and lets it rise; removing puts the last entry in the
 * hole and lets it rise or sink. Each entry remembers its index, which is
 * what makes removing an arbitrary entry (a cancelled sleep) O(log n).
 */
#include "timers.h"

#include "common/alloc.h"
#include "common/fatal.h"
#include "common/trace.h"

void rt__timers_init(struct timer_heap *h)
{
    h->items = NULL;
    h->len = 0;
    h->cap = 0;
    h->next_seq = 0;
}

void rt__timers_destroy(struct timer_heap *h)
{
    ASSERT(h->len == 0);
    rt__free(h->items);
    h->items = NULL;
    h->cap = 0;
}

/* Is `a` due before `b`? Equal deadlines: the one added first. */
static bool before(const struct rt_timer *a, const struct rt_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct timer_heap *h, size_t i, struct rt_timer *e)
{
    h->items[i] = e;
    e->index = i;
}

/* Move the entry at `i` up while it is due before its parent. */
static void rise(struct timer_heap *h, size_t i)
{
    struct rt_timer *e = h->items[i];

    while (i > 0 && before(e, h->items[(i - 1) / 2])) {
        place(h, i, h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, e);
}

/* Move the entry at `i` down while a child is due before it. */
static void sink(struct timer_heap *h, size_t i)
{
    struct rt_timer *e = h->items[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->items[child + 1], h->items[child]))
            child++;
        if (!before(h->items[child], e))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, e);
}

void rt__timers_add(struct timer_heap *h, struct rt_timer *e)
{
    ASSERT(e->index == RT_TIMER_NOT_IN_HEAP);
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct rt_timer **items = rt__calloc(cap, sizeof(*items));

        for (size_t i = 0; i < h->len; i++)
            items[i] = h->items[i];
        rt__free(h->items);
        h->items = items;
        h->cap = cap;
    }
    e->seq = h->next_seq++;
    place(h, h->len++, e);
    rise(h, e->index);
}

void rt__timers_remove(struct timer_heap *h, struct rt_timer *e)
{
    size_t i = e->index;

    if (i == RT_TIMER_NOT_IN_HEAP)
        return;
    ASSERT(i < h->len && h->items[i] == e);
    e->index = RT_TIMER_NOT_IN_HEAP;
    if (i == --h->len)
        return; /* it was the last one: nothing fills its place */
    place(h, i, h->items[h->len]);
    /* The entry moved into the hole may be due before or after its new neighbours. */
    rise(h, i);
    sink(h, h->items[i]->index);
}

bool rt__timers_holds(const struct timer_heap *h, const struct rt_timer *e)
{
    return e->index < h->len && h->items[e->index] == e;
}

uint64_t rt__timers_next(const struct timer_heap *h)
{
    return h->len ? h->items[0]->deadline : UINT64_MAX;
}

size_t rt__timers_fire(struct timer_heap *h, uint64_t now)
{
    size_t fired = 0;

    while (h->len > 0 && h->items[0]->deadline <= now) {
        struct rt_timer *e = h->items[0];

        /*
         * Its sleep, zeroed while the deadline was in here, no longer knows it
         * is (timer.c): its index says not in the heap, or, if the heap has
         * moved it since (removing an entry above it), its waker is empty,
         * which an entry's never is (a sleep registers it before adding it).
         */
        if (e->index != 0 || rt_waker_is_empty(&e->waker))
            rt__die("a deadline in the executor's heap belongs to an rt_sleep that was prepared "
                    "again while it waited (outside a run, or on another thread): await a sleep "
                    "to the end or drop it first");
        rt__timers_remove(h, e);
        RT_TRACE(rt__trace_timer_fired(e->trace_id, now - e->deadline));
        rt_waker_wake(&e->waker); /* the sleep sees it is out of the heap: its time has come */
        RT_TRACE(rt__trace_timer_fired_end());
        fired++;
    }
    return fired;
}
