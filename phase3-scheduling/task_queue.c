/*
 * task_queue.c - task queues with shares, and the scheduler that picks the
 * next one to run. New in phase 3. The rules are in task_queue.h.
 */
#include "task_queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "executor.h"
#include "task.h"

/* Virtual runtime advances by ran_ns * VRUNTIME_SCALE / shares: shares 1000 ages at real time. */
#define VRUNTIME_SCALE 1000u

static void queue_init(struct task_queue *q, int id, const char *name, unsigned shares,
                       uint64_t latency_ns)
{
    memset(q, 0, sizeof(*q));
    run_queue_init(&q->ready);
    list_init(&q->link);
    q->id = id;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->shares = shares;
    q->latency_ns = latency_ns;
    q->stats.shares = shares;
    q->stats.latency_ns = latency_ns;
}

void rt__scheduler_init(struct scheduler *s)
{
    list_init(&s->queues);
    queue_init(&s->default_queue, RT_TASK_QUEUE_DEFAULT, "default", RT_SHARES_MAX, 0);
    list_push_back(&s->queues, &s->default_queue.link);
    s->running = NULL;
    s->min_vruntime = 0;
    s->next_id = RT_TASK_QUEUE_DEFAULT + 1;
    s->ready_tasks = 0;
    s->yielder = NULL;
}

void rt__scheduler_destroy(struct scheduler *s)
{
    struct list_node *node;

    while ((node = list_pop_front(&s->queues))) {
        struct task_queue *q = container_of(node, struct task_queue, link);

        ASSERT(q->live_tasks == 0 && run_queue_empty(&q->ready));
        if (q != &s->default_queue)
            rt__free(q);
    }
}

struct task_queue *rt__scheduler_find(struct scheduler *s, int id)
{
    struct list_node *node;

    for (node = s->queues.next; node != &s->queues; node = node->next) {
        struct task_queue *q = container_of(node, struct task_queue, link);

        if (q->id == id)
            return q;
    }
    return NULL;
}

/* ------------------------------------------------------------- scheduling */

/*
 * A latency queue that wakes with more debt than its latency is let off the
 * rest, unless it was let off recently: FORGIVE_FACTOR times the running
 * time it was let off last, and at least FORGIVE_MIN_NS, must have passed.
 * Then it can take no more than a tenth of the time beyond its share,
 * however its tasks behave, and a queue that wakes every microsecond is
 * not let off its few nanoseconds of debt at every wake.
 */
#define FORGIVE_FACTOR 10u
#define FORGIVE_MIN_NS UINT64_C(1000000)

static void forgive_debt(struct scheduler *s, struct task_queue *q, uint64_t now)
{
    uint64_t excess = q->vruntime - s->min_vruntime - q->latency_ns; /* the debt let off */
    uint64_t ran = (excess / VRUNTIME_SCALE + 1) * q->shares; /* that much running, rounded up */
    uint64_t wait = ran > UINT64_MAX / FORGIVE_FACTOR ? UINT64_MAX : ran * FORGIVE_FACTOR;

    if (wait < FORGIVE_MIN_NS)
        wait = FORGIVE_MIN_NS;
    q->vruntime -= excess;
    q->forgive_after = wait > UINT64_MAX - now ? UINT64_MAX : now + wait;
}

/* When `q` must start for its latency: by its deadline, or once the running queue has caught up. */
static uint64_t start_by(const struct scheduler *s, const struct task_queue *q)
{
    const struct task_queue *run = s->running;
    uint64_t deadline = q->ready_since + q->latency_ns, behind, caught_up;

    if (!run || q->vruntime <= run->vruntime)
        return deadline;
    /* Running this long (rounded up) takes `run` as far as `q`; `q` wins the tie. */
    behind = q->vruntime - run->vruntime;
    caught_up = (behind / VRUNTIME_SCALE + 1) * run->shares;
    if (caught_up > UINT64_MAX - s->running_since)
        return UINT64_MAX;
    return deadline > s->running_since + caught_up ? deadline : s->running_since + caught_up;
}

uint64_t rt__scheduler_push(struct scheduler *s, struct task_queue *q, struct rt_task *t)
{
    bool had_work = !run_queue_empty(&q->ready);
    uint64_t now;

    if (s->yielder && s->yielder->queue == q)
        run_queue_push_before(&q->ready, t, s->yielder);
    else
        run_queue_push(&q->ready, t);
    s->ready_tasks++;
    if (had_work || q == s->running)
        return 0;
    /* No credit: it wakes up no further behind than the others. It keeps its debt (see above). */
    now = now_ns();
    if (q->vruntime < s->min_vruntime)
        q->vruntime = s->min_vruntime;
    else if (q->latency_ns && q->vruntime - s->min_vruntime > q->latency_ns &&
             now >= q->forgive_after)
        forgive_debt(s, q, now);
    q->ready_since = now;
    return q->latency_ns ? start_by(s, q) : 0;
}

struct rt_task *rt__scheduler_pop(struct scheduler *s, struct task_queue *q)
{
    struct rt_task *t = run_queue_pop(&q->ready);

