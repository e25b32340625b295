/*
 * resp.h - RESP2, the protocol of Redis clients, as a server reads and writes it.
 *
 * A request comes in one of two forms, told apart by its first byte:
 *
 *   multibulk  *2\r\n$3\r\nGET\r\n$1\r\nk\r\n   what client libraries send: a count,
 *              then each argument as a length and that many bytes (binary-safe)
 *   inline     GET k\r\n                         what a person types into telnet:
 *              words split at blanks, with "..." and '...' quoting
 *
 * The parser is incremental: bytes are added as they arrive, in pieces of any
 * size, and each call hands out the next complete request, or says that more
 * bytes are needed. It follows Redis 7.0's networking.c step by step, so that
 * malformed input gets Redis's own error text (and, where Redis does not check
 * something, such as the CRLF after a bulk, it does not check it either).
 * How the bytes were split into pieces changes nothing, with one exception
 * that Redis has too: a line (inline request, count or length) longer than
 * RESP_INLINE_MAX is refused only when more than that much of it has arrived
 * without its end, so whether the same line passes depends on where its pieces
 * end.
 *
 * Memory grows only as bytes arrive. A client announcing a 500 MB bulk and
 * sending nothing costs a 16 KiB buffer; each receive asks for at most as many
 * bytes as the request has brought so far (and 1 MiB at most), so the buffer at
 * most doubles what was received. Two limits bound it, Redis's:
 *   max_bulk   the longest argument (proto-max-bulk-len, 512 MB by default);
 *   max_query  the longest request, from its first byte to its last
 *              (client-query-buffer-limit, 1 GB by default). Redis counts the
 *              unparsed bytes of whatever it last read; counting the whole
 *              request does not depend on how the bytes were split into reads.
 *
 * Replies are written with the resp_out_* functions into a growing buffer.
 * A zero-filled struct resp_out is an empty one; `p` may be NULL when `n` is 0.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Redis's PROTO_INLINE_MAX_SIZE: the longest inline request, or count line, without a newline. */
#define RESP_INLINE_MAX (64 * 1024)

/* One argument of a request: bytes inside the parser's buffer; any byte may appear in them. */
struct resp_arg {
    const char *p;
    size_t len;
};

/* Where an argument of the request being parsed lies, from the request's first byte. */
struct resp_span {
    size_t off, len;
};

struct resp_parser {
    /* [0, start): requests already handed out; [start, len): the next one and what follows. */
    char *buf;
    size_t cap;   /* bytes allocated */
    size_t len;   /* bytes received */
    size_t start; /* first byte of the request being parsed */
    size_t pos;   /* how far parsing of that request has got, from `start` */

    size_t max_bulk;  /* longest argument */
    size_t max_query; /* longest request */

    /* The request being parsed. */
    char kind;             /* 0 until its first byte is seen, then '*' (multibulk) or 'i' */
    long long bulks_left;  /* multibulk: arguments still to come; -1 before the count line */
    long long bulk_len;    /* multibulk: length of the argument being read; -1 before its line */
    struct resp_span *arg; /* its arguments so far */
    size_t nargs, arg_cap;

    /* What resp_next() hands out. */
    struct resp_arg *argv;
    size_t argv_cap;
    char error[96]; /* after resp_next() returned -1: the error reply, "-ERR ...\r\n" */
};

void resp_parser_init(struct resp_parser *p, size_t max_bulk, size_t max_query);
void resp_parser_free(struct resp_parser *p);

/*
 * Where the next bytes go, and how many may go there (*room > 0). Call it only
 * when resp_next() has returned 0 and no argument it handed out is in use: it
 * moves the request being received to the front of the buffer, and may grow
 * or shrink the buffer. Then receive into it and call resp_received().
 */
char *resp_space(struct resp_parser *p, size_t *room);
void resp_received(struct resp_parser *p, size_t n);

/*
 * The next request. Returns 1 with its arguments in *argv (*argc >= 1; they
 * stay valid until resp_space() is called), 0 if more bytes are needed, or -1
 * for a protocol error: p->error holds the reply, after which Redis closes
 * the connection. Empty requests (a blank line, *0) are skipped, as in Redis.
 */
int resp_next(struct resp_parser *p, size_t *argc, struct resp_arg **argv);

/* Redis's string2ll (util.c): a whole string as a long long, strictly (no blanks, no +, no
 * leading zeros). 1 if it is one. */
int resp_strtoll(const char *s, size_t len, long long *out);

/* What Redis's C code sees in an argument: compared with strcasecmp (up to its first NUL), equal
 * to `word` ignoring case; the length of that C string (printf's %s); an integer, strictly. */
bool resp_arg_is(const struct resp_arg *a, const char *word);
int resp_arg_cstr_len(const struct resp_arg *a);
bool resp_arg_ll(const struct resp_arg *a, long long *out);

/* ------------------------------------------------------------------ replies */

struct resp_out {
    char *buf;
    size_t len, cap;
};

void resp_out_free(struct resp_out *o);
void resp_out_bytes(struct resp_out *o, const void *p, size_t n);
void resp_out_str(struct resp_out *o, const char *s);               /* a C string, as is */
void resp_out_prefixed(struct resp_out *o, char type, long long n); /* ":n\r\n", "*n\r\n"... */
void resp_out_bulk(struct resp_out *o, const void *p, size_t n);    /* "$n\r\n<bytes>\r\n" */
void resp_out_bulk_str(struct resp_out *o, const char *s);

/*
 * An error built from a format, as Redis's addReplyErrorFormat: CR and LF at
 * either end are trimmed, those inside become spaces (they would end the
 * reply), and "-ERR " is put in front unless the text starts with '-'.
 */
void resp_out_errorf(struct resp_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* KV_RESP_H */
