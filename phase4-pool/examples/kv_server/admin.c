/*
 * admin.c - the commands that touch no key: about the connection (PING,
 * ECHO, QUIT, SELECT, HELLO, CLIENT) and about the server (COMMAND, CONFIG
 * GET). They run whole in step 3 (commands.h), on the connection's shard,
 * and their replies are Redis 7.0's, like every other (see commands.c).
 * Each is a reply function in the command table of commands.c.
 */
#include "admin.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char OK[] = "+OK\r\n";
static const char NIL[] = "$-1\r\n";
static const char ERR_NOT_INT[] = "-ERR value is not an integer or out of range\r\n";
static const char ERR_NAME[] =
    "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";

/* ----------------------------------------------------------- PING, ECHO, ... */

void admin_ping(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    if (r->argc > 2)
        resp_out_errorf(out, "wrong number of arguments for '%s' command", "ping");
    else if (r->argc == 2)
        resp_out_bulk(out, r->argv[1].p, r->argv[1].len);
    else
        resp_out_str(out, "+PONG\r\n");
}

void admin_echo(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    resp_out_bulk(out, r->argv[1].p, r->argv[1].len);
}

void admin_quit(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    c->close_after = true;
    resp_out_str(out, OK);
}

void admin_select(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    long long db;

    (void)c;
    if (!resp_arg_ll(&r->argv[1], &db))
        resp_out_str(out, ERR_NOT_INT);
    else if (db < INT_MIN || db > INT_MAX)
        resp_out_errorf(out, "value is out of range, value must between %d and %d", INT_MIN,
                        INT_MAX);
    else if (db != 0)
        resp_out_str(out, "-ERR DB index is out of range\r\n"); /* one database only */
    else
        resp_out_str(out, OK);
}

/* ------------------------------------------------------------------ HELLO */

/* CLIENT SETNAME's rule: printable ASCII without blanks; "" removes the name. */
static bool set_name(struct kv_client *c, const struct resp_arg *name)
{
    for (size_t i = 0; i < name->len; i++)
        if (name->p[i] < '!' || name->p[i] > '~')
            return false;
    free(c->name);
    c->name = NULL;
    c->name_len = name->len;
    if (name->len > 0) {
        c->name = xmalloc(name->len);
        memcpy(c->name, name->p, name->len);
    }
    return true;
}

