/*
 * task_queue.h - task queues and the scheduler that picks between them
 * (internal). New in phase 3.
 *
 * In phases 1 and 2 the executor had one run queue. Now every task queue
 * (scheduling.h) has a run queue of its own, and the scheduler decides whose
 * turn it is, as Linux's CFS does for processes:
 *
 *   - each queue has a virtual runtime: the CPU time it has used, scaled
 *     by 1000 / shares, so that a queue with twice the shares ages half
 *     as fast;
 *   - the queue with work and the smallest virtual runtime runs next, for
 *     one slice or until it runs out of work; on a tie, the one that has
 *     waited longest;
 *   - a queue that had no work and gets some is raised to min_vruntime,
 *     the least virtual runtime of the queues with work when one was last
 *     picked (it never goes back): an idle queue banks no credit that would
 *     let it hog the thread later;
 *   - it keeps its debt, the time it ran beyond its share before it went
 *     idle, as in Linux's CFS, so a queue that runs out of work every slice
 *     pays for its slices like any other. A latency queue is let off the
 *     debt beyond latency_ns (it starts no higher than min_vruntime +
 *     latency_ns, which a queue of 1000 shares covers in latency_ns of
 *     running, any other sooner), so a queue that ran long once is not
 *     passed over for long when it wakes; but not again until ten times
 *     the running time it was let off (a millisecond at least) has
 *     passed, so that it cannot take more than a tenth of the thread
 *     beyond its share (BOOK 3.7);
 *   - a latency queue that gets work ends the running slice by its
 *     deadline, or, if it has more virtual runtime than the running queue,
 *     when the running queue has caught up with it, whichever is later:
 *     ending the slice sooner would not let it run.
 *
 * Queues are few (a handful per program), so "the smallest" is a walk
 * along a list; Glommio keeps its active queues in a binary heap, which
 * pays off with hundreds of them.
 */
#ifndef RT_TASK_QUEUE_H
#define RT_TASK_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/list.h"
#include "run_queue.h"
#include "scheduling.h"

struct task_queue {
    struct run_queue ready; /* its tasks that are ready to be polled, oldest first */
    struct list_node link;  /* on the scheduler's list of queues */
    int id;                 /* what the program calls it: RT_TASK_QUEUE_DEFAULT or > 0 */
    char name[RT_TASK_QUEUE_NAME_MAX];
    unsigned shares;                  /* 1..1000 */
    uint64_t latency_ns;              /* 0: latency does not matter; else serve it within this */
    uint64_t vruntime;                /* see above: the queue with work and the least runs next */
    uint64_t ready_since;             /* since when it has waited for its turn (stats, ties) */
    uint64_t forgive_after;           /* a latency queue: let off no debt before this (above) */
    size_t live_tasks;                /* its tasks not yet freed: it cannot be removed while > 0 */
    struct rt_task_queue_stats stats; /* runtime, tasks run, waiting */
};

struct scheduler {
    struct list_node queues;         /* every task queue, the default one first */
    struct task_queue default_queue; /* RT_TASK_QUEUE_DEFAULT: always there */
    struct task_queue *running;      /* the queue whose slice this is, or NULL between slices */
    uint64_t running_since;          /* when its slice began */
    uint64_t min_vruntime;           /* no queue that wakes starts below it: see above */
    int next_id;                     /* the next queue's id; ids are never reused */
    size_t ready_tasks;              /* tasks ready in all queues together */
    struct rt_task *yielder;         /* yielded this turn: wakes go ahead of it (executor.c) */
};

void rt__scheduler_init(struct scheduler *s);

/* Free every queue the program made. They must have no tasks left. */
void rt__scheduler_destroy(struct scheduler *s);

/* The queue with this id, or NULL. */
struct task_queue *rt__scheduler_find(struct scheduler *s, int id);

/*
 * Put a task that has just been scheduled on its queue's run queue. If the
 * queue had no work before and latency matters to it, returns the time by
 * which the running slice must end for it (see above); otherwise 0.
 */
uint64_t rt__scheduler_push(struct scheduler *s, struct task_queue *q, struct rt_task *t);

/* The next task of `q`, or NULL when it has no more work. */
struct rt_task *rt__scheduler_pop(struct scheduler *s, struct task_queue *q);

/* The queue to run now (it becomes `running`), or NULL when no queue has work. */
struct task_queue *rt__scheduler_pick(struct scheduler *s, uint64_t now);

/* The running queue's slice is over: charge it `ran_ns` of CPU time. */
void rt__scheduler_charge(struct scheduler *s, uint64_t ran_ns, uint64_t now);

/*
 * The time by which the running slice must end for the latency of some
 * other queue (see above; UINT64_MAX: none waits).
 */
uint64_t rt__scheduler_latency_deadline(const struct scheduler *s);

/* The scheduler of an executor (provided by executor.c). */
struct rt_executor;
struct scheduler *rt__executor_scheduler(struct rt_executor *ex);
unsigned rt__executor_trace_id(const struct rt_executor *ex); /* its number in RT_TRACE */

#endif /* RT_TASK_QUEUE_H */
