/*
 * store.c - the hash table behind one shard. See store.h.
 *
 * Chained buckets, a power of two of them, doubled when there are more keys
 * than buckets, and cut down when fewer than one in eight holds a key
 * (store_shrink(), which the shard's sweeper calls every 100 ms, as Redis
 * resizes its tables from its periodic cron). Resizing rehashes every key at
 * once: simple, and a pause of a few milliseconds per million keys (or
 * buckets); Redis avoids even that pause by moving a few buckets per
 * operation (incremental rehashing).
 *
 * The hash is plain 64-bit FNV-1a, and the buckets use its low bits. It is
 * where rt_shard_of() starts, not what it uses: rt_shard_of() mixes the FNV-1a
 * hash with MurmurHash3's fmix64 finalizer and picks the shard from the top
 * 32 bits of the result (mesh.c), so the keys one shard owns are not chosen
 * by their low FNV-1a bits, and they still spread evenly over the buckets
 * (checked: "key:0" to "key:399999" on one shard of 1 to 8, in 16,384
 * buckets, fill them as evenly as random numbers would). (Redis uses SipHash
 * with a random key, so that a client cannot choose keys that all fall into
 * one bucket; FNV-1a does not protect against that.)
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BUCKETS_MIN 16
#define SPARSE      8 /* shrink when there are fewer keys than buckets / SPARSE */

/* Redis's active expiry: a sample of 20 keys, and one more while over 25% had expired. */
#define SAMPLE         20
#define SAMPLE_BUCKETS (SAMPLE * 20) /* at most this many buckets looked at per sample */

struct kv_value *kv_value_new(const void *bytes, size_t len)
{
    struct kv_value *v = xmalloc(sizeof(*v) + len);

    v->refs = 1;
    v->len = len;
    memcpy(v->bytes, bytes, len);
    return v;
}

void kv_value_unref(struct kv_value *v)
{
    if (--v->refs == 0)
        free(v);
}

static uint64_t hash_key(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = UINT64_C(14695981039346656037);

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static void alloc_buckets(struct kv_store *s, size_t n)
{
    s->buckets = calloc(n, sizeof(*s->buckets));
    if (!s->buckets) {
        fprintf(stderr, "kv_server: out of memory for %zu hash buckets\n", n);
        abort();
    }
    s->mask = n - 1;
}

void store_init(struct kv_store *s)
{
    *s = (struct kv_store){0};
    alloc_buckets(s, BUCKETS_MIN);
}

static void free_entry(struct kv_entry *e)
{
    kv_value_unref(e->value);
    free(e);
}

static void free_all(struct kv_store *s, bool check)
{
    for (size_t b = 0; b <= s->mask; b++) {
        struct kv_entry *e = s->buckets[b], *next;

        for (; e; e = next) {
            next = e->next;
            if (check && e->value->refs != 1) {
                fprintf(stderr, "kv_server: a value of key %.*s is still lent out at shutdown\n",
                        (int)e->klen, e->key);
                abort();
            }
            free_entry(e);
        }
    }
    free(s->buckets);
}

void store_free(struct kv_store *s)
{
    free_all(s, true);
    *s = (struct kv_store){0};
}

/* Move every entry to its chain in a new table of `n` buckets, a power of two. */
static void resize(struct kv_store *s, size_t n)
{
    struct kv_entry **old = s->buckets;
    size_t old_n = s->mask + 1;

    alloc_buckets(s, n);
    for (size_t b = 0; b < old_n; b++) {
        struct kv_entry *e = old[b], *next;

        for (; e; e = next) {
            next = e->next;
            e->next = s->buckets[e->hash & s->mask];
            s->buckets[e->hash & s->mask] = e;
        }
    }
    free(old);
    /*
     * The sweep goes on where it was: bucket `cursor` of the old table is now
     * part of bucket `cursor & mask` (a smaller table), or spread over
     * buckets from `cursor` on (a larger one, where the mask changes nothing).
     */
    s->cursor &= s->mask;
}

bool store_shrink(struct kv_store *s)
{
    size_t n = BUCKETS_MIN;

    if (s->mask + 1 <= BUCKETS_MIN || s->count >= (s->mask + 1) / SPARSE)
        return false;
    while (n < s->count * 2) /* half full at most: keys can come back before it grows again */
        n *= 2;
    resize(s, n);
    return true;
}

/* Where the link to `e` is: the bucket's head or the previous entry's next. */
static struct kv_entry **link_to(struct kv_store *s, struct kv_entry *e)
{
    struct kv_entry **l = &s->buckets[e->hash & s->mask];

    while (*l != e)
        l = &(*l)->next;
    return l;
}

void store_delete(struct kv_store *s, struct kv_entry *e)
{
    *link_to(s, e) = e->next;
    s->count--;
    if (e->expire_at)
        s->with_expiry--;
    free_entry(e);
}

/* Gone once its millisecond has passed: a key set to expire at `now` still answers (PTTL 0). */
static bool expired(const struct kv_entry *e, int64_t now)
{
    return e->expire_at != 0 && e->expire_at < now;
}

struct kv_entry *store_find(struct kv_store *s, const void *key, size_t klen, int64_t now)
{
    uint64_t h = hash_key(key, klen);
    struct kv_entry *e = s->buckets[h & s->mask];

    for (; e; e = e->next) {
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            if (!expired(e, now))
                return e;
            store_delete(s, e); /* lazy expiry: its time has passed, so it is not there */
            s->expired++;
            return NULL;
        }
    }
    return NULL;
}

