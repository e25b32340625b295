/*
 * tests/test_kv_resp.c - kv_server's RESP code on its own: the parser fed
 * the same bytes in pieces of different sizes, and the reply writer's
 * empty cases.
 *
 * Like test_kv_store.c, it compiles the file under test into itself: these
 * are promises of resp.h that a client talking to a server cannot check
 * (how the server's reads happened to split the bytes; what an empty write
 * does to a reply buffer that has none yet).
 *
 * Cases: a stream of requests of every form, with an error at the end,
 * gives the same requests and the same error whether it arrives whole, a
 * byte at a time, or in pieces of 2 or 7 bytes; the limits at their very
 * edges, which a server cannot be made to see exactly (how its receives
 * split the bytes is up to the kernel): an inline line of exactly 64 KiB
 * without its newline waits and one byte more is refused, and so for an
 * unfinished request of exactly max_query bytes; a NUL hides an inline
 * line's newline, as Redis's strchr() does; writing nothing into a fresh
 * reply, and an empty bulk from a NULL pointer, are well defined
 * (clang's UndefinedBehaviorSanitizer stopped on both before); and once a
 * request of 100,000 arguments has been served, the parser gives back the
 * arrays it needed for them (a connection kept 32 bytes per argument of
 * its biggest request for as long as it was open).
 */
#include "harness.h"

#undef fail /* check.h's old fail() macro; resp.c has a function of that name */
#include "phase4-pool/examples/kv_server/resp.c"

TEST_SINCE_PHASE(4);

/*
 * Feed `len` bytes of `in` to a fresh parser, at most `piece` bytes per
 * resp_received() (0: as many as resp_space() has room for), and write what
 * it hands out to `log`: each request as its argument count and its
 * arguments, each in brackets, then "error: <reply>" or "more".
 */
