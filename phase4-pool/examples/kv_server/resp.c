/*
 * resp.c - the RESP2 request parser and the reply writer. See resp.h.
 *
 * The parsing functions mirror Redis 7.0's processInlineBuffer and
 * processMultibulkBuffer (networking.c), with one difference in memory: Redis
 * copies each argument out of its query buffer as soon as it is complete,
 * and allocates a big argument's whole length the moment its length line
 * arrives; here every argument stays where it was received, and the buffer
 * grows only with the bytes that came. So a request is parsed over several
 * calls by remembering where its arguments lie (offsets from its first byte,
 * which stay right when the buffer moves).
 */
#include "resp.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define READ_MIN   (16 * 1024)   /* Redis's PROTO_IOBUF_LEN: a receive asks for at least this */
#define READ_MAX   (1024 * 1024) /* and at most this: one io_uring request's RT_IO_MAX */
#define KEEP_BELOW (64 * 1024)   /* an empty buffer bigger than this is freed (a big value left) */
#define ARGS_KEEP  1024          /* and argument arrays for more than this many (16 KiB each) */

void resp_parser_init(struct resp_parser *p, size_t max_bulk, size_t max_query)
{
    /* max_query + 1 must not wrap around: half the address space is no limit either. */
    if (max_query > SIZE_MAX / 2)
        max_query = SIZE_MAX / 2;
    *p = (struct resp_parser){
        .max_bulk = max_bulk, .max_query = max_query, .bulks_left = -1, .bulk_len = -1};
}

void resp_parser_free(struct resp_parser *p)
{
    free(p->buf);
    free(p->arg);
    free(p->argv);
    *p = (struct resp_parser){0};
}

/* ------------------------------------------------------------------ buffer */

/* How many bytes the next receive should ask for: more while a long bulk comes in. */
static size_t read_size(const struct resp_parser *p)
{
    size_t got = p->len - p->start, want = READ_MIN;

    if (p->kind == '*' && p->bulk_len >= 0) {
        /* The bytes this bulk still needs (with its CRLF), but never more than have come so far:
         * a length line alone does not make us allocate. */
        size_t need = (size_t)p->bulk_len + 2 - (got - p->pos);

        want = need < got ? need : got;
        want = want < READ_MIN ? READ_MIN : want > READ_MAX ? READ_MAX : want;
    }
    /* Never hold more than max_query + 1 bytes of one request: one byte over says "too long". */
    if (want > p->max_query + 1 - got)
        want = p->max_query + 1 - got;
    return want;
}

char *resp_space(struct resp_parser *p, size_t *room)
{
    size_t partial = p->len - p->start, want;

    /* The requests handed out are done with: keep only the one being received. */
    if (p->start > 0) {
        memmove(p->buf, p->buf + p->start, partial);
        p->len = partial;
        p->start = 0;
    }
    if (partial == 0 && p->cap > KEEP_BELOW) {
        free(p->buf); /* a big request has gone: do not keep its memory for a small one */
        p->buf = NULL;
        p->cap = 0;
    }
    if (partial == 0 && p->nargs == 0 && p->arg_cap > ARGS_KEEP) {
        free(p->arg); /* nor the arrays of a request of many arguments: 32 bytes each */
        free(p->argv);
        p->arg = NULL;
        p->argv = NULL;
        p->arg_cap = p->argv_cap = 0;
    }
    want = read_size(p);
    if (p->cap - p->len < want) {
        /* Double (so that a long request is copied O(1) times), but not past the limit. */
        size_t cap = p->cap * 2 > p->len + want ? p->cap * 2 : p->len + want;

        if (cap > p->max_query + 1)
            cap = p->max_query + 1; /* still >= len + want: read_size() saw to that */
        p->buf = xrealloc(p->buf, cap);
        p->cap = cap;
    }
    /* Only `want`, even with more room: a receive's buffer is allocated at the size asked for. */
    *room = want;
    return p->buf + p->len;
}

void resp_received(struct resp_parser *p, size_t n)
{
    p->len += n;
}

