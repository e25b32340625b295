/*
 * tests/test_kv_store.c - kv_server's store on its own, with a clock the
 * test chooses.
 *
 * The other kv tests talk to a running server, whose clock they cannot set,
 * so they cannot ask what a key does in the very millisecond it expires.
 * This file compiles the store into the test and passes `now` by hand.
 *
 * Cases: a key whose expire time is `now` is still there (Redis's rule: a
 * key is gone once now > its time, so PTTL can answer 0), and gone one
 * millisecond later, for a lookup and for the sweep alike; taking a key's
 * expire time away counts it out of the keys the sweep looks for; a sample
 * of the sweep stops after 20 keys with an expire time. And the table
 * gives its buckets back once its keys are deleted or expire: it shrinks
 * exactly when fewer than an eighth of its buckets' worth of keys are left,
 * to a table those keys fill at most half, and every key left is still found.
 */
#include "harness.h"

#include "phase4-pool/examples/kv_server/store.c"

TEST_SINCE_PHASE(4);

#define AT 1700000000000LL /* some Unix time in ms */

/* A store holding one key "k" that expires at AT. */
static void one_key(struct kv_store *s)
{
    store_init(s);
    store_set_expire(s, store_add(s, "k", 1, kv_value_new("v", 1)), AT);
}

START_TEST(a_key_lives_through_its_expiry_millisecond)
{
    struct kv_store s;

    one_key(&s);
    ck_assert_ptr_nonnull(store_find(&s, "k", 1, AT - 1));
    ck_assert_ptr_nonnull(store_find(&s, "k", 1, AT));
    ck_assert_uint_eq(s.expired, 0);
    ck_assert_ptr_null(store_find(&s, "k", 1, AT + 1));
    ck_assert_uint_eq(s.expired, 1);
    ck_assert_uint_eq(s.count, 0);
    store_free(&s);
}
END_TEST

START_TEST(the_sweep_keeps_it_through_that_millisecond_too)
{
    struct kv_store s;
    bool more;

    one_key(&s);
    ck_assert_uint_eq(store_expire_cycle(&s, AT, 16, &more), 0);
    ck_assert_uint_eq(s.count, 1);
    ck_assert(!more);
    ck_assert_uint_eq(store_expire_cycle(&s, AT + 1, 16, &more), 1);
    ck_assert_uint_eq(s.count, 0);
    ck_assert(!more);
    ck_assert_uint_eq(s.with_expiry, 0);
    store_free(&s);
}
END_TEST

/*
 * with_expiry counts the keys that have an expire time, and the sweep runs
 * while it is above zero: taking a key's time away (SET without options,
 * INCR of a key that has none) must count it out, or the shard sweeps for
 * ever a table in which nothing can expire. Changing a time must not count
 * the key twice.
 */
START_TEST(taking_an_expire_time_away_uncounts_the_key)
{
    struct kv_store s;
    struct kv_entry *e;
    bool more;

    store_init(&s);
    e = store_add(&s, "k", 1, kv_value_new("v", 1));
    ck_assert_uint_eq(s.with_expiry, 0);
    store_set_expire(&s, e, AT + 5000);
    ck_assert_uint_eq(s.with_expiry, 1);
    store_set_expire(&s, e, AT + 6000);
    ck_assert_uint_eq(s.with_expiry, 1);
    store_set_expire(&s, e, 0);
    ck_assert_uint_eq(s.with_expiry, 0);
    store_set_expire(&s, e, 0);
    ck_assert_uint_eq(s.with_expiry, 0);
    /* Nothing to sweep: a cycle looks at no bucket. */
    ck_assert_uint_eq(store_expire_cycle(&s, AT, 16, &more), 0);
    ck_assert(!more);
    ck_assert_uint_eq(s.swept, 0);
    ck_assert_uint_eq(s.count, 1);
    store_free(&s);
}
END_TEST

/* Key number i, as "key:i"; its length. */
static size_t key_of(char *buf, size_t size, int i)
{
    return (size_t)snprintf(buf, size, "key:%d", i);
}

static void add_keys(struct kv_store *s, int from, int to, int64_t expire_at)
{
    char key[32];

    for (int i = from; i < to; i++) {
        size_t len = key_of(key, sizeof(key), i);

        store_set_expire(s, store_add(s, key, len, kv_value_new(key, len)), expire_at);
    }
}

static void delete_keys(struct kv_store *s, int from, int to)
{
    char key[32];

    for (int i = from; i < to; i++) {
        size_t len = key_of(key, sizeof(key), i);
        struct kv_entry *e = store_find(s, key, len, AT);

        ck_assert_ptr_nonnull(e);
        store_delete(s, e);
    }
}

/* Keys from..to-1 are there, each with its own name as its value. */
static void assert_keys(struct kv_store *s, int from, int to)
{
    char key[32];

    for (int i = from; i < to; i++) {
        size_t len = key_of(key, sizeof(key), i);
        struct kv_entry *e = store_find(s, key, len, AT);

        ck_assert_msg(e != NULL, "key %s went missing", key);
        ck_assert_uint_eq(e->value->len, len);
        ck_assert_mem_eq(e->value->bytes, key, len);
    }
}