static void parse_in_pieces(const char *in, size_t len, size_t piece, struct resp_out *log)
{
    struct resp_parser p;
    size_t fed = 0;

    resp_parser_init(&p, 512 << 20, (size_t)1 << 30);
    for (;;) {
        struct resp_arg *argv;
        size_t argc, room, n;
        char *space;
        int r = resp_next(&p, &argc, &argv);

        if (r == 1) {
            resp_out_prefixed(log, '#', (long long)argc);
            for (size_t i = 0; i < argc; i++) {
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
        if (fed == len) {
            resp_out_str(log, "more");
            break;
        }
        space = resp_space(&p, &room);
        ck_assert_uint_gt(room, 0);
        n = len - fed;
        if (n > room)
            n = room;
        if (piece > 0 && n > piece)
            n = piece;
        memcpy(space, in + fed, n);
        resp_received(&p, n);
        fed += n;
    }
    resp_parser_free(&p);
}

START_TEST(pieces_of_any_size_give_the_same_requests)
{
    /*
     * Multibulk with binary bytes (a CRLF and a NUL inside a bulk), empty
     * requests (skipped), inline with both quotes and escapes, an empty bulk,
     * and a bulk length that is not a number.
     */
    static const char stream[] = "*2\r\n$3\r\nGET\r\n$5\r\na\r\n\0b\r\n"
                                 "\r\n*0\r\n*-1\r\n"
                                 "SET \"k 1\" 'v\\'s' \"\\x41\\n\"\r\n"
                                 "PING\n"
                                 "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$2\r\nxy\r\n"
                                 "*1\r\n$x\r\n";
    /* Four requests, then Redis's error for that length. */
    static const char expected[] = "#2\r\n[GET][a\r\n\0b]"
                                   "#4\r\n[SET][k 1][v's][A\n]"
                                   "#1\r\n[PING]"
                                   "#3\r\n[SET][][xy]"
                                   "error: -ERR Protocol error: invalid bulk length\r\n";
    static const size_t pieces[] = {0, 1, 2, 7}; /* 0: as much as there is room for */

    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        struct resp_out log = {0};

        parse_in_pieces(stream, sizeof(stream) - 1, pieces[i], &log);
        ck_assert_msg(log.len == sizeof(expected) - 1 && memcmp(log.buf, expected, log.len) == 0,
                      "pieces of %zu bytes: %.*s", pieces[i], (int)log.len, log.buf);
        resp_out_free(&log);
    }
}
END_TEST

/* Give the parser `len` bytes of `in`, as many per resp_received() as resp_space() has room for. */
static void feed(struct resp_parser *p, const char *in, size_t len)
{
    while (len > 0) {
        size_t room;
        char *space = resp_space(p, &room);
        size_t n = len < room ? len : room;

        ck_assert_uint_gt(room, 0);
        memcpy(space, in, n);
        resp_received(p, n);
        in += n;
        len -= n;
    }
}

/*
 * An inline line may be RESP_INLINE_MAX (64 KiB) bytes long without its
 * newline, as in Redis (PROTO_INLINE_MAX_SIZE: refused when more than that
 * has come): 65,536 bytes wait for more, and with their CRLF they are one
 * request; one byte more without a newline is "too big inline request".
 */
START_TEST(an_inline_line_of_exactly_64_kib_is_accepted)
{
    enum { MAX = RESP_INLINE_MAX };
    char *line = malloc(MAX + 3);
    struct resp_parser p;
    struct resp_arg *argv;
    size_t argc;

    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(MAX, 65536);
    memset(line, 'a', MAX + 1);
    memcpy(line + MAX, "\r\n", 2);
    resp_parser_init(&p, 512 << 20, (size_t)1 << 30);
    feed(&p, line, MAX);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), 0);
    feed(&p, line + MAX, 2);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), 1);
    ck_assert_uint_eq(argc, 1);
    ck_assert_uint_eq(argv[0].len, MAX);
    resp_parser_free(&p);

    memset(line, 'a', MAX + 1);
    resp_parser_init(&p, 512 << 20, (size_t)1 << 30);
    feed(&p, line, MAX + 1);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), -1);
    ck_assert_str_eq(p.error, "-ERR Protocol error: too big inline request\r\n");
    resp_parser_free(&p);
    free(line);
}
END_TEST

/*
 * Redis finds an inline line's end with strchr(), which stops at a NUL: in
 * "PING\0\r\n" the newline is not seen, so the line goes on into the next
 * one, and once more than 64 KiB of it has come without a newline it is too
 * big. Redis 7.0.15 answers "PING\0\r\n", 70,000 bytes and a CRLF with the
 * error alone (checked against a real redis-server), not with a PONG first.
 */
START_TEST(a_nul_hides_the_end_of_an_inline_line)
{
    enum { FILL = 70000 };
    static const char expected[] = "error: -ERR Protocol error: too big inline request\r\n";
    static const size_t pieces[] = {0, 1000}; /* 0: as much as there is room for */
    size_t len = 7 + FILL + 2;
    char *in = malloc(len);

    ck_assert_ptr_nonnull(in);
    memcpy(in, "PING\0\r\n", 7);
    memset(in + 7, 'a', FILL);
    memcpy(in + 7 + FILL, "\r\n", 2);
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        struct resp_out log = {0};

        parse_in_pieces(in, len, pieces[i], &log);
        ck_assert_msg(log.len == sizeof(expected) - 1 && memcmp(log.buf, expected, log.len) == 0,
                      "pieces of %zu bytes: %.*s", pieces[i], (int)(log.len < 200 ? log.len : 200),
                      log.buf);
        resp_out_free(&log);
    }
    free(in);
}
END_TEST

/*
 * max_query bounds a request from its first byte to its last: an unfinished
 * request of exactly max_query bytes waits for the rest, and the byte after
 * them is "request exceeds the query buffer limit" (64 bytes here, a request
 * whose bulk would need 100).
 */
