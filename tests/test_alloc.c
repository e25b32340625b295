/*
 * tests/test_alloc.c - counted allocation (common/alloc.h): every block
 * rt__malloc() or rt__calloc() hands out counts as live until rt__free()
 * takes it back, and rt__free(NULL), allowed as with free(), does nothing:
 * no death, and no change to the count. The harness's leak check rests on
 * that count, so a miscount there would blur every other test's.
 */
#include "harness.h"

#include <string.h>

TEST_SINCE_PHASE(1);

START_TEST(every_block_counts_until_it_is_freed)
{
    long before = rt__alloc_live();
    char *a = rt__malloc(16), *b = rt__calloc(4, 8);

    ck_assert_int_eq(rt__alloc_live(), before + 2);
    for (int i = 0; i < 32; i++)
        ck_assert_int_eq(b[i], 0); /* calloc's blocks start zeroed */
    memset(a, 1, 16);
    rt__free(a);
    ck_assert_int_eq(rt__alloc_live(), before + 1);
    rt__free(b);
    ck_assert_int_eq(rt__alloc_live(), before);
}
END_TEST

START_TEST(freeing_null_does_nothing)
{
    long before = rt__alloc_live();
    void *block = rt__malloc(8);

    rt__free(NULL);
    ck_assert_int_eq(rt__alloc_live(), before + 1); /* the live block still counts */
    rt__free(block);
    rt__free(NULL);
    ck_assert_int_eq(rt__alloc_live(), before);
}
END_TEST

Suite *suite_alloc(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = test_case("alloc");

    tcase_add_test(tc, every_block_counts_until_it_is_freed);
    tcase_add_test(tc, freeing_null_does_nothing);
    suite_add_tcase(s, tc);
    return s;
}
