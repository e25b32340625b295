/*
 * tests/test_kv_protocol.c - kv_server's RESP parser under real traffic:
 * requests cut into pieces, big binary values, bad input and the limits,
 * bounded memory.
 *
 * Cases: a request sent one byte at a time; a 3 MiB value of every byte
 * value set and read back, on one shard and across three; every kind of bad
 * input (unknown command, wrong arity, bad type byte, negative and
 * non-numeric lengths, missing CRLF, a bulk over --max-bulk, a request over
 * --max-query, an inline line or a count line over 64 KiB) each followed by
 * a good command, on the same connection where Redis keeps it open and on a
 * new one where Redis closes it, while another connection opened before
 * goes on working; clients announcing 500 MB bulks and sending nothing,
 * which must not make the server allocate anything near that; a client
 * that pipelines 80 MiB worth of replies without reading them, which must
 * not make the server buffer more than --max-output of them; and a client
 * that writes 200,000 requests before reading a reply, which must get them
 * all.
 */
#include "kv_util.h"

#include "harness.h"

TEST_SINCE_PHASE(4);

static const char *const one_shard[] = {"--shards", "1", NULL};
static const char *const three_shards[] = {"--shards", "3", "--placement", "unbound", NULL};

/* ------------------------------------------------------------ in pieces */

