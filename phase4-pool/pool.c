/*
 * pool.c - start N executors on N threads, all or nothing; run a future on
 * each; join them. New in phase 4.
 *
 * The start-up handshake is a latch: a counter under a mutex, and a
 * condition variable to wait on. It runs once per pool, so a lock is the
 * simple and right tool here; nothing on a hot path takes it.
 *
 * CPU affinity on a thread attribute is a GNU extension, hence _GNU_SOURCE.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fatal.h"

struct shard {
    struct rt_pool *pool; /* the pool it belongs to */
    unsigned index;       /* its number, 0 to N - 1 */
    int cpu;              /* where the placement put it, or RT_CPU_ANY */
    pthread_t thread;     /* its thread, once started */
    intptr_t output;      /* its main future's output */
    alignas(
        max_align_t) unsigned char future[RT_SHARD_FUTURE_MAX]; /* its main future, built there */
};

struct rt_pool {
    struct rt_pool_builder b; /* as given, with `shards` resolved */
    rt_shard_fn make;         /* builds each shard's main future */
    void *arg;                /* ... with this argument */
    struct rt_mesh *mesh;     /* the shards' channels, or NULL */
    struct shard *shards;     /* b.shards of them */
    unsigned started;         /* threads started */

    /* The latches. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned arrived;  /* shards that made (or failed to make) their executor */
    unsigned expected; /* shards that will arrive: all of them, unless a thread failed to start */
    bool failed;       /* some shard failed: nobody runs */
    int error;         /* the first failure's -errno */
    char why[512];     /* ... and what it was, naming the shard */
    unsigned finished; /* shards whose main future has finished, their tasks dropped */
};

/* The shard running on this thread, for rt_shard_id() and friends. */
static _Thread_local struct shard *this_shard;

/* ------------------------------------------------------------- latches */

/* Record the first failure: which shard, and why. Called with the lock held. */
static void record_failure(struct rt_pool *p, unsigned shard, int cpu, int err, const char *why)
{
    if (p->failed)
        return;
    p->failed = true;
    p->error = err;
    if (cpu == RT_CPU_ANY)
        snprintf(p->why, sizeof(p->why), "shard %u: %s", shard, why);
    else
        snprintf(p->why, sizeof(p->why), "shard %u (CPU %d): %s", shard, cpu, why);
}

/* Arrive at the start latch (err < 0: this shard failed) and wait for everyone. True: run. */
static bool arrive_and_wait(struct rt_pool *p, struct shard *s, int err, const char *why)
{
    bool run;

    pthread_mutex_lock(&p->lock);
    if (err < 0)
        record_failure(p, s->index, s->cpu, err, why);
    p->arrived++;
    pthread_cond_broadcast(&p->changed);
    while (p->arrived < p->expected)
        pthread_cond_wait(&p->changed, &p->lock);
    run = !p->failed;
    pthread_mutex_unlock(&p->lock);
    return run;
}

/*
 * A shard has finished, and dropped the tasks its main future left behind:
 * wait until all have. Until then a peer may ring this shard's doorbell
 * (channel.c), from a running task or from a dropped task's drop that closes
 * a channel, so no executor is destroyed before then.
 */
