/*
 * mesh.h - a full mesh of channels among N shards, and a key's shard.
 * New in phase 4.
 *
 * Shard i talks to shard j through its own channel (i -> j), so every
 * channel keeps one sender and one receiver, as channel.h requires, and no
 * two shards ever contend for a channel. That is N * (N - 1) channels:
 * fine for the few dozen cores of one machine.
 *
 * A shard sends to one peer, and receives from whichever peer has sent
 * (rt_mesh_recv looks at its incoming channels in turn, so that one busy
 * peer cannot starve the others). When a shard finishes, it closes all its
 * ends (rt_mesh_close_shard, which the pool calls for it): its peers then
 * get -EPIPE when they send to it, and a receive reports the end once every
 * peer has closed and nothing is left, so nobody waits forever.
 */
#ifndef RT_MESH_H
#define RT_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "async.h"
#include "channel.h"

struct rt_mesh;

/*
 * Make the channels among `shards` shards (2 to 1024; 1 is allowed and has
 * none), each as rt_channel_create(capacity, msg_size) makes one. Returns 0,
 * -EINVAL for sizes out of range, or -ENOMEM if the slots of all N * (N - 1)
 * channels together would take more than the machine's memory.
 */
int rt_mesh_create(unsigned shards, size_t capacity, size_t msg_size, struct rt_mesh **out);

/* Free the mesh; every shard must have closed its ends. */
void rt_mesh_destroy(struct rt_mesh *m);

/* Shard `me` is done: close its sending and its receiving ends. Call it once per shard; a
 * second call finds them closed and does nothing. */
void rt_mesh_close_shard(struct rt_mesh *m, unsigned me);

unsigned rt_mesh_shards(const struct rt_mesh *m);

/* From shard `from` to shard `to` (not itself). Output: 0, or -EPIPE if `to` has closed. */
struct rt_mesh_send {
    struct rt_channel_send send; /* private */
};
void rt_mesh_send(struct rt_mesh_send *f, struct rt_mesh *m, unsigned from, unsigned to,
                  const void *msg);

/* For shard `me`: the next message from any peer. Output: the sender's index, or -EPIPE once every
 * peer has closed and nothing is left. */
struct rt_mesh_recv {
    struct rt_async async; /* private, all of it */
    struct rt_mesh *m;
    unsigned me;
    void *msg_out;
    struct rt_wait_notify wait;
    intptr_t res;
};
void rt_mesh_recv(struct rt_mesh_recv *f, struct rt_mesh *m, unsigned me, void *msg_out);

/*
 * The shard that owns `key`: its 64-bit FNV-1a hash, finished with
 * MurmurHash3's 64-bit finalizer (fmix64, so that the top bits depend on
 * every byte), then the top 32 bits mapped onto [0, shards) by a
 * multiply-shift ((top * shards) >> 32), which needs no division. The same
 * key goes to the same shard in every process and on every machine.
 * `shards` must be at least 1, and `key` may be NULL only when `len` is 0:
 * otherwise the program stops with a message saying which.
 */
unsigned rt_shard_of(const void *key, size_t len, unsigned shards);

#endif /* RT_MESH_H */