START_TEST(an_unfinished_request_of_max_query_bytes_waits)
{
    enum { MAX_QUERY = 64 };
    static const char head[] = "*2\r\n$4\r\nECHO\r\n$100\r\n";
    char in[MAX_QUERY + 1];
    struct resp_parser p;
    struct resp_arg *argv;
    size_t argc;

    memcpy(in, head, sizeof(head) - 1);
    memset(in + sizeof(head) - 1, 'v', sizeof(in) - (sizeof(head) - 1));
    resp_parser_init(&p, 1000, MAX_QUERY);
    feed(&p, in, MAX_QUERY);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), 0);
    feed(&p, in + MAX_QUERY, 1);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), -1);
    ck_assert_str_eq(p.error, "-ERR Protocol error: request exceeds the query buffer limit\r\n");
    resp_parser_free(&p);
}
END_TEST

START_TEST(empty_writes_are_well_defined)
{
    struct resp_out o = {0};

    /* Nothing, into a reply that has no buffer yet: it stays empty. */
    resp_out_bytes(&o, "", 0);
    resp_out_str(&o, "");
    ck_assert_uint_eq(o.len, 0);
    /* An empty bulk may come as NULL. */
    resp_out_bulk(&o, NULL, 0);
    ck_assert_uint_eq(o.len, 6);
    ck_assert_int_eq(memcmp(o.buf, "$0\r\n\r\n", 6), 0);
    resp_out_free(&o);
}
END_TEST

START_TEST(a_request_of_many_arguments_leaves_no_arrays_behind)
{
    enum { ARGS = 100000 };
    struct resp_parser p;
    struct resp_arg *argv;
    size_t argc, room, at = 0;
    char *space;
    struct resp_out in = {0};

    resp_out_prefixed(&in, '*', ARGS + 1);
    resp_out_bulk(&in, "EXISTS", 6);
    for (int i = 0; i < ARGS; i++)
        resp_out_bulk(&in, "k", 1);
    resp_parser_init(&p, 512 << 20, (size_t)1 << 30);
    while (resp_next(&p, &argc, &argv) == 0) {
        ck_assert_uint_lt(at, in.len); /* the request is whole before the bytes run out */
        space = resp_space(&p, &room);
        room = room < in.len - at ? room : in.len - at;
        memcpy(space, in.buf + at, room);
        resp_received(&p, room);
        at += room;
    }
    ck_assert_uint_eq(argc, ARGS + 1);
    ck_assert_uint_ge(p.arg_cap, ARGS + 1);
    ck_assert_uint_ge(p.argv_cap, ARGS + 1);
    /* Served: the next receive starts from a parser that holds no more than a small one would. */
    ck_assert_int_eq(resp_next(&p, &argc, &argv), 0);
    space = resp_space(&p, &room);
    ck_assert_uint_le(p.arg_cap, 1024);
    ck_assert_uint_le(p.argv_cap, 1024);
    memcpy(space, "*1\r\n$4\r\nPING\r\n", 14);
    resp_received(&p, 14);
    ck_assert_int_eq(resp_next(&p, &argc, &argv), 1);
    ck_assert_uint_eq(argc, 1);
    ck_assert_int_eq(memcmp(argv[0].p, "PING", 4), 0);
    resp_parser_free(&p);
    resp_out_free(&in);
}
END_TEST

Suite *suite_kv_resp(void)
{
    Suite *s = suite_create("kv_resp");
    TCase *tc = test_case("resp");

    tcase_add_test(tc, pieces_of_any_size_give_the_same_requests);
    tcase_add_test(tc, an_inline_line_of_exactly_64_kib_is_accepted);
    tcase_add_test(tc, a_nul_hides_the_end_of_an_inline_line);
    tcase_add_test(tc, an_unfinished_request_of_max_query_bytes_waits);
    tcase_add_test(tc, empty_writes_are_well_defined);
    tcase_add_test(tc, a_request_of_many_arguments_leaves_no_arrays_behind);
    suite_add_tcase(s, tc);
    return s;
}