static void finish_and_wait(struct rt_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->finished++;
    pthread_cond_broadcast(&p->changed);
    while (p->finished < p->expected)
        pthread_cond_wait(&p->changed, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------- a shard */

static void *shard_main(void *arg)
{
    struct shard *s = arg;
    struct rt_pool *p = s->pool;
    struct rt_builder b = p->b.executor;
    struct rt_executor *ex = NULL;
    char name[16];
    size_t size;
    int err;

    snprintf(name, sizeof(name), "%s-%u", p->b.name ? p->b.name : "shard", s->index);
    pthread_setname_np(pthread_self(), name);
    this_shard = s;
    b.cpu = RT_CPU_ANY; /* the thread was placed when it was made */
    err = rt_executor_create(&b, &ex);
    if (!arrive_and_wait(p, s, err, rt_last_error())) {
        if (err == 0)
            rt_executor_destroy(ex);
        this_shard = NULL;
        return NULL;
    }
    size = p->make(s->index, p->arg, s->future);
    if (size < sizeof(struct rt_future) || size > RT_SHARD_FUTURE_MAX)
        rt__die("rt_pool: the shard function made shard %u a future of %zu bytes; it must be "
                "from %zu (a struct rt_future) to %d",
                s->index, size, sizeof(struct rt_future), RT_SHARD_FUTURE_MAX);
    s->output = rt_executor_run(ex, (const struct rt_future *)s->future, size);
    rt__executor_drop_tasks(ex);
    if (p->mesh)
        rt_mesh_close_shard(p->mesh, s->index);
    finish_and_wait(p);
    rt_executor_destroy(ex);
    this_shard = NULL;
    return NULL;
}

/* Start shard k's thread, on its CPU (or fenced) from its first instruction. */
static int start_thread(struct rt_pool *p, struct shard *s)
{
    const struct rt_placement *pl = &p->b.placement;
    pthread_attr_t attr;
    cpu_set_t set;
    int err = 0;

    pthread_attr_init(&attr);
    if (s->cpu != RT_CPU_ANY || pl->kind == RT_PLACEMENT_FENCED) {
        CPU_ZERO(&set);
        if (s->cpu != RT_CPU_ANY)
            CPU_SET(s->cpu, &set);
        else
            for (size_t i = 0; i < pl->ncpus; i++)
                CPU_SET(pl->cpus[i], &set);
        err = -pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    if (err == 0)
        err = -pthread_create(&s->thread, &attr, shard_main, s);
    pthread_attr_destroy(&attr);
    return err;
}

/* ------------------------------------------------------------- the pool */

static void pool_free(struct rt_pool *p)
{
    if (p->mesh)
        rt_mesh_destroy(p->mesh);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    rt__free(p->shards);
    rt__free(p);
}

/* How many shards: as asked; else one per entry of a custom list or a fence; else one per CPU. */
static int count_shards(const struct rt_pool_builder *b, char *why, size_t why_len)
{
    enum rt_placement_kind kind = b->placement.kind;
    int n;

    if (b->shards > 0)
        return b->shards > 1024 ? -EINVAL : (int)b->shards;
    if ((kind == RT_PLACEMENT_CUSTOM || kind == RT_PLACEMENT_FENCED) && b->placement.ncpus > 0)
        return b->placement.ncpus > 1024 ? -EINVAL : (int)b->placement.ncpus;
    n = rt_topology_read(&b->placement, NULL, 0, why, why_len);
    if (n == 0)
        snprintf(why, why_len,
                 "one shard per usable CPU, and there is none: no online CPU is in the allowed set "
                 "(the affinity mask, or the placement's `allowed` list)");
    return n == 0 ? -EINVAL : n;
}

int rt_pool_start(const struct rt_pool_builder *b, rt_shard_fn make, void *arg,
                  struct rt_pool **out)
{
    struct rt_pool *p;
    char why[512] = "";
    int *cpus, n, err;

    if (!b || !make || !out)
        rt__die("rt_pool_start: the builder, the shard function and the output must not be NULL");
    *out = NULL; /* until the pool has started */
    n = count_shards(b, why, sizeof(why));
    if (n < 0) {
        rt__set_last_error("%s", why[0] ? why : "the shard count must be 1 to 1024");
        return n;
    }
    p = rt__calloc(1, sizeof(*p));
    p->b = *b;
    p->b.shards = (unsigned)n;
    p->make = make;
    p->arg = arg;
    p->shards = rt__calloc((size_t)n, sizeof(*p->shards));
    p->expected = (unsigned)n;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);

    cpus = rt__calloc((size_t)n, sizeof(int));
    err = rt_placement_plan(&b->placement, (unsigned)n, cpus, why, sizeof(why));
    for (int k = 0; k < n; k++) {
        p->shards[k].pool = p;
        p->shards[k].index = (unsigned)k;
        p->shards[k].cpu = cpus[k];
    }
    rt__free(cpus);
    if (err == 0 && b->mesh_capacity > 0) {
        err = rt_mesh_create((unsigned)n, b->mesh_capacity, b->mesh_msg_size, &p->mesh);
        if (err < 0)
            snprintf(why, sizeof(why), "mesh of %zu slots of %zu bytes: %s", b->mesh_capacity,
                     b->mesh_msg_size,
                     err == -ENOMEM ? "its channels together would take more than the machine's "
                                      "memory"
                                    : "sizes out of range");
    }
    if (err < 0) {
        rt__set_last_error("%s", why);
        pool_free(p);
        return err;
    }

    for (p->started = 0; p->started < (unsigned)n; p->started++) {
        struct shard *s = &p->shards[p->started];

        err = start_thread(p, s);
        if (err < 0) {
            snprintf(why, sizeof(why), "its thread could not be started: %s", strerror(-err));
            /* The others must not wait for shards that will never arrive. */
            pthread_mutex_lock(&p->lock);
            record_failure(p, s->index, s->cpu, err, why);
            p->expected = p->started;
            pthread_cond_broadcast(&p->changed);
            pthread_mutex_unlock(&p->lock);
            break;
        }
    }

    /* Wait at the latch as an observer: every started shard has arrived. */
    pthread_mutex_lock(&p->lock);
    while (p->arrived < p->expected)
        pthread_cond_wait(&p->changed, &p->lock);
    pthread_mutex_unlock(&p->lock);
    if (p->failed) {
        for (unsigned k = 0; k < p->started; k++)
            pthread_join(p->shards[k].thread, NULL);
        /* Nobody ran: the mesh is untouched, and its ends are ours to close. */
        for (unsigned k = 0; p->mesh && k < (unsigned)n; k++)
            rt_mesh_close_shard(p->mesh, k);
        rt__set_last_error("%s", p->why);
        err = p->error;
        pool_free(p);
        return err;
    }
    rt__set_last_error("%s", ""); /* a failure before this one is not this start's */
    *out = p;
    return 0;
}

void rt_pool_join(struct rt_pool *p, intptr_t *outputs)
{
    ASSERT_ARG(p);
    for (unsigned k = 0; k < p->b.shards; k++) {
        pthread_join(p->shards[k].thread, NULL);
        if (outputs)
            outputs[k] = p->shards[k].output;
    }
    pool_free(p);
}

unsigned rt_pool_shards(const struct rt_pool *p)
{
    ASSERT_ARG(p);
    return p->b.shards;
}

int rt_pool_shard_cpu(const struct rt_pool *p, unsigned shard)
{
    ASSERT_ARG(p);
    return shard < p->b.shards ? p->shards[shard].cpu : RT_CPU_ANY;
}

int rt_shard_id(void)
{
    return this_shard ? (int)this_shard->index : -1;
}

unsigned rt_shard_count(void)
{
    return this_shard ? this_shard->pool->b.shards : 0;
}

struct rt_mesh *rt_shard_mesh(void)
{
    return this_shard ? this_shard->pool->mesh : NULL;
}