/* ------------------------------------------------------------------ parsing */

int resp_strtoll(const char *s, size_t len, long long *out)
{
    unsigned long long v;
    size_t i = 0;
    int negative = 0;

    /* 21 bytes (LONG_STR_SIZE) cannot hold a 64-bit number in this strict form. */
    if (len == 0 || len >= 21)
        return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        negative = 1;
        if (++i == len)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0; /* no leading zeros, blanks or '+' */
    for (v = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (ULLONG_MAX - (unsigned)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (i < len)
        return 0;
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/*
 * Redis looks for line ends with strchr() on its NUL-terminated buffer, so a
 * NUL byte before the character hides it. Do the same: the first `c` at or
 * after `from`, unless a NUL comes first. NULL: not there (yet).
 */
static const char *find(const struct resp_parser *p, size_t from, char c)
{
    const char *s = p->buf + from;
    const char *hit = memchr(s, c, p->len - from);

    if (memchr(s, '\0', hit ? (size_t)(hit - s) : p->len - from))
        return NULL;
    return hit;
}

static int fail(struct resp_parser *p, const char *what)
{
    snprintf(p->error, sizeof(p->error), "-ERR Protocol error: %s\r\n", what);
    return -1;
}

static void add_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->nargs == p->arg_cap) {
        p->arg_cap = p->arg_cap ? p->arg_cap * 2 : 8;
        p->arg = xrealloc(p->arg, p->arg_cap * sizeof(*p->arg));
    }
    p->arg[p->nargs++] = (struct resp_span){off, len};
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* What a backslash followed by `e` stands for inside double quotes. */
static char unescape(char e)
{
    switch (e) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return e;
    }
}

/*
 * Split the inline line [s, end) into arguments as Redis's sdssplitargs does,
 * writing each argument back over the line itself (an argument is never
 * longer than the text it came from, so writing never overtakes reading).
 * Offsets are from `base`. Returns 0, or -1 for unbalanced quotes.
 */
static int split_inline(struct resp_parser *p, char *base, char *s, char *end)
{
#define AT(q) ((q) < end ? *(q) : '\0') /* the line ends as if NUL-terminated, as in Redis */
    char *w = s;

    for (;;) {
        char *arg;
        int inq = 0, insq = 0, done = 0;

        while (s < end && is_blank(*s))
            s++;
        if (s == end)
            return 0;
        arg = w;
        while (!done) {
            char c = AT(s);

            if (inq) {
                if (c == '\\' && AT(s + 1) == 'x' && hex(AT(s + 2)) >= 0 && hex(AT(s + 3)) >= 0) {
                    *w++ = (char)(hex(s[2]) * 16 + hex(s[3]));
                    s += 3;
                } else if (c == '\\' && AT(s + 1)) {
                    *w++ = unescape(*++s);
                } else if (c == '"') {
                    if (AT(s + 1) && !is_blank(AT(s + 1)))
                        return -1; /* a closing quote must be followed by a blank or the end */
                    done = 1;
                } else if (!c) {
                    return -1; /* unterminated quotes */
                } else {
                    *w++ = c;
                }
            } else if (insq) {
                if (c == '\\' && AT(s + 1) == '\'') {
                    s++;
                    *w++ = '\'';
                } else if (c == '\'') {
                    if (AT(s + 1) && !is_blank(AT(s + 1)))
                        return -1;
                    done = 1;
                } else if (!c) {
                    return -1;
                } else {
                    *w++ = c;
                }
            } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0') {
                done = 1;
            } else if (c == '"') {
                inq = 1;
            } else if (c == '\'') {
                insq = 1;
            } else {
                *w++ = c;
            }
            if (s < end)
                s++;
        }
        add_arg(p, (size_t)(arg - base), (size_t)(w - arg));
    }
#undef AT
}

