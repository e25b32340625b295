/*
 * store.h - one shard's keys: a hash table of binary-safe keys and values,
 * each key with an optional expire time.
 *
 * A store belongs to one shard, and only that shard's thread ever touches it:
 * no locks anywhere. Other shards reach these keys by sending this shard a
 * message (server.c).
 *
 * Values are immutable and reference counted, so that a reply can carry a
 * value without copying it while the key is changed or deleted behind it:
 * GET takes a reference, SET puts a new value in the entry and drops the
 * table's reference to the old one, and the old bytes are freed when the last
 * reply that needed them lets go. A value may be lent to another shard, which
 * reads its bytes and sends it back (server.c); the count itself is only ever
 * changed by the shard that allocated the value, so it needs no atomics.
 *
 * Expiry, as in Redis: a key whose time has passed is deleted when it is
 * next looked up (lazily), and a sweep (store_expire_cycle, in steps) finds
 * the ones nobody looks up, so that they do not hold memory forever. The
 * sweeper (server.c) takes steps for as long as they keep finding expired
 * keys, so it deletes them as fast as they are written.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_value {
    unsigned refs; /* the entry holding it, and each reply still to be sent from it */
    size_t len;    /* bytes */
    char bytes[];  /* any bytes, NUL included */
};

struct kv_entry {
    struct kv_entry *next;  /* the next entry in its bucket */
    uint64_t hash;          /* of the key: kept so that growing the table need not rehash */
    int64_t expire_at;      /* Unix time in ms after which the key is gone; 0: never */
    struct kv_value *value; /* one reference, the entry's */
    size_t klen;            /* key bytes */
    char key[];             /* any bytes */
};

struct kv_store {
    struct kv_entry **buckets; /* chains of entries */
    size_t mask;               /* number of buckets - 1 (a power of two) */
    size_t count;              /* keys (expired ones not yet deleted included, as in Redis) */
    size_t with_expiry;        /* keys with an expire time: the sweep has work only if > 0 */
    size_t cursor;             /* the bucket where the next sweep starts */
    uint64_t swept;            /* buckets the sweep has walked, ever (a sweep walks one pass) */
    uint64_t expired;          /* keys deleted because their time had passed */
};

/* A value holding a copy of `len` bytes, with one reference. */
struct kv_value *kv_value_new(const void *bytes, size_t len);

static inline struct kv_value *kv_value_ref(struct kv_value *v)
{
    v->refs++;
    return v;
}

void kv_value_unref(struct kv_value *v); /* frees it with its last reference */

void store_init(struct kv_store *s);
/* Free every key. Every value must be back with only the table's reference. */
void store_free(struct kv_store *s);

/* The entry for `key`, or NULL; a key whose time has passed is deleted, and not found. */
struct kv_entry *store_find(struct kv_store *s, const void *key, size_t klen, int64_t now);

/* Add `key`, which must not be there, holding `v` (its reference is taken over); no expiry. */
struct kv_entry *store_add(struct kv_store *s, const void *key, size_t klen, struct kv_value *v);

/* Put `v` (its reference taken over) in the entry; the old value's reference is dropped. */
void store_replace(struct kv_entry *e, struct kv_value *v);

/* Give the entry an expire time (Unix ms), or none (0). */
void store_set_expire(struct kv_store *s, struct kv_entry *e, int64_t at);

void store_delete(struct kv_store *s, struct kv_entry *e);

/* Delete every key. */
void store_flush(struct kv_store *s);

/*
 * Give back most of the table when it has become sparse: with more than the
 * fewest buckets (16) and fewer keys than an eighth of them, the keys move
 * to the smallest table that they fill at most half. Whether it shrank. Not in the
 * middle of a walk over the buckets: the chains change.
 */
bool store_shrink(struct kv_store *s);

/*
 * One step of active expiry: delete keys whose time has passed, looking at
 * no more than `rounds` samples of 20 keys with an expire time. It stops
 * early at a sample a quarter or less of which had expired: the keys are
 * mostly alive, and looking further is not worth it now. Returns how many
 * were deleted; *more says whether another step is worth taking at once
 * (the step ran out of rounds while its samples still found more than a
 * quarter expired, or found its buckets empty).
 */
size_t store_expire_cycle(struct kv_store *s, int64_t now, unsigned rounds, bool *more);

#endif /* KV_STORE_H */