struct kv_entry *store_add(struct kv_store *s, const void *key, size_t klen, struct kv_value *v)
{
    struct kv_entry *e = xmalloc(sizeof(*e) + klen);

    e->hash = hash_key(key, klen);
    e->expire_at = 0;
    e->value = v;
    e->klen = klen;
    memcpy(e->key, key, klen);
    if (s->count >= s->mask + 1)
        resize(s, (s->mask + 1) * 2);
    e->next = s->buckets[e->hash & s->mask];
    s->buckets[e->hash & s->mask] = e;
    s->count++;
    return e;
}

void store_replace(struct kv_entry *e, struct kv_value *v)
{
    kv_value_unref(e->value);
    e->value = v;
}

void store_set_expire(struct kv_store *s, struct kv_entry *e, int64_t at)
{
    s->with_expiry += (at != 0) - (e->expire_at != 0);
    e->expire_at = at;
}

void store_flush(struct kv_store *s)
{
    uint64_t expired_before = s->expired, swept_before = s->swept;

    free_all(s, false); /* a value lent out stays alive: its count is above one */
    store_init(s);
    s->expired = expired_before;
    s->swept = swept_before; /* counts on, for a sweep under way */
}

/*
 * One sample: walk buckets from the cursor until SAMPLE keys with an expire
 * time have been looked at (or SAMPLE_BUCKETS buckets), deleting the expired
 * ones. Returns how many were deleted; *looked says how many were looked at,
 * *keys how many keys the buckets held, with an expire time or not.
 */
static size_t expire_sample(struct kv_store *s, int64_t now, size_t *looked, size_t *keys)
{
    size_t deleted = 0;

    *looked = *keys = 0;
    for (size_t b = 0; b < SAMPLE_BUCKETS && *looked < SAMPLE; b++) {
        struct kv_entry *e = s->buckets[s->cursor], *next;

        for (; e; e = next) {
            next = e->next;
            ++*keys;
            if (!e->expire_at)
                continue;
            ++*looked;
            if (expired(e, now)) {
                store_delete(s, e);
                s->expired++;
                deleted++;
            }
        }
        s->cursor = (s->cursor + 1) & s->mask;
        s->swept++;
    }
    return deleted;
}

size_t store_expire_cycle(struct kv_store *s, int64_t now, unsigned rounds, bool *more)
{
    size_t total = 0, deleted, looked, keys;

    *more = false;
    while (rounds-- > 0 && s->with_expiry > 0) {
        deleted = expire_sample(s, now, &looked, &keys);
        total += deleted;
        /*
         * A quarter or less had expired: stop. A sample of empty buckets says
         * nothing (most keys have just been deleted, and the table shrinks only
         * between sweeps): go on, so that the last expired keys are found too. One of
         * keys without an expire time stops, as a clean one does: in a table of
         * such keys, a few with one would have the sweep walk it all, always.
         */
        *more = keys == 0 || deleted * 4 > looked;
        if (!*more)
            break;
    }
    *more = *more && s->with_expiry > 0;
    return total;
}
