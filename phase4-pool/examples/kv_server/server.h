/*
 * server.h - one shard of kv_server, as the main future of one executor of
 * phase 4's pool (rt_pool_start).
 *
 * Every shard listens on the same port (SO_REUSEPORT), serves the
 * connections the kernel gives it, owns the keys rt_shard_of() gives it, and
 * asks the other shards, through the pool's mesh, to work on theirs. The
 * shard ends when the stop eventfd can be read: it stops accepting, closes its
 * connections, says goodbye to its peers and waits for theirs (server.c).
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <stddef.h>

#include "commands.h"

/* Bytes in one mesh message (struct msg in server.c). */
#define KV_MSG_SIZE 64

/* What main() gives every shard. Read-only while they run. */
struct kv_server {
    struct kv_config cfg;
    const int *listen_fds; /* one per shard: shard k accepts on listen_fds[k] */
    int stop_fd;           /* an eventfd in semaphore mode: main() writes the shard count */
};

/* The pool's rt_shard_fn: build shard `shard`'s main future (arg: the struct kv_server). */
size_t kv_shard_main(unsigned shard, void *arg, void *buf);

#endif /* KV_SERVER_H */