START_TEST(request_byte_by_byte)
{
    static const char req[] = "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$5\r\nhello\r\n"
                              "*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\nINCR n\r\n";
    struct kv_proc p = kv_start(three_shards);
    int fd = kv_connect(p.port);

    for (size_t i = 0; i < sizeof(req) - 1; i++)
        kv_send(fd, &req[i], 1);
    kv_expect(fd, "+OK\r\n$5\r\nhello\r\n:1\r\n", "a request sent one byte at a time");
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* SET values of `len` bytes (every byte value, in a pattern) and GET them back: 4 keys, "a:big",
 * "d:big", "e:big" and "h:big", which rt_shard_of() puts on all three shards (checked: if the
 * hash changes, pick other names). */
static void big_values(const char *const *args, size_t len)
{
    enum { KEYS = 4 };
    struct kv_proc p = kv_start(args);
    int fd = kv_connect(p.port);
    static const char first[KEYS] = {'a', 'd', 'e', 'h'};
    char *value = malloc(len), head[64];
    bool used[3] = {false};

    for (int k = 0; k < KEYS; k++) {
        char key[] = {first[k], ':', 'b', 'i', 'g'};

        used[rt_shard_of(key, sizeof(key), 3)] = true;
    }
    ck_assert(used[0] && used[1] && used[2]);

    for (size_t i = 0; i < len; i++)
        value[i] = (char)(i * 7 + i / 251);
    for (int k = 0; k < KEYS; k++) {
        snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$5\r\n%c:big\r\n$%zu\r\n", first[k], len);
        kv_send_str(fd, head);
        kv_send(fd, value, len);
        kv_call(fd, "\r\n", "+OK\r\n");
    }
    for (int k = 0; k < KEYS; k++) {
        snprintf(head, sizeof(head), "GET %c:big\r\n", first[k]);
        kv_send_str(fd, head);
        snprintf(head, sizeof(head), "$%zu\r\n", len);
        kv_expect(fd, head, "the bulk's length");
        kv_expect_bytes(fd, value, len, "a big value, back");
        kv_expect(fd, "\r\n", "the bulk's end");
    }
    free(value);
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}

START_TEST(big_binary_values)
{
    big_values(one_shard, 3 << 20);
    big_values(three_shards, 3 << 20);
}
END_TEST

/* ------------------------------------------------------------ bad input */

struct bad_input {
    const char *what;
    const char *send;   /* sent on a connection of its own */
    const char *expect; /* the reply */
    bool closes;        /* and then the server closes it, as Redis does */
};

static const struct bad_input bad_inputs[] = {
    {"unknown command", "NOSUCH x\r\n",
     "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n", false},
    {"wrong arity", "*1\r\n$3\r\nGET\r\n", "-ERR wrong number of arguments for 'get' command\r\n",
     false},
    {"bad type byte", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n", true},
    {"negative multibulk length", "*-2\r\nPING\r\n", "+PONG\r\n", false},
    {"negative bulk length", "*1\r\n$-4\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
    {"non-numeric bulk length", "*1\r\n$4x\r\n", "-ERR Protocol error: invalid bulk length\r\n",
     true},
    {"non-numeric multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n",
     true},
    {"missing CRLF after the count", "*1$4\r\nPING\r\n",
     "-ERR Protocol error: invalid multibulk length\r\n", true},
    {"bulk over --max-bulk (1 kB here)", "*2\r\n$4\r\nECHO\r\n$1025\r\n",
     "-ERR Protocol error: invalid bulk length\r\n", true},
};

/* Each bad input on a connection of its own, then a good command (on the same connection if it
 * stays open, on a new one if not), while `other`, opened before, keeps working. */
START_TEST(bad_input_then_good_command)
{
    static const char *const args[] = {"--shards",   "2",   "--placement", "unbound",
                                       "--max-bulk", "1kb", NULL};
    struct kv_proc p = kv_start(args);
    int other = kv_connect(p.port);
    char want[16];

    kv_call(other, "SET survivor 1\r\n", "+OK\r\n");
    for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
        const struct bad_input *b = &bad_inputs[i];
        int fd = kv_connect(p.port);

        kv_send_str(fd, b->send);
        kv_expect(fd, b->expect, b->what);
        if (b->closes) {
            kv_expect_closed(fd, b->what);
            close(fd);
            fd = kv_connect(p.port);
        }
        kv_call(fd, "PING\r\n", "+PONG\r\n");
        close(fd);
        snprintf(want, sizeof(want), ":%zu\r\n", i + 2);
        kv_call(other, "INCR survivor\r\n", want);
    }
    /* A bulk of exactly --max-bulk (1 kB) is within the limit: it is served. */
    {
        static const char head[] = "*2\r\n$4\r\nECHO\r\n$1024\r\n";
        char body[1024 + 2], reply[sizeof("$1024\r\n") - 1 + sizeof(body)];

        memset(body, 'b', 1024);
        memcpy(body + 1024, "\r\n", 2);
        memcpy(reply, "$1024\r\n", sizeof("$1024\r\n") - 1);
        memcpy(reply + sizeof("$1024\r\n") - 1, body, sizeof(body));
        kv_send(other, head, sizeof(head) - 1);
        kv_send(other, body, sizeof(body));
        kv_expect_bytes(other, reply, sizeof(reply), "a bulk of exactly --max-bulk");
    }
    close(other);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* Send `len` bytes of `fill` after `head`; expect `reply` and the connection closed. */
static void oversized(int port, const char *head, char fill, size_t len, const char *reply)
{
    int fd = kv_connect(port);
    char *body = malloc(len);

    memset(body, fill, len);
    kv_send_str(fd, head);
    /* The server may close before it has read it all: a reset ends the sending early. */
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, body + off, len - off, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
    kv_expect(fd, reply, head);
    kv_expect_closed(fd, head);
    close(fd);
    free(body);
    fd = kv_connect(port);
    kv_call(fd, "PING\r\n", "+PONG\r\n");
    close(fd);
}

/* A request of exactly --max-query bytes (256 KiB) is served. */
static void within_query_limit(int port)
{
    enum { LEN = 262113 };
    static const char head[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$262113\r\n";
    char *body = malloc(LEN + 2);
    int fd = kv_connect(port);

    ck_assert_int_eq(sizeof(head) - 1 + LEN + 2, 256 * 1024);
    memset(body, 'v', LEN);
    memcpy(body + LEN, "\r\n", 2);
    kv_send(fd, head, sizeof(head) - 1);
    kv_send(fd, body, LEN + 2);
    kv_expect(fd, "+OK\r\n", "a request of exactly --max-query bytes");
    kv_call(fd, "EXISTS k\r\n", ":1\r\n");
    free(body);
    close(fd);
}

START_TEST(limits)
{
    static const char *const args[] = {"--shards",    "2",     "--placement", "unbound",
                                       "--max-query", "256kb", NULL};
    struct kv_proc p = kv_start(args);

    oversized(p.port, "SET k ", 'a', 70000, "-ERR Protocol error: too big inline request\r\n");
    oversized(p.port, "*", '1', 70000, "-ERR Protocol error: too big mbulk count string\r\n");
    oversized(p.port, "*1\r\n$", '1', 70000, "-ERR Protocol error: too big bulk count string\r\n");
    /* Under --max-bulk (512 MB), but the request as a whole is over --max-query. */
    oversized(p.port, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000\r\n", 'v', 300000,
              "-ERR Protocol error: request exceeds the query buffer limit\r\n");
    within_query_limit(p.port);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/* ------------------------------------------------------------ bounded memory */

/* A line of /proc/<pid>/status, in kB. */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atol(line + strlen(field) + 1);
    fclose(f);
    ck_assert_int_ge(kb, 0);
    return kb;
}

/*
 * Eight clients each announce a 500 MB bulk, and send 100 kB of it. Had the
 * server allocated what was announced (as Redis does, lazily touched), its
 * virtual size would grow by 4 GB; it may grow only by what came in, a few
 * MB (64 MB allowed, for the allocator's arenas).
 */
START_TEST(announced_bulk_allocates_nothing)
{
    static const char head[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n";
    struct kv_proc p = kv_start(three_shards);
    int fds[8], probe = kv_connect(p.port);
    char chunk[100000];
    long before, after;

    kv_call(probe, "PING\r\n", "+PONG\r\n");
    before = status_kb(p.pid, "VmSize:");
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 8; i++) {
        fds[i] = kv_connect(p.port);
        kv_send(fds[i], head, sizeof(head) - 1);
        kv_send(fds[i], chunk, sizeof(chunk));
    }
    kv_call(probe, "PING\r\n", "+PONG\r\n"); /* the server is alive */
    after = status_kb(p.pid, "VmSize:");
    ck_assert_msg(after - before < 64 * 1024,
                  "the server grew by %ld kB for 8 announced 500 MB bulks", after - before);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    close(probe);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/*
 * A client pipelines 20 GETs of a 4 MiB value (80 MiB of replies) and does
 * not read, on a server started with --max-output 1mb. Past 1 MiB of
 * replies waiting, the server writes no more and reads no more from it: its
 * resident size may grow by the limit, a reply and what the allocator keeps
 * of freed memory (under AddressSanitizer, all of it for a while; under
 * ThreadSanitizer, the shadow of what it touched too, several times its
 * size: with 8mb, up to 50 MiB). 40 MiB allowed, where the first batch of
 * replies written at once (16 of them) would be 64 MiB. Another client is
 * served meanwhile, and in the end the slow client reads every reply, in
 * order.
 */
START_TEST(slow_reader_is_bounded)
{
    enum { VALUE = 4 << 20, GETS = 20 };
    static const char *const args[] = {"--shards",     "3",   "--placement", "unbound",
                                       "--max-output", "1mb", NULL};
    struct kv_proc p = kv_start(args);
    int fd = kv_connect(p.port), other = kv_connect(p.port);
    char *value = malloc(VALUE), head[64];
    long before, after;

    memset(value, 'v', VALUE);
    for (int k = 0; k < 4; k++) {
        snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$3\r\nv:%d\r\n$%d\r\n", k, VALUE);
        kv_send_str(fd, head);
        kv_send(fd, value, VALUE);
        kv_call(fd, "\r\n", "+OK\r\n");
    }
    before = status_kb(p.pid, "VmRSS:");
    for (int i = 0; i < GETS; i++) {
        snprintf(head, sizeof(head), "GET v:%d\r\n", i % 4);
        kv_send_str(fd, head);
    }
    for (int i = 0; i < 100; i++)
        kv_call(other, "SET x 1\r\nGET x\r\n", "+OK\r\n$1\r\n1\r\n");
    after = status_kb(p.pid, "VmRSS:");
    ck_assert_msg(after - before < 40 * 1024, "the server grew by %ld kB for a slow reader",
                  after - before);
    snprintf(head, sizeof(head), "$%d\r\n", VALUE);
    for (int i = 0; i < GETS; i++) {
        kv_expect(fd, head, "the slow reader's reply");
        kv_expect_bytes(fd, value, VALUE, "the slow reader's value");
        kv_expect(fd, "\r\n", "the slow reader's reply's end");
    }
    free(value);
    close(fd);
    close(other);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

/*
 * A client with a small receive buffer (64 KiB) writes a million GETs (20 MB)
 * before it reads any reply, as a client may that sends a whole pipeline
 * first: 47 MB of replies. Redis reads on and buffers them; a server that
 * stopped reading while replies waited, until the client took them, would
 * wait for a client that waits for it: both stuck for ever, which the
 * deadline below turns into a failure. Then every reply must come, in order.
 */
START_TEST(pipeline_written_before_reading)
{
    enum { GETS = 1000000 };
    static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    static const char value[] = "0123456789012345678901234567890123456789";
    static const char reply[] = "$40\r\n0123456789012345678901234567890123456789\r\n";
    struct kv_proc p = kv_start(three_shards);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    struct timeval tv = {.tv_sec = KV_WAIT_MS / 1000};
    size_t len = GETS * (sizeof(get) - 1), done = 0, want = GETS * (sizeof(reply) - 1);
    char *req = malloc(len), *got = malloc(65536), head[128];
    int fd = kv_connect(p.port), small = 64 * 1024;

    snprintf(head, sizeof(head), "SET k %s\r\n", value);
    kv_call(fd, head, "+OK\r\n");
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    for (size_t i = 0; i < GETS; i++)
        memcpy(req + i * (sizeof(get) - 1), get, sizeof(get) - 1);
    while (done < len) { /* without reading; the server must go on reading */
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        ssize_t n;

        ck_assert_msg(poll(&pf, 1, KV_WAIT_MS) == 1,
                      "the server stopped reading after %zu of %zu bytes of requests", done, len);
        n = send(fd, req + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        ck_assert_msg(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
        done += n > 0 ? (size_t)n : 0;
    }
    for (done = 0; done < want;) { /* every reply, compared as it comes */
        ssize_t n = recv(fd, got, 65536, 0);
        bool same = n > 0 && done + (size_t)n <= want;

        ck_assert_msg(n > 0, "%zu of %zu bytes of replies came", done, want);
        for (ssize_t i = 0; i < n && same; i++, done++) /* one assert per piece: Check's are slow */
            same = got[i] == reply[done % (sizeof(reply) - 1)];
        ck_assert_msg(same, "the replies differ from the expected ones before byte %zu", done);
    }
    kv_call(fd, "PING\r\n", "+PONG\r\n"); /* nothing more came before it */
    free(req);
    free(got);
    close(fd);
    ck_assert_int_eq(kv_stop(&p), 0);
}
END_TEST

Suite *suite_kv_protocol(void)
{
    Suite *s = suite_create("kv_protocol");
    TCase *tc = test_case("parsing");

    tcase_add_test(tc, request_byte_by_byte);
    tcase_add_test(tc, big_binary_values);
    suite_add_tcase(s, tc);
    tc = test_case("bad input");
    tcase_add_test(tc, bad_input_then_good_command);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    tc = test_case("bounded memory");
    tcase_add_test(tc, announced_bulk_allocates_nothing);
    tcase_add_test(tc, slow_reader_is_bounded);
    tcase_add_test(tc, pipeline_written_before_reading);
    suite_add_tcase(s, tc);
    return s;
}
