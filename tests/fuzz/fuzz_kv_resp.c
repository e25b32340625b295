/*
 * tests/fuzz/fuzz_kv_resp.c - kv_server's RESP parser under libFuzzer.
 *
 * `make fuzz` builds it with clang (-fsanitize=fuzzer,address,undefined) and
 * runs it; see the Makefile's fuzz target for how long.
 *
 * The input is split in two: its first byte says how many of the next
 * bytes (0 to 7) are cuts, the sizes of the pieces (1 to 16 bytes each,
 * taken in turn) in which the rest arrives. That rest is parsed three times:
 * whole, in those pieces, and a byte at a time. resp.h promises that how
 * the bytes were split changes nothing (its one exception, a line longer
 * than RESP_INLINE_MAX, needs more bytes than libFuzzer is given here), so
 * the three must hand out the same requests and end the same way, the same
 * error or "more". Every argument must lie inside the bytes received. The
 * limits are small (100-byte arguments, 300-byte requests), so that short
 * inputs reach them. Any difference, crash or sanitizer report stops the
 * run with the input saved (crash-*), to replay with
 * `build/fuzz/fuzz_kv_resp crash-...`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phase4-pool/examples/kv_server/resp.c"

#define MAX_BULK  100
#define MAX_QUERY 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run: libFuzzer saves the input. */
static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_kv_resp: %s\n", what);
        abort();
    }
}

/*
 * Feed `len` bytes of `in` to a fresh parser in pieces of cuts[k] % 16 + 1
 * bytes, k taken in turn (ncuts 0: as many as resp_space() has room for),
 * and write what it hands out to `log`: each request as its argument count
 * and its arguments in brackets, then "error: <reply>" or "more".
 */
static void parse(const uint8_t *in, size_t len, const uint8_t *cuts, size_t ncuts,
                  struct resp_out *log)
{
    struct resp_parser p;
    size_t fed = 0, k = 0;

    resp_parser_init(&p, MAX_BULK, MAX_QUERY);
    for (;;) {
        struct resp_arg *argv;
        size_t argc, room, n;
        char *space;
        int r = resp_next(&p, &argc, &argv);

        if (r == 1) {
            check(argc >= 1, "a request with no arguments");
            resp_out_prefixed(log, '#', (long long)argc);
            for (size_t i = 0; i < argc; i++) {
                check(argv[i].p >= p.buf && argv[i].len <= p.len &&
                          (size_t)(argv[i].p - p.buf) <= p.len - argv[i].len,
                      "an argument outside the bytes received");
                resp_out_bytes(log, "[", 1);
                resp_out_bytes(log, argv[i].p, argv[i].len);
                resp_out_bytes(log, "]", 1);
            }
            continue;
        }
        if (r < 0) {
            resp_out_str(log, "error: ");
            resp_out_str(log, p.error);
            break;
        }
        check(r == 0, "resp_next() returned something other than -1, 0 or 1");
        if (fed == len) {
            resp_out_str(log, "more");
            break;
        }
        space = resp_space(&p, &room);
        check(room > 0, "resp_space() gave no room");
        n = len - fed;
        if (n > room)
            n = room;
        if (ncuts > 0 && n > (size_t)cuts[k % ncuts] % 16 + 1)
            n = (size_t)cuts[k % ncuts] % 16 + 1;
        k++;
        memcpy(space, in + fed, n);
        resp_received(&p, n);
        fed += n;
    }
    resp_parser_free(&p);
}

static bool same(const struct resp_out *a, const struct resp_out *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one_byte[] = {0}; /* 0 % 16 + 1: a byte at a time */
    struct resp_out whole = {0}, pieces = {0}, bytes = {0};
    size_t ncuts;

    if (size < 1 || size < 1 + (size_t)data[0] % 8)
        return 0;
    ncuts = data[0] % 8;
    data++;
    size--;
    parse(data + ncuts, size - ncuts, NULL, 0, &whole);
    parse(data + ncuts, size - ncuts, data, ncuts, &pieces);
    parse(data + ncuts, size - ncuts, one_byte, 1, &bytes);
    if (!same(&whole, &pieces) || !same(&whole, &bytes)) {
        fprintf(stderr, "whole:          %.*s\nin pieces:      %.*s\na byte at a time: %.*s\n",
                (int)whole.len, whole.buf, (int)pieces.len, pieces.buf, (int)bytes.len, bytes.buf);
        check(false, "the requests depend on how the bytes were split");
    }
    resp_out_free(&whole);
    resp_out_free(&pieces);
    resp_out_free(&bytes);
    return 0;
}
