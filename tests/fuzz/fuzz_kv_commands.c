/*
 * tests/fuzz/fuzz_kv_commands.c - kv_server's commands under libFuzzer.
 *
 * `make fuzz` builds it with clang (-fsanitize=fuzzer,address,undefined) and
 * runs it; see the Makefile's fuzz target for how long.
 *
 * The input's first byte picks a number of shards, 1 to 4; the rest is a
 * stream of requests, taken apart by the RESP parser as the server does (up
 * to 64 of them). Each goes through the three steps of commands.h on those
 * shards' stores, in one thread: cmd_prepare(), cmd_apply() on every shard
 * (a shard that owns none of its keys does nothing), cmd_reply(), and then
 * the lent values given back and cmd_done(), as server.c does. A request
 * the server would drop unanswered (ROUTE_CLOSE) gets no reply here either.
 * The clock moves a second per request, so expire times pass, and after
 * each request every store is offered a shrink (store_shrink()), which the
 * server's sweeper may do between any two requests.
 *
 * What must hold: no crash, no sanitizer report, no leak (the stores are
 * emptied after each input, so LeakSanitizer sees anything left over), and
 * each reply is exactly one complete RESP2 reply: a client reads replies
 * back to back, so one byte too many or too few would put it out of step
 * for the rest of the connection. Which reply is right is the business of
 * tests/test_kv_replies.c and respdiff.py; this checks every command's
 * shape on inputs nobody wrote by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4-pool/examples/kv_server/commands.h"
#include "phase4-pool/examples/kv_server/resp.h"
#include "phase4-pool/examples/kv_server/store.h"

#define MAX_SHARDS   4
#define MAX_REQUESTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The length of the RESP2 reply at the start of p[0, n), if one is there
 * whole, else 0: a line of '+' (status), '-' (error) or ':' (integer), or a
 * bulk ('$' and a length, -1 for nil) or an array ('*' and a count, -1 for
 * nil) with what follows. A line ends in CRLF and has no CR before it.
 */
static size_t reply_len(const char *p, size_t n, int depth)
{
    const char *lf = n >= 3 ? memchr(p, '\n', n) : NULL;
    size_t line, off;
    long long v;

    if (!lf || lf - p < 2 || lf[-1] != '\r' || depth > 8)
        return 0;
    line = (size_t)(lf - p) + 1;
    if (memchr(p, '\r', line - 2))
        return 0;
    switch (p[0]) {
    case '+':
    case '-':
        return line;
    case ':':
        return resp_strtoll(p + 1, line - 3, &v) ? line : 0;
    case '$':
        if (!resp_strtoll(p + 1, line - 3, &v) || v < -1)
            return 0;
        if (v == -1)
            return line;
        if (n - line < 2 || (unsigned long long)v > n - line - 2 || p[line + v] != '\r' ||
            p[line + v + 1] != '\n')
            return 0;
        return line + (size_t)v + 2;
    case '*':
        if (!resp_strtoll(p + 1, line - 3, &v) || v < -1)
            return 0;
        off = line;
        for (long long i = 0; i < v; i++) {
            size_t k = reply_len(p + off, n - off, depth + 1);

            if (k == 0)
                return 0;
            off += k;
        }
        return off;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kv_store stores[MAX_SHARDS];
    static bool made;
    struct kv_config cfg = {.host = "127.0.0.1",
                            .port = 6379,
                            .max_bulk = 1000,
                            .max_query = 4000,
                            .max_output = 1 << 20};
    struct kv_client client = {.cfg = &cfg, .id = 1};
    struct resp_parser in;
    struct resp_out out = {0};
    int64_t now = 1700000000000; /* Unix ms: November 2023 */
    size_t room;
    char *space;

    if (size < 1)
        return 0;
    if (!made) {
        for (unsigned s = 0; s < MAX_SHARDS; s++)
            store_init(&stores[s]);
        made = true;
    }
    cfg.shards = data[0] % MAX_SHARDS + 1;
    data++;
    size--;
    resp_parser_init(&in, cfg.max_bulk, cfg.max_query);
    space = resp_space(&in, &room);
    if (size > room)
        size = room;
    memcpy(space, data, size);
    resp_received(&in, size);
    for (int k = 0; k < MAX_REQUESTS; k++) {
        struct kv_request r;
        struct resp_arg *argv;
        size_t argc, before = out.len;
        enum cmd_route route;

        if (resp_next(&in, &argc, &argv) <= 0)
            break; /* more bytes needed, or a protocol error: the parser's business */
        route = cmd_prepare(&r, argc, argv, cfg.shards, now);
        if (route == ROUTE_KEYS)
            for (unsigned s = 0; s < cfg.shards; s++)
                cmd_apply(&r, s, &stores[s], now);
        if (route != ROUTE_CLOSE) {
            cmd_reply(&r, &client, &out);
            if (reply_len(out.buf + before, out.len - before, 0) != out.len - before) {
                fprintf(stderr, "fuzz_kv_commands: not one RESP2 reply to %.*s: %.*s\n",
                        (int)argv[0].len, argv[0].p, (int)(out.len - before), out.buf + before);
                abort();
            }
        }
        for (size_t i = 0; i < r.nres; i++)
            if (r.res[i].value)
                kv_value_unref(r.res[i].value);
        cmd_done(&r);
        for (unsigned s = 0; s < cfg.shards; s++)
            store_shrink(&stores[s]);
        if (route == ROUTE_QUIT || route == ROUTE_CLOSE)
            break;
        now += 1000;
    }
    for (unsigned s = 0; s < cfg.shards; s++)
        store_flush(&stores[s]);
    free(client.name);
    resp_parser_free(&in);
    resp_out_free(&out);
    return 0;
}
