/*
 * pool.h - a pool of executors, one per core: thread-per-core as a whole
 * program. New in phase 4.
 *
 * rt_pool_start() starts N threads, places each on its CPU (placement.h),
 * makes an executor on each, and runs on each a main future that the
 * caller's function builds for that shard. Shards share nothing; they talk
 * through a mesh of channels (mesh.h) that the pool makes for them.
 *
 * Starting is all or nothing. No shard's future runs until every thread and
 * every executor exists (a latch); if one cannot be made (a bad CPU, a ring
 * the kernel refuses), none runs, every thread that did start is joined, and
 * rt_pool_start() returns the -errno with rt_last_error() naming the shard
 * and the cause.
 *
 * When a shard's main future finishes, the pool drops the tasks it left
 * behind and closes the shard's mesh ends, so its peers see -EPIPE or the
 * end instead of waiting forever, and keeps its executor until every shard
 * has got that far (a peer may still ring its doorbell until then, even
 * from a dropped task that closes a channel); then each executor is
 * destroyed on its thread.
 */
#ifndef RT_POOL_H
#define RT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "mesh.h"
#include "placement.h"

struct rt_pool;

/* How to start a pool. Start from RT_POOL_BUILDER_INIT and change what you need. */
struct rt_pool_builder {
    unsigned shards;               /* executors to start; 0: one per CPU of a custom list or a
                                      fence, else one per usable CPU */
    struct rt_placement placement; /* where they run; zeroed: unbound */
    struct rt_builder executor;    /* how to make each one; its `cpu` is the placement's to set */
    const char *name;              /* threads are "<name>-<shard>", cut to 15 characters (Linux's
                                      limit); NULL: "shard" */
    size_t mesh_capacity;          /* slots per channel of the mesh; 0: no mesh */
    size_t mesh_msg_size;          /* bytes per mesh message */
};

#define RT_POOL_BUILDER_INIT        \
    {                               \
        .executor = RT_BUILDER_INIT \
    }

/* Bytes a shard's main future may take (see rt_shard_fn). */
#define RT_SHARD_FUTURE_MAX 4096

/*
 * Build shard `shard`'s main future in `buf` (RT_SHARD_FUTURE_MAX bytes,
 * aligned for any type) and return its size. Called on the shard's own
 * thread, once every shard's executor exists, just before it runs: that
 * may be after rt_pool_start() has returned, so `arg`, and what it points
 * to, must stay valid until rt_pool_join() (not a local of a function that
 * returns before the join).
 */
typedef size_t (*rt_shard_fn)(unsigned shard, void *arg, void *buf);

/*
 * Start the pool. Returns 0 and the pool in *out, or -errno (-EINVAL for a
 * placement that cannot be met or builder fields out of range; -ENOMEM for
 * a mesh too big for the machine's memory (mesh.h); the error
 * of a topology that cannot be read, as rt_topology_read() gives it; the
 * error of a shard whose thread or executor could not be made) and NULL in *out,
 * with rt_last_error() saying which shard and why.
 */
int rt_pool_start(const struct rt_pool_builder *b, rt_shard_fn make, void *arg,
                  struct rt_pool **out);

/* Wait for every shard; outputs[k] (if outputs is not NULL) gets shard k's output. Frees the pool.
 */
void rt_pool_join(struct rt_pool *p, intptr_t *outputs);

/* The number of shards. */
unsigned rt_pool_shards(const struct rt_pool *p);

/* Inside a shard: its index (-1 on a thread that is not a shard), the count (0 there), and the
 * mesh (NULL there, or if the pool has none). */
int rt_shard_id(void);
unsigned rt_shard_count(void);
struct rt_mesh *rt_shard_mesh(void);

/* The CPU shard `shard` was placed on, or RT_CPU_ANY (unbound, fenced, or no such shard). */
int rt_pool_shard_cpu(const struct rt_pool *p, unsigned shard);

#endif /* RT_POOL_H */
