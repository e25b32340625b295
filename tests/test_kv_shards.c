/*
 * tests/test_kv_shards.c - kv_server as a whole: many shards, many requests,
 * many connections, expiry, and stopping.
 *
 * Cases: 1,000 commands pipelined in one write, their keys on three shards,
 * answered in order; keys on every one of four shards written and read from
 * one connection and from 16 (which the kernel spreads over the shards:
 * CLIENT ID says which shard serves a connection); 1,000 connections open
 * at once; clients that disconnect in the middle of a pipeline whose keys
 * other shards are working on, while another client goes on; a connection's
 * number in HELLO and CLIENT ID, and HELLO 3 refused; COMMAND, CONFIG GET
 * and the HELP replies; keys that expire, found by lookups (lazily) and by
 * the sweep (nobody looks them up), half a million of them at once; PTTL
 * right after SET ... PX, exact to the millisecond; and
 * SIGTERM with idle connections, half-sent requests and clients not reading
 * their replies, after which the server has closed every connection, joined
 * every shard and exits 0.
 */
#include "kv_util.h"

#include "harness.h"

TEST_SINCE_PHASE(4);

static const char *const three_shards[] = {"--shards", "3", "--placement", "unbound", NULL};
static const char *const four_shards[] = {"--shards", "4", "--placement", "unbound", NULL};

/* Append printf-style text to a growing string. */
struct text {
    char *s;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        /* Before the first realloc, t->s is NULL: measure only (NULL + 0 is undefined in C). */
        n = vsnprintf(t->s ? t->s + t->len : NULL, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (t->s && (size_t)n < t->cap - t->len)
            break;
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
    t->len += (size_t)n;
}

/* Decimal digits of n >= 0, for bulk lengths. */
static int digits(long n)
{
    int d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* One reply line ("...\r\n") into `line` (NUL-terminated). */
static void read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;

    while (n < 2 || line[n - 1] != '\n') {
        ck_assert_uint_lt(n, cap - 1);
        ck_assert_int_eq(kv_read(fd, line + n++, 1), 1);
    }
    line[n] = '\0';
}

/* ------------------------------------------------------------ pipelining */

START_TEST(thousand_pipelined_commands)
{
    struct kv_proc p = kv_start(three_shards);
    struct text req = {0}, reply = {0};
    int fd = kv_connect(p.port);

    for (int i = 0; i < 250; i++) {
        text_add(&req, "SET key:%d %d\r\nINCR key:%d\r\n", i, i * 10, i);
        text_add(&reply, "+OK\r\n:%d\r\n", i * 10 + 1);
    }
    for (int i = 0; i < 250; i++) {
        text_add(&req, "*2\r\n$3\r\nGET\r\n$%d\r\nkey:%d\r\n", 4 + digits(i), i);
        text_add(&reply, "$%d\r\n%d\r\n", digits(i * 10 + 1), i * 10 + 1);
        text_add(&req, "EXISTS key:%d key:%d nokey\r\n", i, (i + 1) % 250);
        text_add(&reply, ":2\r\n");
    }
    kv_send(fd, req.s, req.len); /* 1,000 commands in one write */
    kv_expect_bytes(fd, reply.s, reply.len, "1,000 pipelined replies");
    kv_call(fd, "DBSIZE\r\n", ":250\r\n");
    free(req.s);
    free(reply.s);
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ every shard */

/* Keys "s<k>:<i>" chosen so that shard k owns them: 16 per shard. */
static void keys_per_shard(char keys[4][16][16])
{
    for (unsigned k = 0; k < 4; k++) {
        int n = 0;

        for (int i = 0; n < 16; i++) {
            snprintf(keys[k][n], sizeof(keys[k][n]), "s%u:%d", k, i);
            if (rt_shard_of(keys[k][n], strlen(keys[k][n]), 4) == k)
                n++;
        }
    }
}

/* The shard serving a connection: kv_server numbers connections id = count * shards + shard + 1. */
static int shard_of_connection(int fd)
{
    char reply[32];

    kv_send_str(fd, "CLIENT ID\r\n");
    read_line(fd, reply, sizeof(reply));
    ck_assert_int_eq(reply[0], ':');
    return (atoi(reply + 1) - 1) % 4;
}

START_TEST(keys_on_every_shard)
{
    static char keys[4][16][16];
    struct kv_proc p = kv_start(four_shards);
    struct text mset = {0}, mget = {0}, values = {0};
    int one = kv_connect(p.port), fds[16], served[4] = {0}, shards_used = 0;

    keys_per_shard(keys);
    /* From one connection: every shard's keys in one MSET, one MGET, one DEL. */
    text_add(&mset, "MSET");
    text_add(&mget, "MGET");
    text_add(&values, "*64\r\n");
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 16; i++) {
            text_add(&mset, " %s %d", keys[k][i], k * 100 + i);
            text_add(&mget, " %s", keys[k][i]);
            text_add(&values, "$%d\r\n%d\r\n", digits(k * 100 + i), k * 100 + i);
        }
    }
    text_add(&mset, "\r\n");
    text_add(&mget, "\r\n");
    kv_call(one, mset.s, "+OK\r\n");
    kv_call(one, mget.s, values.s);
    kv_call(one, "DBSIZE\r\n", ":64\r\n");

