/*
 * tests/test_cat.c - the cat example (build/phaseN/examples/cat), run as a
 * user runs it: as a program, its output and its exit status checked.
 *
 * Cases: two files printed in order; a missing file reported the way cat
 * reports it, the next file still printed, and exit status 1; and standard
 * output closed (`cat FILE >&-`), which cat refuses before it makes its
 * executor. Before that check the executor's ring took the free number 1,
 * and cat wrote its chunks into the ring: "write error: Invalid argument".
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TEST_SINCE_PHASE(2);

/* Run cat with `args` (NULL-terminated); its standard output closed if `closed_out`. */
static void run_cat(const char *const *args, bool closed_out, struct test_program *r)
{
    const char *argv[8] = {"cat"};
    int n = 1;

    for (; *args && n < 7; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    test_run_built("examples/cat", argv, closed_out, r);
}

/* A temporary file holding `text`; its path into `path` (at least 64 bytes). */
static void make_file(char *path, const char *text)
{
    test_temp_file(path, text, strlen(text));
}

START_TEST(cat_prints_its_files_in_order)
{
    char a[64], b[64];
    struct test_program r;

    make_file(a, "first\n");
    make_file(b, "second\n");
    run_cat((const char *[]){a, b, NULL}, false, &r);
    unlink(a);
    unlink(b);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "first\nsecond\n");
    ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(a_missing_file_is_reported_and_the_next_one_printed)
{
    char a[64], want[128];
    const char *missing = "/nonexistent/rt-test-cat";
    struct test_program r;

    make_file(a, "still here\n");
    run_cat((const char *[]){missing, a, NULL}, false, &r);
    unlink(a);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "still here\n");
    snprintf(want, sizeof(want), "cat: %s: No such file or directory\n", missing);
    ck_assert_str_eq(r.err, want);
}
END_TEST

START_TEST(a_closed_standard_output_is_refused)
{
    char a[64];
    struct test_program r;

    make_file(a, "nowhere to go\n");
    run_cat((const char *[]){a, NULL}, true, &r);
    unlink(a);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, "cat: standard output: Bad file descriptor\n");
}
END_TEST

Suite *suite_cat(void)
{
    Suite *s = suite_create("cat");
    TCase *tc = test_case("cat");

    tcase_add_test(tc, cat_prints_its_files_in_order);
    tcase_add_test(tc, a_missing_file_is_reported_and_the_next_one_printed);
    tcase_add_test(tc, a_closed_standard_output_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
