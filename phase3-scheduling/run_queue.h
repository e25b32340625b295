/*
 * run_queue.h - the run queue: a FIFO of tasks that are ready to be polled (internal).
 *
 * An intrusive list: each task carries its own link, so pushing never
 * allocates and cannot fail. First in, first out is what makes the executor
 * fair: a task woken now runs after every task that was already waiting.
 */
#ifndef RT_RUN_QUEUE_H
#define RT_RUN_QUEUE_H

#include "common/list.h"
#include "task.h"

struct run_queue {
    struct list_node tasks; /* SCHEDULED tasks, oldest first */
    size_t len;             /* how many */
};

static inline void run_queue_init(struct run_queue *q)
{
    list_init(&q->tasks);
    q->len = 0;
}

static inline bool run_queue_empty(const struct run_queue *q)
{
    return q->len == 0;
}

static inline void run_queue_push(struct run_queue *q, struct rt_task *t)
{
    list_push_back(&q->tasks, &t->queue_link);
    q->len++;
}

/* Put `t` just ahead of `later`, a task in `q`: at the back of the list that starts at `later`. */
static inline void run_queue_push_before(struct run_queue *q, struct rt_task *t,
                                         struct rt_task *later)
{
    list_push_back(&later->queue_link, &t->queue_link);
    q->len++;
}

/* The oldest task, or NULL when the queue is empty. */
static inline struct rt_task *run_queue_pop(struct run_queue *q)
{
    struct list_node *node = list_pop_front(&q->tasks);

    if (!node)
        return NULL;
    q->len--;
    return container_of(node, struct rt_task, queue_link);
}

#endif /* RT_RUN_QUEUE_H */