START_TEST(a_table_emptied_by_deletes_shrinks_and_keeps_its_keys)
{
    struct kv_store s;

    store_init(&s);
    ck_assert(!store_shrink(&s)); /* empty, but already the smallest */
    ck_assert_uint_eq(s.mask + 1, 16);
    add_keys(&s, 0, 10000, 0);
    ck_assert_uint_eq(s.mask + 1, 16384);
    ck_assert(!store_shrink(&s));
    delete_keys(&s, 2048, 10000);
    ck_assert(!store_shrink(&s)); /* 2048 keys: an eighth of 16384, not fewer */
    ck_assert_uint_eq(s.mask + 1, 16384);
    delete_keys(&s, 100, 2048);
    ck_assert_uint_eq(s.count, 100);
    ck_assert(store_shrink(&s));
    ck_assert_uint_eq(s.mask + 1, 256); /* the smallest power of two >= 2 * 100 */
    ck_assert(!store_shrink(&s));
    assert_keys(&s, 0, 100);
    add_keys(&s, 100, 300, 0); /* and it grows again as before */
    ck_assert_uint_eq(s.mask + 1, 512);
    assert_keys(&s, 0, 300);
    store_free(&s);
}
END_TEST

START_TEST(one_key_fewer_than_an_eighth_shrinks_it)
{
    struct kv_store s;

    store_init(&s);
    add_keys(&s, 0, 4096, 0);
    ck_assert_uint_eq(s.mask + 1, 4096);
    delete_keys(&s, 511, 4096);
    ck_assert_uint_eq(s.count, 511);
    ck_assert(store_shrink(&s));
    ck_assert_uint_eq(s.mask + 1, 1024);
    assert_keys(&s, 0, 511);
    store_free(&s);
}
END_TEST

START_TEST(a_table_emptied_by_expiry_shrinks_and_the_sweep_goes_on)
{
    struct kv_store s;
    bool more;

    store_init(&s);
    add_keys(&s, 0, 100, 0);
    add_keys(&s, 100, 6000, AT);
    add_keys(&s, 6000, 6050, AT + 1000);
    ck_assert_uint_eq(s.mask + 1, 8192);
    /* Steps of a sweep, as the server takes them (and more sweeps, if one stops early). */
    for (int steps = 0; s.count > 150 && steps < 1000; steps++)
        store_expire_cycle(&s, AT + 1, 16, &more);
    ck_assert_uint_eq(s.count, 150);
    ck_assert_uint_eq(s.expired, 5900);
    ck_assert(store_shrink(&s));
    ck_assert_uint_eq(s.mask + 1, 512);
    ck_assert_uint_le(s.cursor, s.mask);
    assert_keys(&s, 0, 100);
    assert_keys(&s, 6000, 6050);
    /* The sweep still finds the rest when their time comes. */
    for (int steps = 0; s.with_expiry > 0 && steps < 1000; steps++)
        store_expire_cycle(&s, AT + 1001, 16, &more);
    ck_assert_uint_eq(s.count, 100);
    ck_assert_uint_eq(s.with_expiry, 0);
    store_free(&s);
}
END_TEST

/*
 * A sample stops once it has looked at SAMPLE keys with an expire time, not
 * after SAMPLE_BUCKETS buckets: Redis's active expiry looks at 20 keys per
 * sample. In a table of 4,096 buckets and as many keys, half of them with a
 * time that has not come, one round must walk exactly the buckets from the
 * cursor up to the one where the 20th such key is (worked out here from the
 * table itself, a few dozen buckets), and find nothing to delete. Had it
 * not counted the keys it looked at, it would walk all 400 buckets every
 * round, more than ten times as many.
 */
START_TEST(a_sample_stops_after_twenty_keys_with_a_time)
{
    struct kv_store s;
    size_t want = 0, looked = 0;
    bool more;

    store_init(&s);
    add_keys(&s, 0, 2048, 0);
    add_keys(&s, 2048, 4096, AT + 1000);
    ck_assert_uint_eq(s.mask + 1, 4096);
    ck_assert_uint_eq(s.cursor, 0);
    ck_assert_uint_eq(s.with_expiry, 2048);
    /* The buckets a sample walks: up to the one that brings the count of keys with a time to
     * SAMPLE, keys without one not counted. */
    while (want < SAMPLE_BUCKETS && looked < SAMPLE) {
        for (struct kv_entry *e = s.buckets[want]; e; e = e->next)
            looked += e->expire_at != 0;
        want++;
    }
    ck_assert_uint_ge(looked, SAMPLE);
    ck_assert_uint_lt(want, SAMPLE_BUCKETS / 4);
    ck_assert_uint_eq(store_expire_cycle(&s, AT, 1, &more), 0);
    ck_assert(!more); /* nothing had expired: the sweep is done for now */
    ck_assert_uint_eq(s.swept, want);
    ck_assert_uint_eq(s.cursor, want);
    ck_assert_uint_eq(s.count, 4096);
    store_free(&s);
}
END_TEST

Suite *suite_kv_store(void)
{
    Suite *s = suite_create("kv_store");
    TCase *tc = test_case("expiry");

    tcase_add_test(tc, a_key_lives_through_its_expiry_millisecond);
    tcase_add_test(tc, the_sweep_keeps_it_through_that_millisecond_too);
    tcase_add_test(tc, taking_an_expire_time_away_uncounts_the_key);
    tcase_add_test(tc, a_sample_stops_after_twenty_keys_with_a_time);
    suite_add_tcase(s, tc);
    tc = test_case("shrinking");
    tcase_add_test(tc, a_table_emptied_by_deletes_shrinks_and_keeps_its_keys);
    tcase_add_test(tc, one_key_fewer_than_an_eighth_shrinks_it);
    tcase_add_test(tc, a_table_emptied_by_expiry_shrinks_and_the_sweep_goes_on);
    suite_add_tcase(s, tc);
    return s;
}