/* An inline request: one line. 1 complete, 0 need more, -1 error. */
static int parse_inline(struct resp_parser *p)
{
    const char *nl = find(p, p->start, '\n');
    char *line = p->buf + p->start, *end;

    if (!nl) {
        if (p->len - p->start > RESP_INLINE_MAX)
            return fail(p, "too big inline request");
        return 0;
    }
    end = (char *)nl;
    if (end != line && end[-1] == '\r')
        end--;
    if (split_inline(p, line, line, end) < 0)
        return fail(p, "unbalanced quotes in request");
    p->pos = (size_t)(nl - line) + 1;
    return 1;
}

/*
 * A line "<type><number>\r" at `at`: its end (the CR), or NULL with *r set:
 * 0 (the line is not all here yet) or -1 (too long: `what`).
 */
static const char *number_line(struct resp_parser *p, size_t at, const char *what, int *r)
{
    const char *cr = find(p, at, '\r');

    *r = 0;
    if (!cr) {
        if (p->len - at > RESP_INLINE_MAX)
            *r = fail(p, what);
        return NULL;
    }
    /* The LF after the CR must have arrived too (Redis does not check that it is an LF). */
    if ((size_t)(cr - (p->buf + at)) + 2 > p->len - at)
        return NULL;
    return cr;
}

/* A multibulk request, continued from where the last call stopped. 1, 0 or -1 as above. */
static int parse_multibulk(struct resp_parser *p)
{
    long long n;
    int r;

    if (p->bulks_left < 0) {
        const char *cr = number_line(p, p->start, "too big mbulk count string", &r);

        if (!cr)
            return r;
        if (!resp_strtoll(p->buf + p->start + 1, (size_t)(cr - (p->buf + p->start + 1)), &n) ||
            n > INT_MAX)
            return fail(p, "invalid multibulk length");
        p->pos = (size_t)(cr - (p->buf + p->start)) + 2;
        p->bulks_left = n > 0 ? n : 0; /* *0 and *-1 are empty requests */
    }
    while (p->bulks_left > 0) {
        size_t at = p->start + p->pos;

        if (p->bulk_len < 0) {
            const char *cr = number_line(p, at, "too big bulk count string", &r);

            if (!cr)
                return r;
            if (p->buf[at] != '$') {
                char c = p->buf[at] == '\r' || p->buf[at] == '\n' ? ' ' : p->buf[at];

                snprintf(p->error, sizeof(p->error),
                         "-ERR Protocol error: expected '$', got '%c'\r\n", c);
                return -1;
            }
            if (!resp_strtoll(p->buf + at + 1, (size_t)(cr - (p->buf + at + 1)), &n) || n < 0 ||
                (unsigned long long)n > p->max_bulk)
                return fail(p, "invalid bulk length");
            p->pos = (size_t)(cr - (p->buf + p->start)) + 2;
            p->bulk_len = n;
            at = p->start + p->pos;
        }
        /* The bulk and the two bytes after it, which Redis skips without looking at them. */
        if (p->len - at < (size_t)p->bulk_len + 2)
            return 0;
        add_arg(p, p->pos, (size_t)p->bulk_len);
        p->pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->bulks_left--;
    }
    return 1;
}

/* The request is complete: hand out its arguments and start on the next one. */
static void take_request(struct resp_parser *p, size_t *argc, struct resp_arg **argv)
{
    if (p->argv_cap < p->nargs) {
        p->argv_cap = p->nargs;
        p->argv = xrealloc(p->argv, p->argv_cap * sizeof(*p->argv));
    }
    for (size_t i = 0; i < p->nargs; i++)
        p->argv[i] = (struct resp_arg){p->buf + p->start + p->arg[i].off, p->arg[i].len};
    *argc = p->nargs;
    *argv = p->argv;
}