    /* From 16 connections, which the kernel spreads over the shards: each adds 1 to every key. */
    for (int c = 0; c < 16; c++) {
        fds[c] = kv_connect(p.port);
        served[shard_of_connection(fds[c])]++;
    }
    for (int k = 0; k < 4; k++)
        shards_used += served[k] > 0;
    ck_assert_msg(shards_used >= 2, "16 connections all went to one shard");
    for (int c = 0; c < 16; c++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 16; i++) {
                char cmd[64];

                ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "INCR %s\r\n", keys[k][i]),
                                 (int)sizeof(cmd));
                kv_send_str(fds[c], cmd);
            }
    /* Connections interleave, so each INCR's result is only known to be a number in range. */
    for (int c = 0; c < 16; c++) {
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < 16; i++) {
                char line[32];
                long v;

                read_line(fds[c], line, sizeof(line));
                ck_assert_int_eq(line[0], ':');
                v = atol(line + 1) - (k * 100 + i);
                ck_assert(v >= 1 && v <= 16);
            }
        }
        close(fds[c]);
    }
    free(values.s);
    values = (struct text){0};
    text_add(&values, "*64\r\n");
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 16; i++)
            text_add(&values, "$%d\r\n%d\r\n", digits(k * 100 + i + 16), k * 100 + i + 16);
    kv_call(one, mget.s, values.s);
    {
        char del[128];

        ck_assert_int_lt(snprintf(del, sizeof(del), "DEL %s %s %s %s nokey %s\r\n", keys[0][0],
                                  keys[1][0], keys[2][0], keys[3][0], keys[0][0]),
                         (int)sizeof(del));
        kv_call(one, del, ":4\r\n");
        kv_call(one, "DBSIZE\r\n", ":60\r\n");
    }
    free(mset.s);
    free(mget.s);
    free(values.s);
    close(one);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ many connections */

