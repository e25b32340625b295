/*
 * deferred.h - work an executor does once at the end of a turn (internal).
 * New in phase 4.
 *
 * A channel end that sent ten messages in one turn needs to check only once
 * whether the other side waits for them, and that check is the expensive
 * part of a send (a full memory fence; see channel.c). So instead of
 * checking after every message, the end queues a `struct deferred` on its
 * executor, once per turn, and the executor runs it after the turn's tasks
 * have run, before it can park. A peer is thus woken at most once per batch
 * of messages, and a batch costs one fence.
 */
#ifndef RT_DEFERRED_H
#define RT_DEFERRED_H

#include <stdbool.h>

#include "common/list.h"

struct deferred {
    struct list_node link;              /* on the executor's list while queued */
    void (*run)(struct deferred *self); /* what to do at the end of the turn */
};

/* A node that is not queued. */
static inline void rt__deferred_init(struct deferred *d, void (*run)(struct deferred *self))
{
    list_init(&d->link);
    d->run = run;
}

/* Run `d` at the end of the running executor's turn; queuing it twice in a turn queues it once. */
void rt__defer_to_turn_end(struct deferred *d);

/* Take `d` off its executor's list, if it is on it (its owner is going away). */
static inline void rt__deferred_cancel(struct deferred *d)
{
    list_remove(&d->link);
}

#endif /* RT_DEFERRED_H */