static void hello_map(struct kv_client *c, struct resp_out *out)
{
    /*
     * We say "redis" and its version, as Redis-compatible servers do: clients
     * decide from these which commands and replies they may rely on, and we
     * answer as Redis 7.0 does.
     */
    resp_out_str(out, "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
                      "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n");
    resp_out_prefixed(out, ':', c->id);
    resp_out_str(out, "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                      "$7\r\nmodules\r\n*0\r\n");
}

/*
 * The options take effect one by one, in the order given, as in Redis: the
 * first that fails is the reply, and a name set before it stays set.
 */
void admin_hello(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    size_t j = 1;
    long long version;

    if (r->argc >= 2) {
        if (!resp_arg_ll(&r->argv[j++], &version))
            return resp_out_str(out, "-ERR Protocol version is not an integer or out of range\r\n");
        /* Only RESP2 here: RESP3 gets what Redis says to a version it does not know. */
        if (version != 2)
            return resp_out_str(out, "-NOPROTO unsupported protocol version\r\n");
    }
    for (; j < r->argc; j++) {
        size_t more = r->argc - 1 - j;

        if (resp_arg_is(&r->argv[j], "auth") && more >= 2) {
            const struct resp_arg *user = &r->argv[j + 1];

            /* The only user is Redis's "default", with no password: any password is right. */
            if (!(user->len == 7 && memcmp(user->p, "default", 7) == 0))
                return resp_out_str(
                    out, "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
            j += 2;
        } else if (resp_arg_is(&r->argv[j], "setname") && more >= 1) {
            if (!set_name(c, &r->argv[++j]))
                return resp_out_str(out, ERR_NAME);
        } else {
            return resp_out_errorf(out, "Syntax error in HELLO option '%.*s'",
                                   resp_arg_cstr_len(&r->argv[j]), r->argv[j].p);
        }
    }
    hello_map(c, out);
}

/* ------------------------------------------------------ CLIENT and COMMAND */

void admin_client_setname(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    resp_out_str(out, set_name(c, &r->argv[2]) ? OK : ERR_NAME);
}

void admin_client_getname(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    if (c->name)
        resp_out_bulk(out, c->name, c->name_len);
    else
        resp_out_str(out, NIL);
}

void admin_client_id(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    resp_out_prefixed(out, ':', c->id);
}

void admin_command(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    (void)c;
    resp_out_str(out, "*0\r\n"); /* we publish no command table; clients fall back on their own */
}

void admin_command_count(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    (void)c;
    resp_out_prefixed(out, ':', (long long)cmd_count());
}

/* A container's HELP, laid out as Redis's addReplyHelp lays it out. */
static void reply_help(struct resp_out *out, const char *container, const char *const *lines)
{
    size_t n = 0;

    while (lines[n])
        n++;
    resp_out_prefixed(out, '*', (long long)n + 3);
    resp_out_str(out, "+");
    resp_out_str(out, container);
    resp_out_str(out, " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n");
    for (size_t i = 0; i < n; i++) {
        resp_out_str(out, "+");
        resp_out_str(out, lines[i]);
        resp_out_str(out, "\r\n");
    }
    resp_out_str(out, "+HELP\r\n+    Prints this help.\r\n");
}

void admin_client_help(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    static const char *const lines[] = {
        "GETNAME",
        "    The name of this connection, or nil.",
        "ID",
        "    The number of this connection, unique in the server.",
        "SETNAME <name>",
        "    Name this connection (printable characters, no blanks).",
        NULL};

    (void)r;
    (void)c;
    reply_help(out, "CLIENT", lines);
}

void admin_command_help(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    static const char *const lines[] = {
        "(no subcommand)", "    An empty list: this server does not describe its commands.",
        "COUNT", "    The number of commands this server has.", NULL};

    (void)r;
    (void)c;
    reply_help(out, "COMMAND", lines);
}

/* --------------------------------------------------------------- CONFIG GET */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * A [...] set, from just after its '[': does it hold `c`? *pp ends on its ']' (or the end).
 * Case is ignored as Redis 7.0's stringmatchlen ignores it, which is not everywhere:
 *   - an escaped byte is compared as it is: s[\A]ve does not match "save";
 *   - a range's ends are put in order first, as bytes, and only then lowered, with the
 *     byte: [Z-a] and [a-Z] both become z..a, which holds nothing.
 */
static bool set_holds(const char **pp, const char *pend, char c)
{
    const char *p = *pp;
    bool neg = p < pend && *p == '^', hit = false;

    for (p += neg; p < pend && *p != ']'; p++) {
        if (*p == '\\' && p + 1 < pend) {
            hit |= *++p == c;
        } else if (p + 2 < pend && p[1] == '-') {
            char a = p[0] <= p[2] ? p[0] : p[2], b = p[0] <= p[2] ? p[2] : p[0];

            hit |= lower(c) >= lower(a) && lower(c) <= lower(b);
            p += 2;
        } else {
            hit |= lower(*p) == lower(c);
        }
    }
    *pp = p;
    return hit != neg;
}

/*
 * Does the pattern's next token (at *pp: a set, an escaped byte, '?' or a
 * byte) match the byte c? If so, *pp moves past it.
 */
static bool token_matches(const char **pp, const char *pend, char c)
{
    const char *p = *pp;
    bool hit;

    if (*p == '[') {
        p++;
        hit = set_holds(&p, pend, c); /* leaves p on the ']', or at the end if there is none */
        if (p < pend)
            p++;
    } else if (*p == '\\' && p + 1 < pend) {
        hit = lower(p[1]) == lower(c);
        p += 2;
    } else {
        hit = *p == '?' || lower(*p) == lower(c);
        p++;
    }
    if (hit)
        *pp = p;
    return hit;
}

/*
 * Redis's glob (stringmatchlen, ignoring case), for CONFIG GET: * any bytes,
 * ? one byte, [abc] [^abc] [a-z] one byte of a set, \x the byte x.
 *
 * Without recursion: when the rest fails to match, only the last '*' seen
 * takes one byte more and the match goes on from there (an earlier '*'
 * could only do what the last one does). So a pattern of many stars costs
 * at most its length times the name's, not a call per way of splitting the
 * name, and no stack: a client's pattern of a million stars is just long.
 */
static bool glob(const char *p, const char *pend, const char *s, const char *send)
{
    const char *star = NULL, *star_s = NULL; /* after the last '*', and where its match ends */

    while (s < send) {
        if (p < pend && *p == '*') {
            star = ++p; /* it matches nothing, for now */
            star_s = s;
        } else if (p < pend && token_matches(&p, pend, *s)) {
            s++;
        } else if (star) {
            p = star; /* the last '*' takes one byte more */
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (p < pend && *p == '*')
        p++;
    return p == pend;
}

/* The settings CONFIG GET knows: Redis's names, this server's values. */
static const char *const config_names[] = {
    "save",
    "appendonly",
    "port",
    "bind",
    "databases",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
};
#define N_CONFIGS (sizeof(config_names) / sizeof(config_names[0]))

static void config_value(const struct kv_config *cfg, size_t k, struct resp_out *out)
{
    char text[32];
    unsigned long long n[] = {
        0, 0, (unsigned long long)cfg->port, 0, 1, cfg->max_bulk, cfg->max_query};

    if (k == 0)
        return resp_out_bulk_str(out, ""); /* no snapshots: nothing is saved */
    if (k == 1)
        return resp_out_bulk_str(out, "no");
    if (k == 3)
        return resp_out_bulk_str(out, cfg->host);
    snprintf(text, sizeof(text), "%llu", n[k]);
    resp_out_bulk_str(out, text);
}

/*
 * Each argument is a name (any case; the reply names it as it was asked) or a
 * glob pattern (the reply uses our name). Each setting is listed once. Redis
 * lists them in the order of its hash table; we, in our table's order.
 */
void admin_config_get(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    const struct resp_arg *asked[N_CONFIGS] = {0};
    bool found[N_CONFIGS] = {0};
    size_t count = 0;

    for (size_t j = 2; j < r->argc; j++) {
        const struct resp_arg *a = &r->argv[j];
        /* A pattern ends at a NUL, as in Redis (C strings); a name with a NUL matches none. */
        size_t plen = strnlen(a->p, a->len);
        bool pattern =
            memchr(a->p, '*', plen) || memchr(a->p, '?', plen) || memchr(a->p, '[', plen);

        for (size_t k = 0; k < N_CONFIGS; k++) {
            const char *name = config_names[k];

            if (found[k] || !(pattern ? glob(a->p, a->p + plen, name, name + strlen(name))
                                      : resp_arg_is(a, name) && a->len == strlen(name)))
                continue;
            found[k] = true;
            asked[k] = pattern ? NULL : a;
            count++;
        }
    }
    resp_out_prefixed(out, '*', (long long)count * 2);
    for (size_t k = 0; k < N_CONFIGS; k++) {
        if (!found[k])
            continue;
        if (asked[k])
            resp_out_bulk(out, asked[k]->p, asked[k]->len);
        else
            resp_out_bulk_str(out, config_names[k]);
        config_value(c->cfg, k, out);
    }
}

void admin_config_help(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    static const char *const lines[] = {
        "GET <pattern> [<pattern> ...]",
        "    The settings whose names match a pattern (globs: * ? [...]), with their values.",
        NULL};

    (void)r;
    (void)c;
    reply_help(out, "CONFIG", lines);
}