int resp_next(struct resp_parser *p, size_t *argc, struct resp_arg **argv)
{
    while (p->start < p->len) {
        int r;

        if (!p->kind)
            p->kind = p->buf[p->start] == '*' ? '*' : 'i';
        r = p->kind == '*' ? parse_multibulk(p) : parse_inline(p);
        if (r < 0)
            return r;
        if (r == 0 && p->len - p->start <= p->max_query)
            return 0;
        if (r == 0 || p->pos > p->max_query)
            return fail(p, "request exceeds the query buffer limit");
        if (p->nargs > 0)
            take_request(p, argc, argv);
        p->start += p->pos;
        p->pos = 0;
        p->kind = 0;
        p->bulks_left = -1;
        p->bulk_len = -1;
        if (p->nargs > 0) {
            p->nargs = 0;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ arguments */

/* The argument as strcasecmp sees it (up to its first NUL) equals `word`, ignoring case. */
bool resp_arg_is(const struct resp_arg *a, const char *word)
{
    size_t n = strlen(word);

    return a->len >= n && strncasecmp(a->p, word, n) == 0 && (a->len == n || a->p[n] == '\0');
}

/* The bytes of the argument before its first NUL: what printf's %s would print. */
int resp_arg_cstr_len(const struct resp_arg *a)
{
    const char *nul = memchr(a->p, '\0', a->len);
    size_t n = nul ? (size_t)(nul - a->p) : a->len;

    return n > INT_MAX ? INT_MAX : (int)n;
}

bool resp_arg_ll(const struct resp_arg *a, long long *out)
{
    return resp_strtoll(a->p, a->len, out);
}

/* ------------------------------------------------------------------ replies */

void resp_out_free(struct resp_out *o)
{
    free(o->buf);
    *o = (struct resp_out){0};
}

static void reserve(struct resp_out *o, size_t n)
{
    if (o->cap - o->len >= n)
        return;
    o->cap = o->cap * 2 > o->len + n ? o->cap * 2 : o->len + n;
    if (o->cap < 4096)
        o->cap = 4096;
    o->buf = xrealloc(o->buf, o->cap);
}

void resp_out_bytes(struct resp_out *o, const void *p, size_t n)
{
    if (n == 0)
        return; /* a fresh resp_out has no buffer yet, and NULL + 0 is undefined in C */
    reserve(o, n);
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void resp_out_str(struct resp_out *o, const char *s)
{
    resp_out_bytes(o, s, strlen(s));
}

void resp_out_prefixed(struct resp_out *o, char type, long long n)
{
    char tmp[24], *q = tmp + sizeof(tmp);
    unsigned long long v = n < 0 ? 0 - (unsigned long long)n : (unsigned long long)n;

    /* By hand rather than snprintf: this runs for every integer and length we send. */
    *--q = '\n';
    *--q = '\r';
    do {
        *--q = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (n < 0)
        *--q = '-';
    *--q = type;
    resp_out_bytes(o, q, (size_t)(tmp + sizeof(tmp) - q));
}

void resp_out_bulk(struct resp_out *o, const void *p, size_t n)
{
    resp_out_prefixed(o, '$', (long long)n);
    reserve(o, n + 2);
    if (n > 0) /* `p` may be NULL when `n` is 0, and memcpy() must not be given NULL */
        memcpy(o->buf + o->len, p, n);
    memcpy(o->buf + o->len + n, "\r\n", 2);
    o->len += n + 2;
}

void resp_out_bulk_str(struct resp_out *o, const char *s)
{
    resp_out_bulk(o, s, strlen(s));
}

void resp_out_errorf(struct resp_out *o, const char *fmt, ...)
{
    char *s;
    size_t n;
    int len;
    va_list ap;

    /* Formatted in place, after room for "-ERR ": an error is as long as its text, as in Redis. */
    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        die("an error reply's format failed: %s", fmt);
    reserve(o, 5 + (size_t)len + 1 + 2);
    s = o->buf + o->len + 5;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    n = (size_t)len;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    while (n && (*s == '\r' || *s == '\n'))
        s++, n--;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n')
            s[i] = ' ';
    if (!n || s[0] != '-') {
        memcpy(o->buf + o->len, "-ERR ", 5);
        o->len += 5;
    }
    memmove(o->buf + o->len, s, n);
    o->len += n;
    memcpy(o->buf + o->len, "\r\n", 2);
    o->len += 2;
}
