/*
 * scheduling.h - sharing one thread fairly: yielding, preemption, and task queues
 * with shares. New in phase 3.
 *
 * Tasks are cooperative: a task runs until its poll returns, and nothing
 * interrupts it. A task that computes for a long time should therefore ask,
 * now and then, whether it has used up its time slice:
 *
 *     AWAIT(&f->yield.future, NULL);    // after rt_yield_if_needed(&f->yield)
 *
 * rt_need_preempt() answers that question by reading a few bytes of memory
 * the kernel shares with us (no system call; see preempt.c), and
 * rt_yield_if_needed() yields only when the answer is yes.
 *
 * Task queues are scheduling classes, as in Glommio. Each has shares (its
 * part of the CPU, relative to the others: 1 to 1000) and a latency
 * requirement: 0 if latency does not matter, or a duration within which,
 * once the queue has work, the slice running then must end. (It then runs
 * if its virtual runtime, below, is the least: a latency shortens others'
 * slices, it does not override shares; so for a queue that has used more
 * than its share, the slice ends only once the running queue has caught
 * up with it, if that is later.) Every task runs in one queue:
 * main and the tasks rt_spawn() makes run in the queue of the task that
 * spawned them (the default queue, 0, at first); rt_spawn_into() picks one.
 * The executor runs the queue that has used the least CPU time relative to
 * its shares (its "virtual runtime"), for one time slice or until it has
 * nothing left to run; so over time, two busy queues with shares 2 and 1
 * get two thirds and one third of the thread.
 */
#ifndef RT_SCHEDULING_H
#define RT_SCHEDULING_H

#include <stdbool.h>
#include <stdint.h>

#include "future.h"
#include "join.h"

struct rt_executor;

/* --------------------------------------------------------------- yielding */

/*
 * True when the running task should yield: its slice is over, a deadline
 * is due or a latency-sensitive queue waits. Costs a few loads, no system
 * call. False outside an executor.
 */
bool rt_need_preempt(void);

/* Output 0. rt_yield_now: pending once, at the back of its queue (behind the tasks that the
 * completions, deadlines and notifications of the turn's end wake); rt_yield_if_needed: only if
 * rt_need_preempt(). */
struct rt_yield {
    struct rt_future future; /* await this */
    bool only_if_needed;     /* private */
    bool yielded;            /* private: it has been pending once */
};
void rt_yield_now(struct rt_yield *y);
void rt_yield_if_needed(struct rt_yield *y);

/* ------------------------------------------------------------ task queues */

#define RT_TASK_QUEUE_DEFAULT  0 /* the queue every executor has: shares 1000, latency 0 */
#define RT_SHARES_MIN          1
#define RT_SHARES_MAX          1000
#define RT_TASK_QUEUE_NAME_MAX 32                          /* bytes, with the NUL */
#define RT_LATENCY_MAX         (60 * UINT64_C(1000000000)) /* a minute; more: -EINVAL */

/* What a queue has done, for the program to read (rt_task_queue_stats). Times in nanoseconds. */
struct rt_task_queue_stats {
    uint64_t runtime_ns;  /* time spent running its tasks */
    uint64_t tasks_run;   /* polls of its tasks */
    uint64_t waiting_ns;  /* time it had tasks ready to run while another queue ran */
    uint64_t max_wait_ns; /* the longest single such wait */
    uint64_t vruntime;    /* its virtual runtime: runtime_ns scaled by 1000 / shares, and
                             raised to the scheduler's minimum when it wakes (task_queue.h) */
    unsigned shares;      /* as created */
    uint64_t latency_ns;  /* as created; 0: latency does not matter */
};

/*
 * Make a task queue on `ex`. `name` (copied; NULL or longer than
 * RT_TASK_QUEUE_NAME_MAX - 1 bytes: -EINVAL) is for stats and traces;
 * `shares` is 1 to 1000; `latency_ns` is 0 (does not matter) or 1 ns to
 * RT_LATENCY_MAX. Returns the queue's id (> 0), or -EINVAL.
 */
int rt_task_queue_create(struct rt_executor *ex, const char *name, unsigned shares,
                         uint64_t latency_ns);

/*
 * Remove a queue that has no tasks left (finished tasks whose join handle
 * is still held count: await or detach them first; so does a task cancelled
 * while it was queued, until a later turn of that queue lets it go, which
 * may be in the next rt_executor_run()). Returns 0, -ENOENT for
 * an id that is not a queue of `ex` (never made, or removed), -EINVAL for
 * the default queue, -EBUSY while it has tasks.
 */
int rt_task_queue_remove(struct rt_executor *ex, int queue);

/* Copy a queue's statistics into *out. Returns 0 or -ENOENT. */
int rt_task_queue_stats(struct rt_executor *ex, int queue, struct rt_task_queue_stats *out);

/*
 * Spawn into queue `queue` of the executor running on this thread: like
 * rt_spawn(), with the join handle in *out. Returns 0, or -ENOENT for an
 * unknown queue, and then the future was not taken (it is still the
 * caller's to drop).
 */
int rt_spawn_into(int queue, const struct rt_future *f, size_t size, struct rt_join_handle *out);

/* The queue of the task that is running, or -ENOENT outside an executor's task. */
int rt_task_queue_current(void);

#endif /* RT_SCHEDULING_H */
