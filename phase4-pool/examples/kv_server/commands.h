/*
 * commands.h - the commands: what each one checks, does to the keys of one
 * shard, and replies, byte for byte as Redis 7.0 does.
 *
 * A command runs in three steps, because its keys may live on other shards:
 *
 *   1. cmd_prepare(), on the shard that received it: look the command up,
 *      check its arity and arguments (syntax, integers, expire times), and
 *      say which shard owns each key (res[i].owner).
 *   2. cmd_apply(), on each shard that owns some of its keys, possibly at
 *      the same time on several shards: do the command's work on those keys
 *      only, writing res[i] for each of them.
 *   3. cmd_reply(), back on the receiving shard once every owner has
 *      applied: write the reply from the results.
 *
 * A command without keys (PING, HELLO, CONFIG GET, ...) does everything in
 * step 3. Errors found in step 1 (unknown command, wrong arity, syntax) are
 * written in step 3 too, so that every reply goes out in request order.
 */
#ifndef KV_COMMANDS_H
#define KV_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"
#include "store.h"

/* The server's settings, read-only once the shards run. */
struct kv_config {
    const char *host;
    int port;
    unsigned shards;
    size_t max_bulk;   /* --max-bulk, Redis's proto-max-bulk-len */
    size_t max_query;  /* --max-query, Redis's client-query-buffer-limit */
    size_t max_output; /* --max-output: replies waiting to be sent, past which reading stops */
};

/* What the commands know of a connection. */
struct kv_client {
    const struct kv_config *cfg;
    long long id;     /* unique among the server's connections (CLIENT ID, HELLO) */
    char *name;       /* CLIENT SETNAME's, allocated; NULL: none */
    size_t name_len;  /* its bytes */
    bool close_after; /* QUIT: close once the replies so far are sent */
};

/* What one shard did for one key (or, for DBSIZE and FLUSHALL, for all its keys). */
struct kv_result {
    unsigned owner;         /* the shard that owns the key: set in step 1 */
    struct kv_value *value; /* a value lent by `owner` (a reference), or NULL (nil) */
    long long n;            /* an integer result, or SET's 1 (done) / 0 (not done) */
    const char *error;      /* a reply error (a static string), or NULL */
};

struct kv_command;

/* One request, from step 1 until its reply is written. */
struct kv_request {
    const struct kv_command *cmd; /* NULL: rejected in step 1 (see `reject`) */
    size_t argc;
    struct resp_arg *argv; /* its arguments: argv_small, or allocated */
    struct resp_arg argv_small[4];
    int reject;            /* why step 1 refused it (REJECT_*, commands.c), or 0 */
    const char *error;     /* for REJECT_ERROR: the error text */
    int flags;             /* SET's options */
    long long arg;         /* SET's expire time (Unix ms), INCRBY's amount */
    size_t nres;           /* results: one per key, or one per shard */
    struct kv_result *res; /* res_small, or allocated */
    struct kv_result res_small[1];
};

/* What step 1 decided. */
enum cmd_route {
    ROUTE_NONE,  /* nothing to apply: the reply needs no shard (no keys, or an error) */
    ROUTE_KEYS,  /* apply on the owners of res[] */
    ROUTE_QUIT,  /* nothing to apply, and read no request after this one (QUIT) */
    ROUTE_CLOSE, /* drop the connection at once, unanswered (see commands.c) */
};

/* Step 1, for a request of `argc` >= 1 arguments (copied into r) on a server of `shards`. */
enum cmd_route cmd_prepare(struct kv_request *r, size_t argc, const struct resp_arg *argv,
                           unsigned shards, int64_t now);

/* A request that is only an error reply (a protocol error): `reply` is "-ERR ...\r\n" and
 * must outlive the request. */
void cmd_error(struct kv_request *r, const char *reply);

/* Step 2, on shard `me`: the keys of r that `me` owns (none: nothing to do, whatever r is). */
void cmd_apply(struct kv_request *r, unsigned me, struct kv_store *s, int64_t now);

/* Step 3. Keyless commands act on the client here (CLIENT SETNAME, QUIT). */
void cmd_reply(struct kv_request *r, struct kv_client *c, struct resp_out *out);

/* Free what r allocated (argv, res). Its lent values must have been given back first. */
void cmd_done(struct kv_request *r);

/* The number of commands (COMMAND COUNT). */
size_t cmd_count(void);

#endif /* KV_COMMANDS_H */
