/*
 * tests/test_args.c - the examples' command-line numbers (common/args.h): a
 * port must be a whole number from 0 to 65535, so that 65616 is refused
 * rather than turned into port 80 by a uint16_t, and "80x", " 80" or "+80"
 * are refused rather than read as 80. The examples that take a bare number
 * (spawn_join, sleep_sort) read it with args_number() too. And every
 * example and benchmark answers --help with its usage, and refuses a command
 * line it cannot take.
 */
#include "harness.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

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

/*
 * The programs of this phase, as a user meets them: "--help" prints the usage
 * on standard output and exits with 0, and a command line a program cannot
 * take exits with 2, says why on standard error and runs nothing (standard
 * output stays empty). Before this test, the programs without arguments ran
 * whatever they were given, and --help was a mistake like any other (status
 * 2, the usage on standard error), or a file name (cat), or a number
 * (spawn_join).
 */
START_TEST(every_program_answers_help_and_refuses_what_it_cannot_take)
{
    static const struct {
        const char *path; /* under build/phaseN */
        int since;        /* the first phase that has it */
        const char *bad;  /* an argument it cannot take */
    } programs[] = {
        {"examples/hello", 1, "world"},
        {"examples/naive", 1, "3"},
        {"examples/pinned", 1, "--cpu"},
        {"examples/handwritten", 1, "12"},
        {"examples/spawn_join", 1, "--tasks"},
        {"bench/executor", 1, "--batch"},
        {"examples/cat", 2, NULL}, /* every argument is a file name */
        {"examples/cp", 2, "--force"},
        {"examples/echo_client", 2, "--verbose"},
        {"examples/echo_server", 2, "--verbose"},
        {"examples/sleep_sort", 2, "--ms"},
        {"examples/timeout", 2, "10"},
        {"bench/echo", 2, "fast"},
        {"bench/io", 2, "read4k"},
        {"examples/doorbell", 3, "1"},
        {"examples/priorities", 3, "2"},
        {"examples/shares", 3, "200"},
        {"bench/sched", 3, "quick"},
        {"examples/ping_pong", 4, "--round"},
        {"examples/pool_hello", 4, "--shard"},
        {"examples/sharded_echo", 4, "--verbose"},
        {"examples/kv_server", 4, "--maxmemory"},
        {"bench/channel", 4, "3"},
        {"bench/kv", 4, "quick"},
    };
    struct test_program r;

    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        const char *name = strrchr(programs[i].path, '/') + 1;

        if (programs[i].since > PHASE)
            continue;
        test_run_built(programs[i].path, (const char *[]){name, "--help", NULL}, false, &r);
        ck_assert_msg(r.status == 0, "%s --help: status %d", name, r.status);
        ck_assert_msg(strncmp(r.out, "usage: ", 7) == 0, "%s --help printed \"%.80s\"", name,
                      r.out);
        ck_assert_msg(r.err[0] == '\0', "%s --help: \"%.80s\" on stderr", name, r.err);
        if (!programs[i].bad)
            continue;
        test_run_built(programs[i].path, (const char *[]){name, programs[i].bad, NULL}, false, &r);
        ck_assert_msg(r.status == 2, "%s %s: status %d", name, programs[i].bad, r.status);
        ck_assert_msg(r.out[0] == '\0', "%s %s ran: \"%.80s\"", name, programs[i].bad, r.out);
        ck_assert_msg(r.err[0] != '\0', "%s %s: nothing on stderr", name, programs[i].bad);
    }
}
END_TEST

/*
 * "--help" means help only when it is the whole command line: "--help" with
 * something after it is a command line the program cannot take (status 2,
 * nothing run), and "-0" is no number where negative ones are not allowed.
 */
START_TEST(help_only_alone_and_no_minus_zero)
{
    struct test_program r;
    long value = -7;

    ck_assert(args_help(2, (char *[]){"p", "--help", NULL}));
    ck_assert(!args_help(3, (char *[]){"p", "--help", "x", NULL}));
    ck_assert(!args_help(1, (char *[]){"p", NULL}));
    ck_assert(!args_help(2, (char *[]){"p", "-h", NULL}));
    test_run_built("examples/hello", (const char *[]){"hello", "--help", "x", NULL}, false, &r);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strncmp(r.err, "usage: ", 7) == 0, "stderr: \"%.80s\"", r.err);

    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr)); /* the refusal prints its reason */
    ck_assert(!args_number("test", "--count", "-0", 0, 10, &value));
    ck_assert_int_eq(value, -7);
}
END_TEST

Suite *suite_args(void)
{
    Suite *s = suite_create("args");
    TCase *tc = test_case("args");

    tcase_add_test(tc, only_whole_numbers_in_range);
    tcase_add_test(tc, the_examples_bare_numbers_are_read_by_it);
    tcase_add_test(tc, every_program_answers_help_and_refuses_what_it_cannot_take);
    tcase_add_test(tc, help_only_alone_and_no_minus_zero);
    suite_add_tcase(s, tc);
    return s;
}