START_TEST(thousand_connections)
{
    enum { CONNS = 1000 };
    static const char *const args[] = {"--shards", "2", "--placement", "unbound", NULL};
    static int fds[CONNS];
    struct kv_proc p;
    char cmd[64], want[64];

    /* The server raises its own limit (as Redis does); the test needs 1,000 sockets too. */
    if (kv_raise_fd_limit(CONNS + 64) < CONNS + 64)
        TEST_SKIP("the open-files limit is under 1,064 and cannot be raised (ulimit -n)");
    p = kv_start(args);
    for (int i = 0; i < CONNS; i++)
        fds[i] = kv_connect(p.port);
    /* Every connection is open before any is used: 1,000 at once. */
    for (int i = 0; i < CONNS; i++) {
        snprintf(cmd, sizeof(cmd), "SET conn:%d %d\r\nGET conn:%d\r\n", i, i, i);
        kv_send_str(fds[i], cmd);
    }
    for (int i = 0; i < CONNS; i++) {
        snprintf(want, sizeof(want), "+OK\r\n$%d\r\n%d\r\n", digits(i), i);
        kv_expect(fds[i], want, "each of 1,000 connections");
    }
    kv_call(fds[0], "DBSIZE\r\n", ":1000\r\n");
    for (int i = 0; i < CONNS; i++)
        close(fds[i]);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/*
 * Twenty clients each pipeline 2,000 commands over three shards and hang up
 * at once, abruptly (a reset), while their requests are being worked on in
 * other shards. A client that stays meanwhile sees nothing of it.
 */
START_TEST(disconnect_mid_pipeline)
{
    struct kv_proc p = kv_start(three_shards);
    struct text req = {0};
    struct linger abort_now = {.l_onoff = 1, .l_linger = 0};
    int stays = kv_connect(p.port);

    for (int i = 0; i < 1000; i++)
        text_add(&req, "SET gone:%d x\r\nMGET gone:%d gone:%d stays\r\n", i, i, i + 1);
    kv_call(stays, "SET stays 0\r\n", "+OK\r\n");
    for (int round = 1; round <= 20; round++) {
        int fd = kv_connect(p.port);
        char want[32];

        kv_send(fd, req.s, req.len);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof(abort_now));
        close(fd);
        snprintf(want, sizeof(want), ":%d\r\n", round);
        kv_call(stays, "INCR stays\r\n", want);
    }
    kv_call(stays, "GET gone:0\r\nGET stays\r\n", "$1\r\nx\r\n$2\r\n20\r\n");
    free(req.s);
    close(stays);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ the connection's commands */

/* HELLO's reply, with `id` for the connection's number. */
static void expect_hello(int fd, const char *what)
{
    char line[64];

    kv_expect(fd,
              "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
              "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n",
              what);
    read_line(fd, line, sizeof(line));
    ck_assert_int_eq(line[0], ':');
    kv_expect(fd,
              "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
              "$7\r\nmodules\r\n*0\r\n",
              what);
}

START_TEST(hello_and_client_id)
{
    struct kv_proc p = kv_start(three_shards);
    int a = kv_connect(p.port), b = kv_connect(p.port);
    char ida[32], idb[32], want[64];

    kv_send_str(a, "HELLO\r\n");
    expect_hello(a, "HELLO");
    kv_send_str(a, "HELLO 2 SETNAME worker-7\r\n");
    expect_hello(a, "HELLO 2 SETNAME");
    kv_call(a, "CLIENT GETNAME\r\n", "$8\r\nworker-7\r\n");
    kv_call(a, "HELLO 3\r\n", "-NOPROTO unsupported protocol version\r\n");
    kv_send_str(a, "CLIENT ID\r\n");
    read_line(a, ida, sizeof(ida));
    kv_send_str(b, "CLIENT ID\r\n");
    read_line(b, idb, sizeof(idb));
    ck_assert_int_eq(ida[0], ':');
    ck_assert_str_ne(ida, idb);
    kv_send_str(a, "HELLO 2 AUTH default anything\r\n");
    expect_hello(a, "HELLO 2 AUTH default");
    snprintf(want, sizeof(want), "%s", ida);
    kv_call(a, "CLIENT ID\r\n", want); /* the same connection keeps its number */
    close(a);
    close(b);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

START_TEST(command_config_and_help)
{
    static const char *const args[] = {
        "--shards", "2", "--placement", "unbound", "--max-bulk", "1mb", "--max-query", "2mb", NULL};
    struct kv_proc p = kv_start(args);
    int fd = kv_connect(p.port);
    char want[256];

    kv_call(fd, "COMMAND\r\n", "*0\r\n");
    kv_call(fd, "COMMAND COUNT\r\n", ":23\r\n");
    kv_call(fd, "CONFIG GET proto-max-bulk-len client-query-buffer-limit\r\n",
            "*4\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n"
            "$25\r\nclient-query-buffer-limit\r\n$7\r\n2097152\r\n");
    snprintf(want, sizeof(want),
             "*4\r\n$4\r\nport\r\n$%d\r\n%d\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n", digits(p.port),
             p.port);
    kv_call(fd, "CONFIG GET port bind\r\n", want);
    kv_call(fd, "CONFIG GET *a*s* *MAX*\r\n",
            "*4\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"
            "$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n");
    kv_call(fd, "CONFIG GET [ab]* *pendonl?\r\n",
            "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n");
    kv_send_str(fd, "CONFIG HELP\r\n");
    kv_expect(fd, "*5\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
              "CONFIG HELP");
    kv_send_str(fd, "CLIENT HELP\r\nCOMMAND HELP\r\nPING\r\n");
    for (;;) { /* the help lines, then PONG */
        char line[128];

        read_line(fd, line, sizeof(line));
        if (strcmp(line, "+PONG\r\n") == 0)
            break;
        ck_assert(line[0] == '+' || line[0] == '*');
    }
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ expiry */

/* Send `req` until the reply is `reply` (at most KV_WAIT_MS); the time it takes is not tested. */
static void eventually(int fd, const char *req, const char *reply)
{
    char got[64];

    for (int waited = 0;; waited += 10) {
        kv_send_str(fd, req);
        read_line(fd, got, sizeof(got));
        if (strcmp(got, reply) == 0)
            return;
        ck_assert_msg(waited < KV_WAIT_MS, "%s never answered %s", req, reply);
        usleep(10 * 1000);
    }
}

START_TEST(keys_expire)
{
    struct kv_proc p = kv_start(three_shards);
    int fd = kv_connect(p.port);
    struct text many = {0};

    /* Lazily: a lookup after the time finds nothing. */
    kv_call(fd, "SET soon v PX 30\r\nSET later v EX 1000\r\n", "+OK\r\n+OK\r\n");
    eventually(fd, "EXISTS soon later\r\n", ":1\r\n");
    kv_call(fd, "GET soon\r\nTTL later\r\n", "$-1\r\n:1000\r\n");
    kv_call(fd, "FLUSHALL\r\n", "+OK\r\n");

    /* By the sweep: 300 keys nobody looks up again are deleted all the same (DBSIZE counts
     * expired keys that are still there, as in Redis). */
    text_add(&many, "MSET stay 1\r\n");
    for (int i = 0; i < 300; i++)
        text_add(&many, "SET tmp:%d v PX 20\r\n", i);
    kv_send(fd, many.s, many.len);
    kv_expect(fd, "+OK\r\n", "MSET");
    for (int i = 0; i < 300; i++)
        kv_expect(fd, "+OK\r\n", "SET ... PX 20");
    eventually(fd, "DBSIZE\r\n", ":1\r\n");
    kv_call(fd, "GET stay\r\n", "$1\r\n1\r\n");
    free(many.s);
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/*
 * PTTL to the millisecond: SET ... PX 100000 and PTTL in one write, on one
 * shard, are parsed in one batch, which reads the clock once, so the expire
 * time and the PTTL come from the same `now` and the answer is exactly
 * 100000 (Redis answers the same when both fall in one millisecond). TTL
 * rounds to seconds, so an answer a millisecond off passes every TTL check.
 */
START_TEST(pttl_is_exact_within_a_batch)
{
    static const char *const args[] = {"--shards", "1", NULL};
    struct kv_proc p = kv_start(args);
    int fd = kv_connect(p.port);

    kv_call(fd, "SET k v PX 100000\r\nPTTL k\r\n", "+OK\r\n:100000\r\n");
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/*
 * Half a million keys that expire 100 ms after they are written, on one
 * shard, and nobody reads them: the sweep alone must delete them all. A
 * sweep of a fixed 100 samples of 20 keys every 100 ms (20,000 keys a
 * second at most) needed 25 s; the deadline is KV_WAIT_MS (10 s), which
 * only guards against waiting forever.
 */
START_TEST(unread_expired_keys_are_reclaimed)
{
    enum { KEYS = 500000, CHUNK = 10000 };
    static const char *const args[] = {"--shards", "1", NULL};
    struct kv_proc p = kv_start(args);
    int fd = kv_connect(p.port);
    struct text oks = {0};

    for (int i = 0; i < CHUNK; i++)
        text_add(&oks, "+OK\r\n");
    for (int first = 0; first < KEYS; first += CHUNK) {
        struct text req = {0};

        for (int i = first; i < first + CHUNK; i++)
            text_add(&req, "SET tmp:%d v PX 100\r\n", i);
        kv_send(fd, req.s, req.len);
        kv_expect_bytes(fd, oks.s, oks.len, "10,000 SETs with PX 100");
        free(req.s);
    }
    kv_call(fd, "SET stay 1\r\n", "+OK\r\n");
    eventually(fd, "DBSIZE\r\n", ":1\r\n"); /* every tmp: key deleted, without a lookup */
    kv_call(fd, "GET stay\r\n", "$1\r\n1\r\n");
    free(oks.s);
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ stopping */

/*
 * SIGTERM while connections are open: idle ones, ones with half a request
 * sent, and ones whose client does not read a pipeline of big replies. The
 * server must close them all, join every shard and exit 0 (under SAN=1:
 * without a leak).
 */
START_TEST(shutdown_with_clients)
{
    enum { EACH = 10, VALUE = 1 << 20 };
    static const char half_request[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nonly a part";
    struct kv_proc p = kv_start(three_shards);
    int idle[EACH], half[EACH], slow[EACH], fd = kv_connect(p.port);
    char *value = malloc(VALUE), head[64];

    memset(value, 'z', VALUE);
    snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", VALUE);
    kv_send_str(fd, head);
    kv_send(fd, value, VALUE);
    kv_call(fd, "\r\n", "+OK\r\n");
    for (int i = 0; i < EACH; i++) {
        idle[i] = kv_connect(p.port);
        half[i] = kv_connect(p.port);
        kv_call(half[i], "PING\r\n", "+PONG\r\n");
        kv_send_str(half[i], half_request);
        slow[i] = kv_connect(p.port);
        for (int k = 0; k < 20; k++)
            kv_send_str(slow[i], "GET big\r\n");
    }
    kv_call(fd, "PING\r\n", "+PONG\r\n");
    ck_assert_int_eq(kv_stop(&p), 0);
    for (int i = 0; i < EACH; i++) {
        char buf[65536];

        kv_expect_closed(idle[i], "an idle connection, after SIGTERM");
        kv_expect_closed(half[i], "a half-sent request, after SIGTERM");
        while (recv(slow[i], buf, sizeof(buf), 0) > 0)
            ; /* some replies may have been sent: the end follows them */
        close(idle[i]);
        close(half[i]);
        close(slow[i]);
    }
    kv_expect_closed(fd, "the last connection, after SIGTERM");
    close(fd);
    free(value);
}
END_TEST

Suite *suite_kv_shards(void)
{
    Suite *s = suite_create("kv_shards");
    TCase *tc = test_case("requests");

    tcase_add_test(tc, thousand_pipelined_commands);
    tcase_add_test(tc, keys_on_every_shard);
    tcase_add_test(tc, hello_and_client_id);
    tcase_add_test(tc, command_config_and_help);
    tcase_add_test(tc, keys_expire);
    tcase_add_test(tc, pttl_is_exact_within_a_batch);
    tcase_add_test(tc, unread_expired_keys_are_reclaimed);
    suite_add_tcase(s, tc);
    tc = test_case("connections");
    tcase_add_test(tc, thousand_connections);
    tcase_add_test(tc, disconnect_mid_pipeline);
    tcase_add_test(tc, shutdown_with_clients);
    suite_add_tcase(s, tc);
    return s;
}
