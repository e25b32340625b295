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
 * millisecond later, for a lookup and for the sweep alike.
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

Suite *suite_kv_store(void)
{
    Suite *s = suite_create("kv_store");
    TCase *tc = test_case("expiry");

    tcase_add_test(tc, a_key_lives_through_its_expiry_millisecond);
    tcase_add_test(tc, the_sweep_keeps_it_through_that_millisecond_too);
    suite_add_tcase(s, tc);
    return s;
}
