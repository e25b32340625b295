/*
 * tests/test_args.c - the examples' command-line numbers (common/args.h): a
 * port must be a whole number from 0 to 65535, so that 65616 is refused
 * rather than turned into port 80 by a uint16_t, and "80x", " 80" or "+80"
 * are refused rather than read as 80. The examples that take a bare number
 * (spawn_join, sleep_sort) read it with args_number() too.
 */
#include "harness.h"

#include <limits.h>
#include <stdio.h>

#include "common/args.h"

TEST_SINCE_PHASE(1);

START_TEST(only_whole_numbers_in_range)
{
    static const struct {
        const char *text;
        bool ok;
        long value;
    } cases[] = {
        {"0", true, 0},      {"80", true, 80},    {"65535", true, 65535},
        {"65536", false, 0}, {"65616", false, 0}, {"-1", false, 0},
        {"", false, 0},      {"80x", false, 0},   {" 80", false, 0},
        {"+80", false, 0},   {"0x50", false, 0},  {"99999999999999999999", false, 0},
    };
    FILE *quiet = freopen("/dev/null", "w", stderr); /* the refusals print their reasons */

    ck_assert_ptr_nonnull(quiet);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long value = -7;

        ck_assert_msg(args_number("test", "--port", cases[i].text, 0, 65535, &value) == cases[i].ok,
                      "\"%s\"", cases[i].text);
        ck_assert_msg(value == (cases[i].ok ? cases[i].value : -7), "\"%s\": %ld", cases[i].text,
                      value);
    }
    /* A range that includes negative numbers takes a leading '-'. */
    {
        long value = 0;

        ck_assert(args_number("test", "--delta", "-5", -10, 10, &value));
        ck_assert_int_eq(value, -5);
        ck_assert(!args_number("test", "--delta", "--5", -10, 10, &value));
        ck_assert(!args_number("test", "--big", "-9223372036854775809", LONG_MIN, 0, &value));
    }
}
END_TEST

/*
 * And the examples that take a bare number use it too: spawn_join and
 * sleep_sort called strtol() themselves, and read " 5", "+5" and "-0" as
 * numbers.
 */
START_TEST(the_examples_bare_numbers_are_read_by_it)
{
    struct test_program r;

    test_run_built("examples/spawn_join", (const char *[]){"spawn_join", "+5", NULL}, false, &r);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "spawn_join: N +5: not a whole number from 1 to 100000\n");
#if PHASE >= 2
    test_run_built("examples/sleep_sort", (const char *[]){"sleep_sort", "3", " 5", NULL}, false,
                   &r);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "sleep_sort: N  5: not a whole number from 0 to 10000\n");
    test_run_built("examples/sleep_sort", (const char *[]){"sleep_sort", "-0", NULL}, false, &r);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
#endif
}
END_TEST

Suite *suite_args(void)
{
    Suite *s = suite_create("args");
    TCase *tc = test_case("args");

    tcase_add_test(tc, only_whole_numbers_in_range);
    tcase_add_test(tc, the_examples_bare_numbers_are_read_by_it);
    suite_add_tcase(s, tc);
    return s;
}
