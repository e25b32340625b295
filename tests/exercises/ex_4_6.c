/*
 * tests/exercises/ex_4_6.c - Exercise 4.6: APPEND in kv_server, byte for byte as Redis 7.0.
 *
 * The exercise: add Redis's APPEND key value to kv_server (commands.c): it
 * appends the value's bytes to the key's value (an empty value if the key
 * does not exist), keeps the key's time to live, and replies with the new
 * length as an integer. The expected bytes below are redis-server 7.0.15's.
 *
 * The lesson is in the last case. A GET from another shard holds a
 * reference to the value it read until its reply is written and the value
 * is given back (section 4.10), and in a pipeline the replies are written
 * after every request of the batch has been applied. So APPEND must not
 * change a value in place: the GET before it in the same pipeline must
 * still read the old bytes.
 *
 * kv_server runs with three shards, and the keys below were chosen so that
 * each lives on a different shard (rt_shard_of(key, 4, 3) = 2, 0, 1):
 * whichever shard the kernel gives the connection, two of them are remote.
 * Until the exercise is done the server answers "-ERR unknown command".
 */
#include "kv_util.h"

#include "harness.h"

TEST_SINCE_PHASE(4);

static const char *const keys[] = {"ap:0", "ap:2", "ap:3"};

/* kv_server with three shards. */
static struct kv_proc start_three(void)
{
    static const char *const three_shards[] = {"--shards", "3", NULL};

    return kv_start(three_shards);
}

static void stop(struct kv_proc *p)
{
    ck_assert_int_eq(kv_stop(p), 0);
}

/* Send `req` (a format with one %s, the key) and expect `reply` (likewise). */
static void exchange(int fd, const char *req, const char *reply, const char *key)
{
    char out[512], want[512];
    int n = snprintf(out, sizeof(out), req, key, key, key, key);
    int m = snprintf(want, sizeof(want), reply, key, key, key, key);

    kv_send(fd, out, (size_t)n);
    kv_expect_bytes(fd, want, (size_t)m, out);
}

START_TEST(append_creates_then_appends)
{
    struct kv_proc p = start_three();
    int fd = kv_connect(p.port);

    for (size_t i = 0; i < 3; i++)
        exchange(fd, "APPEND %s abc\r\nAPPEND %s de\r\nGET %s\r\n", ":3\r\n:5\r\n$5\r\nabcde\r\n",
                 keys[i]);
    close(fd);
    stop(&p);
}
END_TEST

START_TEST(append_is_binary_safe_and_checks_its_arity)
{
    struct kv_proc p = start_three();
    int fd = kv_connect(p.port);
    static const char req[] = "*3\r\n$6\r\nAPPEND\r\n$1\r\nb\r\n$3\r\na\0b\r\nAPPEND b \"\"\r\n"
                              "GET b\r\nAPPEND b\r\nAPPEND\r\nAPPEND a b c\r\n";
    static const char want[] = ":3\r\n:3\r\n$3\r\na\0b\r\n"
                               "-ERR wrong number of arguments for 'append' command\r\n"
                               "-ERR wrong number of arguments for 'append' command\r\n"
                               "-ERR wrong number of arguments for 'append' command\r\n";

    kv_send(fd, req, sizeof(req) - 1);
    kv_expect_bytes(fd, want, sizeof(want) - 1, "APPEND with a NUL, an empty value, bad arity");
    close(fd);
    stop(&p);
}
END_TEST

START_TEST(append_keeps_the_time_to_live)
{
    struct kv_proc p = start_three();
    int fd = kv_connect(p.port);

    for (size_t i = 0; i < 3; i++) {
        /* EX 100, then APPEND: the key must still have its 100 s to live, not none (-1). */
        exchange(fd, "SET %s v EX 100\r\nAPPEND %s w\r\nGET %s\r\n", "+OK\r\n:2\r\n$2\r\nvw\r\n",
                 keys[i]);
        exchange(fd, "TTL %s\r\n", ":100\r\n", keys[i]);
    }
    close(fd);
    stop(&p);
}
END_TEST

START_TEST(a_get_before_an_append_in_one_pipeline_reads_the_old_value)
{
    struct kv_proc p = start_three();
    int fd = kv_connect(p.port);

    for (size_t i = 0; i < 3; i++)
        exchange(fd, "SET %s abc\r\nGET %s\r\nAPPEND %s xyz\r\nGET %s\r\n",
                 "+OK\r\n$3\r\nabc\r\n:6\r\n$6\r\nabcxyz\r\n", keys[i]);
    close(fd);
    stop(&p);
}
END_TEST

Suite *suite_ex_4_6(void)
{
    Suite *s = suite_create("ex_4_6");
    TCase *tc = test_case("ex_4_6");

    tcase_add_test(tc, append_creates_then_appends);
    tcase_add_test(tc, append_is_binary_safe_and_checks_its_arity);
    tcase_add_test(tc, append_keeps_the_time_to_live);
    tcase_add_test(tc, a_get_before_an_append_in_one_pipeline_reads_the_old_value);
    suite_add_tcase(s, tc);
    return s;
}