    if (t)
        s->ready_tasks--;
    return t;
}

struct task_queue *rt__scheduler_pick(struct scheduler *s, uint64_t now)
{
    struct task_queue *best = NULL;
    struct list_node *node;
    uint64_t waited;

    for (node = s->queues.next; node != &s->queues; node = node->next) {
        struct task_queue *q = container_of(node, struct task_queue, link);

        if (run_queue_empty(&q->ready))
            continue;
        /* The least virtual runtime; on a tie, the queue that has waited longest. */
        if (!best || q->vruntime < best->vruntime ||
            (q->vruntime == best->vruntime && q->ready_since < best->ready_since))
            best = q;
    }
    if (!best)
        return NULL;
    waited = now > best->ready_since ? now - best->ready_since : 0;
    best->stats.waiting_ns += waited;
    if (waited > best->stats.max_wait_ns)
        best->stats.max_wait_ns = waited;
    if (best->vruntime > s->min_vruntime)
        s->min_vruntime = best->vruntime;
    s->running = best;
    s->running_since = now;
    return best;
}

void rt__scheduler_charge(struct scheduler *s, uint64_t ran_ns, uint64_t now)
{
    struct task_queue *q = s->running;

    q->vruntime += ran_ns * VRUNTIME_SCALE / q->shares;
    q->stats.runtime_ns += ran_ns;
    q->stats.vruntime = q->vruntime;
    /* Still work to do: from now on it waits for its next turn. */
    q->ready_since = now;
    s->running = NULL;
}

uint64_t rt__scheduler_latency_deadline(const struct scheduler *s)
{
    uint64_t deadline = UINT64_MAX;
    struct list_node *node;

    for (node = s->queues.next; node != &s->queues; node = node->next) {
        const struct task_queue *q = container_of(node, struct task_queue, link);
        uint64_t by;

        if (q == s->running || !q->latency_ns || run_queue_empty(&q->ready))
            continue;
        by = start_by(s, q);
        if (by < deadline)
            deadline = by;
    }
    return deadline;
}

/* ------------------------------------------------------------ the public API */

int rt_task_queue_create(struct rt_executor *ex, const char *name, unsigned shares,
                         uint64_t latency_ns)
{
    struct scheduler *s;
    struct task_queue *q;

    if (!ex)
        rt__die("rt_task_queue_create: the executor is NULL");
    if (!name || strlen(name) >= RT_TASK_QUEUE_NAME_MAX || shares < RT_SHARES_MIN ||
        shares > RT_SHARES_MAX || latency_ns > RT_LATENCY_MAX)
        return -EINVAL;
    s = rt__executor_scheduler(ex);
    if (s->next_id == INT32_MAX)
        return -EINVAL; /* two billion queues made: ids would be reused */
    q = rt__malloc(sizeof(*q));
    queue_init(q, s->next_id++, name, shares, latency_ns);
    /* A new queue starts level with the others, not with a lifetime of credit. */
    q->vruntime = s->min_vruntime;
    list_push_back(&s->queues, &q->link);
    RT_TRACE(rt__trace_task_queue(rt__executor_trace_id(ex), q->id, q->name, shares, latency_ns));
    return q->id;
}

int rt_task_queue_remove(struct rt_executor *ex, int queue)
{
    struct task_queue *q;

    if (!ex)
        rt__die("rt_task_queue_remove: the executor is NULL");
    if (queue == RT_TASK_QUEUE_DEFAULT)
        return -EINVAL;
    q = rt__scheduler_find(rt__executor_scheduler(ex), queue);
    if (!q)
        return -ENOENT;
    if (q->live_tasks > 0)
        return -EBUSY;
    list_remove(&q->link);
    rt__free(q);
    return 0;
}

int rt_task_queue_stats(struct rt_executor *ex, int queue, struct rt_task_queue_stats *out)
{
    struct task_queue *q;

    if (!ex || !out)
        rt__die("rt_task_queue_stats: the executor or the output is NULL");
    q = rt__scheduler_find(rt__executor_scheduler(ex), queue);
    if (!q)
        return -ENOENT;
    *out = q->stats;
    out->vruntime = q->vruntime;
    return 0;
}

int rt_spawn_into(int queue, const struct rt_future *f, size_t size, struct rt_join_handle *out)
{
    struct rt_executor *ex = rt_executor_current();
    struct task_queue *q;
    struct rt_task *t;

    ASSERT_ARG(f);
    ASSERT_ARG(out);
    if (!ex)
        rt__die("rt_spawn_into: no executor is running on this thread; spawn from inside a task");
    q = rt__scheduler_find(rt__executor_scheduler(ex), queue);
    if (!q)
        return -ENOENT;
    t = rt__task_new(ex, q, f, size);
    rt__task_schedule(t);
    *out = rt__join_handle_new(t);
    return 0;
}

int rt_task_queue_current(void)
{
    struct rt_executor *ex = rt_executor_current();
    struct task_queue *q = ex ? rt__executor_scheduler(ex)->running : NULL;

    return q ? q->id : -ENOENT;
}
