/*
 * timers.h - the executor's deadlines, in one binary min-heap (internal).
 * New in phase 3.
 *
 * Phase 2 gave every sleep its own TIMEOUT request in the kernel, so a
 * timeout that did not fire (the common case: the I/O it guarded won) cost
 * a cancel request and two completions. Here a sleep is an entry in this
 * heap, owned by the executor: adding and removing one is a few pointer
 * moves and no system call, and the kernel only ever hears about the
 * nearest deadline, as the time limit of the one system call that parks
 * the thread (or of the preemption timer while tasks run).
 *
 * Why a heap and not a timer wheel: a heap keeps exact deadlines, finds the
 * nearest in O(1) and adds or removes in O(log n), in about 100 lines. A
 * hierarchical wheel makes add and remove O(1) but rounds deadlines to its
 * slots and needs cascading between levels; that pays off with millions of
 * timers, most of them cancelled, which is not this runtime's load.
 *
 * Entries with the same deadline fire in the order they were added (the
 * sequence number breaks ties), so equal sleeps wake in spawn order.
 */
#ifndef RT_TIMERS_H
#define RT_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer.h" /* struct rt_timer: one entry, kept inside the future that waits for it */

struct timer_heap {
    struct rt_timer **items; /* items[0] has the nearest deadline; children of i: 2i+1, 2i+2 */
    size_t len;              /* entries in the heap */
    size_t cap;              /* slots allocated */
    uint64_t next_seq;       /* the next entry's sequence number */
};

void rt__timers_init(struct timer_heap *h);

/* Free the array. The heap must be empty: every entry belongs to a future that is gone. */
void rt__timers_destroy(struct timer_heap *h);

/* Add `e` (not in the heap) with its deadline set. */
void rt__timers_add(struct timer_heap *h, struct rt_timer *e);

/* Take `e` out of the heap; nothing happens if it is not in it. No system call, ever. */
void rt__timers_remove(struct timer_heap *h, struct rt_timer *e);

/* Is `e` in the heap? Only the slot its index names can hold it: garbage in `e` answers false. */
bool rt__timers_holds(const struct timer_heap *h, const struct rt_timer *e);

/* The nearest deadline, or UINT64_MAX when there is none. */
uint64_t rt__timers_next(const struct timer_heap *h);

/* Remove every entry whose deadline is at or before `now` and wake its task. Returns how many. */
size_t rt__timers_fire(struct timer_heap *h, uint64_t now);

/* The timer heap of an executor, and adding to it (provided by executor.c). */
struct rt_executor;
struct timer_heap *rt__executor_timers(struct rt_executor *ex);
void rt__executor_add_timer(struct rt_executor *ex, struct rt_timer *timer);

#endif /* RT_TIMERS_H */
