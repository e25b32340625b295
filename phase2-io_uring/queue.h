/*
 * queue.h - the run queue: a FIFO of tasks that are ready to be polled (internal).
 *
 * An intrusive list: each task carries its own link, so pushing never
 * allocates and cannot fail. First in, first out is what makes the executor
 * fair: a task woken now runs after every task that was already waiting.
 */
#ifndef RT_QUEUE_H
#define RT_QUEUE_H

#include "common/list.h"
#include "task.h"

struct task_queue {
    struct list_node tasks; /* SCHEDULED tasks, oldest first */
    size_t len;             /* how many */
};

static inline void task_queue_init(struct task_queue *q)
{
    list_init(&q->tasks);
    q->len = 0;
}

static inline bool task_queue_empty(const struct task_queue *q)
{
    return q->len == 0;
}

static inline void task_queue_push(struct task_queue *q, struct task *t)
{
    list_push_back(&q->tasks, &t->queue_link);
    q->len++;
}

/* The oldest task, or NULL when the queue is empty. */
static inline struct task *task_queue_pop(struct task_queue *q)
{
    struct list_node *node = list_pop_front(&q->tasks);

    if (!node)
        return NULL;
    q->len--;
    return container_of(node, struct task, queue_link);
}

#endif /* RT_QUEUE_H */
