/*
 * tests/test_kv_redis_cli.c - Redis's own clients, unchanged, against
 * kv_server: redis-cli with commands as arguments, with a script on its
 * standard input (it asks COMMAND DOCS first, then COMMAND), with --pipe
 * (mass insertion, which ends with an ECHO to find the last reply), and
 * redis-benchmark (which asks CONFIG GET save and appendonly at start-up).
 *
 * The expected outputs are what redis-cli 7.0.15 prints against a real
 * redis-server 7.0.15. The programs come from the redis-tools package;
 * without them each test is skipped (a failure under REQUIRE_ALL=1, as in CI).
 */
#include "kv_util.h"

#include "harness.h"

TEST_SINCE_PHASE(4);

static const char *const three_shards[] = {"--shards", "3", "--placement", "unbound", NULL};

static char redis_cli[4096], redis_benchmark[4096];

/* Run redis-cli -p <port> <args...> with `input`; its output must be `expect`. */
static void cli(int port, const char *input, const char *expect, const char *const *args)
{
    const char *argv[16] = {redis_cli, "-p"};
    char portstr[16], out[65536], err[4096], a[2048], b[2048];
    int n = 3, status;

    snprintf(portstr, sizeof(portstr), "%d", port);
    argv[2] = portstr;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    status = kv_run(argv, input, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(status == 0 && strcmp(out, expect) == 0 && err[0] == '\0',
                  "redis-cli %s: exit %d, printed \"%s\" (expected \"%s\"), stderr \"%s\"", argv[3],
                  status, kv_printable(out, strlen(out), a, sizeof(a)),
                  kv_printable(expect, strlen(expect), b, sizeof(b)), err);
}

#define CLI(port, expect, ...) cli(port, NULL, expect, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(redis_cli_arguments)
{
    struct kv_proc p;

    if (!kv_which("redis-cli", redis_cli, sizeof(redis_cli)))
        TEST_SKIP("redis-cli is not installed (package redis-tools)");
    p = kv_start(three_shards);
    CLI(p.port, "OK\n", "SET", "greeting", "hello world");
    CLI(p.port, "hello world\n", "GET", "greeting");
    CLI(p.port, "1\n", "INCR", "n");
    CLI(p.port, "OK\n", "MSET", "a", "1", "b", "2", "c", "3");
    CLI(p.port, "1\n2\n3\n\n", "MGET", "a", "b", "c", "nosuch");
    CLI(p.port, "1) \"1\"\n2) (nil)\n", "--no-raw", "MGET", "a", "nosuch");
    CLI(p.port, "OK\n", "SET", "t", "v", "EX", "100");
    CLI(p.port, "100\n", "TTL", "t");
    CLI(p.port, "6\n", "DBSIZE");
    CLI(p.port, "ERR value is not an integer or out of range\n\n", "INCR", "greeting");
    CLI(p.port, "ERR unknown command 'FOO', with args beginning with: \n\n", "FOO");
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

START_TEST(redis_cli_script_on_stdin)
{
    static const char script[] = "SET a 1\nINCR a\nSET k \"hello world\"\nMGET a k nosuch\n"
                                 "GET nosuch\nFOO bar\nDEL a k\nDBSIZE\nPING\nECHO \"x y\"\n";
    static const char *const none[] = {NULL};
    struct kv_proc p;

    if (!kv_which("redis-cli", redis_cli, sizeof(redis_cli)))
        TEST_SKIP("redis-cli is not installed (package redis-tools)");
    p = kv_start(three_shards);
    cli(p.port, script,
        "OK\n2\nOK\n2\nhello world\n\n\n"
        "ERR unknown command 'FOO', with args beginning with: 'bar' \n\n2\n0\nPONG\nx y\n",
        none);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

START_TEST(redis_cli_pipe)
{
    static const char *const pipe_mode[] = {"--pipe", NULL};
    struct kv_proc p;
    char *input = malloc(64 * 1000), *at = input;

    if (!kv_which("redis-cli", redis_cli, sizeof(redis_cli)))
        TEST_SKIP("redis-cli is not installed (package redis-tools)");
    p = kv_start(three_shards);
    for (int i = 0; i < 1000; i++)
        at += sprintf(at, "*3\r\n$3\r\nSET\r\n$%d\r\nkey%d\r\n$1\r\nv\r\n", 4 + (i > 9) + (i > 99),
                      i);
    cli(p.port, input,
        "All data transferred. Waiting for the last reply...\n"
        "Last reply received from server.\nerrors: 0, replies: 1000\n",
        pipe_mode);
    CLI(p.port, "1000\n", "DBSIZE");
    free(input);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

START_TEST(redis_benchmark_runs)
{
    const char *argv[] = {
        redis_benchmark,          "-p",    NULL, "-n", "2000", "-c", "8", "-P", "4", "-t",
        "ping,set,get,incr,mset", "--csv", NULL};
    static const char *const tests[] = {"\"PING_INLINE\",", "\"PING_MBULK\",",
                                        "\"SET\",",         "\"GET\",",
                                        "\"INCR\",",        "\"MSET (10 keys)\","};
    char portstr[16], out[8192], err[4096];
    struct kv_proc p;

    if (!kv_which("redis-benchmark", redis_benchmark, sizeof(redis_benchmark)))
        TEST_SKIP("redis-benchmark is not installed (package redis-tools)");
    p = kv_start(three_shards);
    snprintf(portstr, sizeof(portstr), "%d", p.port);
    argv[2] = portstr;
    ck_assert_int_eq(kv_run(argv, NULL, out, sizeof(out), err, sizeof(err)), 0);
    /* No "WARNING: Could not fetch server CONFIG", no error from the server. */
    ck_assert_msg(err[0] == '\0', "redis-benchmark said: %s", err);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        ck_assert_msg(strstr(out, tests[i]), "no %s line in:\n%s", tests[i], out);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

Suite *suite_kv_redis_cli(void)
{
    Suite *s = suite_create("kv_redis_cli");
    TCase *tc = test_case("redis-tools");

    tcase_add_test(tc, redis_cli_arguments);
    tcase_add_test(tc, redis_cli_script_on_stdin);
    tcase_add_test(tc, redis_cli_pipe);
    tcase_add_test(tc, redis_benchmark_runs);
    suite_add_tcase(s, tc);
    return s;
}
