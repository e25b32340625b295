/*
 * commands.c - every command of kv_server, in the three steps of commands.h.
 *
 * The reference is Redis 7.0.15: argument checks in the same order, the
 * same error texts, the same replies, byte for byte (respdiff.py in this
 * folder sends the same bytes to both servers and compares; the tests hold
 * the expected bytes). Where Redis looks at an argument as a C string
 * (option names, compared with strcasecmp), so do we: resp_arg_is() stops at the
 * first NUL byte, as strcasecmp would.
 *
 * Two things Redis has and this server does not: more than one database
 * (SELECT takes only 0), and data types other than strings.
 */
#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "rt.h" /* rt_shard_of */
#include "util.h"

/* Replies that are always the same bytes. Read-only, so any shard may point at them. */
static const char OK[] = "+OK\r\n";
static const char NIL[] = "$-1\r\n";
static const char ERR_SYNTAX[] = "-ERR syntax error\r\n";
static const char ERR_NOT_INT[] = "-ERR value is not an integer or out of range\r\n";
static const char ERR_OVERFLOW[] = "-ERR increment or decrement would overflow\r\n";
static const char ERR_DECR_OVERFLOW[] = "-ERR decrement would overflow\r\n";
static const char ERR_EXPIRE[] = "-ERR invalid expire time in 'set' command\r\n";
static const char ERR_MSET_ARITY[] = "-ERR wrong number of arguments for 'mset' command\r\n";

/* Why step 1 refused a request. */
enum {
    REJECT_UNKNOWN = 1, /* no such command */
    REJECT_SUBCOMMAND,  /* a container (CONFIG, ...) without such a subcommand */
    REJECT_ARITY,       /* wrong number of arguments */
    REJECT_ERROR,       /* r->error says */
};

/* SET's options. */
enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_EX = 1 << 4,
    SET_PX = 1 << 5,
    SET_EXAT = 1 << 6,
    SET_PXAT = 1 << 7,
};

/* Where a command's keys are. */
enum keys {
    KEYS_NONE,       /* none: everything happens in step 3 */
    KEYS_ONE,        /* argv[1] */
    KEYS_EACH,       /* argv[1], argv[2], ... */
    KEYS_PAIRS,      /* argv[1], argv[3], ...: key value key value */
    KEYS_ALL_SHARDS, /* no key: every shard applies once (res[k] is shard k's) */
};

struct kv_command {
    const char *word; /* what the client sends (any case): "get", or a container's "get" */
    size_t len;       /* its length */
    const char *name; /* as Redis's messages name it: lowercase, "container|sub" */
    int arity;        /* Redis's: n arguments exactly, or -n at least n (the name counts) */
    enum keys keys;
    /* Step 1, once the arity is right: check the arguments; NULL, or an error reply. */
    const char *(*check)(struct kv_request *r, int64_t now);
    /* Step 2: key number i (the key itself is `key`; NULL for KEYS_ALL_SHARDS). */
    void (*apply)(struct kv_request *r, size_t i, const struct resp_arg *key, struct kv_store *s,
                  int64_t now);
    /* Step 3. */
    void (*reply)(struct kv_request *r, struct kv_client *c, struct resp_out *out);
    const struct kv_command *subs; /* a container's subcommands, up to one with a NULL name */
};

/* ------------------------------------------------------------------ helpers */

/* A "-ERR ..." reply whose text may hold the client's bytes: CR and LF become spaces, as in
 * Redis's commandCheckExistence. */
static void reply_mapped(struct resp_out *out, char *text)
{
    for (char *s = text; *s; s++)
        if (*s == '\r' || *s == '\n')
            *s = ' ';
    resp_out_str(out, "-ERR ");
    resp_out_str(out, text);
    resp_out_str(out, "\r\n");
}

static void reply_sum(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    long long sum = 0;

    (void)c;
    for (size_t i = 0; i < r->nres; i++)
        sum += r->res[i].n;
    resp_out_prefixed(out, ':', sum);
}

static void reply_ok(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)r;
    (void)c;
    resp_out_str(out, OK);
}

static void reply_value(struct resp_out *out, const struct kv_result *res)
{
    if (res->value)
        resp_out_bulk(out, res->value->bytes, res->value->len);
    else
        resp_out_str(out, NIL);
}

/* Replace the key's value by a new one holding `bytes` (or add the key); no expire time. */
static struct kv_entry *put(struct kv_store *s, struct kv_entry *e, const struct resp_arg *key,
                            const void *bytes, size_t len)
{
    struct kv_value *v = kv_value_new(bytes, len);

    if (!e)
        return store_add(s, key->p, key->len, v);
    store_replace(e, v);
    store_set_expire(s, e, 0);
    return e;
}

/* ------------------------------------------------------------------ GET, SET */

static void apply_get(struct kv_request *r, size_t i, const struct resp_arg *key,
                      struct kv_store *s, int64_t now)
{
    struct kv_entry *e = store_find(s, key->p, key->len, now);

    r->res[i].value = e ? kv_value_ref(e->value) : NULL;
}

static void reply_get(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    reply_value(out, &r->res[0]);
}

/* One of SET's options at argv[j]: its flag, or 0 if it is not one (or not allowed with `f`). */
static int set_option(const struct kv_request *r, size_t j, int f)
{
    const struct resp_arg *opt = &r->argv[j];
    bool next = j + 1 < r->argc;
    int ttl = SET_KEEPTTL | SET_EX | SET_PX | SET_EXAT | SET_PXAT;

    if (resp_arg_is(opt, "nx") && !(f & SET_XX))
        return SET_NX;
    if (resp_arg_is(opt, "xx") && !(f & SET_NX))
        return SET_XX;
    if (resp_arg_is(opt, "get"))
        return SET_GET;
    /* One expire option only (KEEPTTL is one); the same one twice is allowed, the last counts. */
    if (resp_arg_is(opt, "keepttl") && !(f & (ttl & ~SET_KEEPTTL)))
        return SET_KEEPTTL;
    if (resp_arg_is(opt, "ex") && !(f & (ttl & ~SET_EX)) && next)
        return SET_EX;
    if (resp_arg_is(opt, "px") && !(f & (ttl & ~SET_PX)) && next)
        return SET_PX;
    if (resp_arg_is(opt, "exat") && !(f & (ttl & ~SET_EXAT)) && next)
        return SET_EXAT;
    if (resp_arg_is(opt, "pxat") && !(f & (ttl & ~SET_PXAT)) && next)
        return SET_PXAT;
    return 0;
}

/* The expire time as a Unix time in ms (Redis's getExpireMillisecondsOrReply), or an error. */
static const char *expire_time(long long t, int flag, int64_t now, long long *at)
{
    bool seconds = flag & (SET_EX | SET_EXAT);

    if (t <= 0 || (seconds && t > LLONG_MAX / 1000))
        return ERR_EXPIRE;
    if (seconds)
        t *= 1000;
    if (flag & (SET_EX | SET_PX)) {
        if (t > LLONG_MAX - now)
            return ERR_EXPIRE; /* Redis lets the sum wrap around and sees it negative */
        t += now;
    }
    *at = t;
    return NULL;
}

static const char *check_set(struct kv_request *r, int64_t now)
{
    const struct resp_arg *when = NULL;
    int expire = 0;
    long long t;

    for (size_t j = 3; j < r->argc; j++) {
        int flag = set_option(r, j, r->flags);

        if (!flag)
            return ERR_SYNTAX;
        r->flags |= flag;
        if (flag & (SET_EX | SET_PX | SET_EXAT | SET_PXAT)) {
            expire = flag;
            when = &r->argv[++j];
        }
    }
    r->arg = 0;
    if (!when)
        return NULL;
    if (!resp_arg_ll(when, &t))
        return ERR_NOT_INT;
    return expire_time(t, expire, now, &r->arg);
}

static void apply_set(struct kv_request *r, size_t i, const struct resp_arg *key,
                      struct kv_store *s, int64_t now)
{
    struct kv_entry *e = store_find(s, key->p, key->len, now);
    int64_t keep = e ? e->expire_at : 0;

    if (r->flags & SET_GET)
        r->res[i].value = e ? kv_value_ref(e->value) : NULL;
    if (((r->flags & SET_NX) && e) || ((r->flags & SET_XX) && !e)) {
        r->res[i].n = 0;
        return;
    }
    e = put(s, e, key, r->argv[2].p, r->argv[2].len);
    store_set_expire(s, e, (r->flags & SET_KEEPTTL) ? keep : r->arg);
    r->res[i].n = 1;
}

static void reply_set(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    if (r->flags & SET_GET)
        reply_value(out, &r->res[0]);
    else
        resp_out_str(out, r->res[0].n ? OK : NIL);
}

/* ---------------------------------------------------------- INCR and friends */

static const char *check_incr(struct kv_request *r, int64_t now)
{
    (void)now;
    r->arg = 1;
    return NULL;
}

static const char *check_decr(struct kv_request *r, int64_t now)
{
    (void)now;
    r->arg = -1;
    return NULL;
}

static const char *check_incrby(struct kv_request *r, int64_t now)
{
    (void)now;
    return resp_arg_ll(&r->argv[2], &r->arg) ? NULL : ERR_NOT_INT;
}

static const char *check_decrby(struct kv_request *r, int64_t now)
{
    (void)now;
    if (!resp_arg_ll(&r->argv[2], &r->arg))
        return ERR_NOT_INT;
    if (r->arg == LLONG_MIN)
        return ERR_DECR_OVERFLOW; /* its negation does not exist */
    r->arg = -r->arg;
    return NULL;
}

static void apply_incr(struct kv_request *r, size_t i, const struct resp_arg *key,
                       struct kv_store *s, int64_t now)
{
    struct kv_entry *e = store_find(s, key->p, key->len, now);
    long long v = 0, by = r->arg;
    int64_t keep = e ? e->expire_at : 0;
    char text[24];

    if (e && !resp_strtoll(e->value->bytes, e->value->len, &v)) {
        r->res[i].error = ERR_NOT_INT;
        return;
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        r->res[i].error = ERR_OVERFLOW;
        return;
    }
    v += by;
    e = put(s, e, key, text, (size_t)snprintf(text, sizeof(text), "%lld", v));
    store_set_expire(s, e, keep); /* INCR keeps the time to live, as in Redis */
    r->res[i].n = v;
}

static void reply_int(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    if (r->res[0].error)
        resp_out_str(out, r->res[0].error);
    else
        resp_out_prefixed(out, ':', r->res[0].n);
}

/* ------------------------------------------------------------ TTL and PTTL */

static void apply_ttl(struct kv_request *r, size_t i, const struct resp_arg *key,
                      struct kv_store *s, int64_t now)
{
    struct kv_entry *e = store_find(s, key->p, key->len, now);

    if (!e)
        r->res[i].n = -2;
    else if (!e->expire_at)
        r->res[i].n = -1;
    else
        r->res[i].n = e->expire_at - now;
}

static void reply_ttl(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    resp_out_prefixed(out, ':', r->res[0].n < 0 ? r->res[0].n : (r->res[0].n + 500) / 1000);
}

/* ------------------------------------------------- DEL, EXISTS, MGET, MSET */

static void apply_del(struct kv_request *r, size_t i, const struct resp_arg *key,
                      struct kv_store *s, int64_t now)
{
    struct kv_entry *e = store_find(s, key->p, key->len, now);

    if (e)
        store_delete(s, e);
    r->res[i].n = e != NULL;
}

static void apply_exists(struct kv_request *r, size_t i, const struct resp_arg *key,
                         struct kv_store *s, int64_t now)
{
    r->res[i].n = store_find(s, key->p, key->len, now) != NULL;
}

static void reply_mget(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    (void)c;
    resp_out_prefixed(out, '*', (long long)r->nres);
    for (size_t i = 0; i < r->nres; i++)
        reply_value(out, &r->res[i]);
}

static const char *check_mset(struct kv_request *r, int64_t now)
{
    (void)now;
    return r->argc % 2 == 0 ? ERR_MSET_ARITY : NULL;
}

static void apply_mset(struct kv_request *r, size_t i, const struct resp_arg *key,
                       struct kv_store *s, int64_t now)
{
    const struct resp_arg *value = key + 1;

    put(s, store_find(s, key->p, key->len, now), key, value->p, value->len);
    (void)r;
    (void)i;
}

/* ------------------------------------------------------- DBSIZE, FLUSHALL */

static void apply_dbsize(struct kv_request *r, size_t i, const struct resp_arg *key,
                         struct kv_store *s, int64_t now)
{
    (void)key;
    (void)now;
    r->res[i].n = (long long)s->count;
}

static const char *check_flush(struct kv_request *r, int64_t now)
{
    (void)now;
    if (r->argc > 2 ||
        (r->argc == 2 && !resp_arg_is(&r->argv[1], "sync") && !resp_arg_is(&r->argv[1], "async")))
        return ERR_SYNTAX;
    return NULL;
}

static void apply_flush(struct kv_request *r, size_t i, const struct resp_arg *key,
                        struct kv_store *s, int64_t now)
{
    (void)r;
    (void)i;
    (void)key;
    (void)now;
    store_flush(s);
}

/* ------------------------------------------------------------------ tables */

/* A table row's first three fields: the word a client sends, its length, and Redis's name. */
#define CMD(word, name) word, sizeof(word) - 1, name

static const struct kv_command client_subs[] = {
    {CMD("setname", "client|setname"), 3, KEYS_NONE, NULL, NULL, admin_client_setname, NULL},
    {CMD("getname", "client|getname"), 2, KEYS_NONE, NULL, NULL, admin_client_getname, NULL},
    {CMD("id", "client|id"), 2, KEYS_NONE, NULL, NULL, admin_client_id, NULL},
    {CMD("help", "client|help"), 2, KEYS_NONE, NULL, NULL, admin_client_help, NULL},
    {NULL, 0, NULL, 0, KEYS_NONE, NULL, NULL, NULL, NULL},
};

static const struct kv_command command_subs[] = {
    {CMD("count", "command|count"), 2, KEYS_NONE, NULL, NULL, admin_command_count, NULL},
    {CMD("help", "command|help"), 2, KEYS_NONE, NULL, NULL, admin_command_help, NULL},
    {NULL, 0, NULL, 0, KEYS_NONE, NULL, NULL, NULL, NULL},
};

static const struct kv_command config_subs[] = {
    {CMD("get", "config|get"), -3, KEYS_NONE, NULL, NULL, admin_config_get, NULL},
    {CMD("help", "config|help"), 2, KEYS_NONE, NULL, NULL, admin_config_help, NULL},
    {NULL, 0, NULL, 0, KEYS_NONE, NULL, NULL, NULL, NULL},
};

/* The busiest first: the lookup is a walk down this list. */
static const struct kv_command commands[] = {
    {CMD("get", "get"), 2, KEYS_ONE, NULL, apply_get, reply_get, NULL},
    {CMD("set", "set"), -3, KEYS_ONE, check_set, apply_set, reply_set, NULL},
    {CMD("mget", "mget"), -2, KEYS_EACH, NULL, apply_get, reply_mget, NULL},
    {CMD("mset", "mset"), -3, KEYS_PAIRS, check_mset, apply_mset, reply_ok, NULL},
    {CMD("incr", "incr"), 2, KEYS_ONE, check_incr, apply_incr, reply_int, NULL},
    {CMD("decr", "decr"), 2, KEYS_ONE, check_decr, apply_incr, reply_int, NULL},
    {CMD("incrby", "incrby"), 3, KEYS_ONE, check_incrby, apply_incr, reply_int, NULL},
    {CMD("decrby", "decrby"), 3, KEYS_ONE, check_decrby, apply_incr, reply_int, NULL},
    {CMD("del", "del"), -2, KEYS_EACH, NULL, apply_del, reply_sum, NULL},
    {CMD("exists", "exists"), -2, KEYS_EACH, NULL, apply_exists, reply_sum, NULL},
    {CMD("ttl", "ttl"), 2, KEYS_ONE, NULL, apply_ttl, reply_ttl, NULL},
    {CMD("pttl", "pttl"), 2, KEYS_ONE, NULL, apply_ttl, reply_int, NULL},
    {CMD("ping", "ping"), -1, KEYS_NONE, NULL, NULL, admin_ping, NULL},
    {CMD("echo", "echo"), 2, KEYS_NONE, NULL, NULL, admin_echo, NULL},
    {CMD("dbsize", "dbsize"), 1, KEYS_ALL_SHARDS, NULL, apply_dbsize, reply_sum, NULL},
    {CMD("flushall", "flushall"), -1, KEYS_ALL_SHARDS, check_flush, apply_flush, reply_ok, NULL},
    {CMD("flushdb", "flushdb"), -1, KEYS_ALL_SHARDS, check_flush, apply_flush, reply_ok, NULL},
    {CMD("select", "select"), 2, KEYS_NONE, NULL, NULL, admin_select, NULL},
    {CMD("quit", "quit"), -1, KEYS_NONE, NULL, NULL, admin_quit, NULL},
    {CMD("hello", "hello"), -1, KEYS_NONE, NULL, NULL, admin_hello, NULL},
    {CMD("client", "client"), -2, KEYS_NONE, NULL, NULL, NULL, client_subs},
    {CMD("command", "command"), -1, KEYS_NONE, NULL, NULL, admin_command, command_subs},
    {CMD("config", "config"), -2, KEYS_NONE, NULL, NULL, NULL, config_subs},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

size_t cmd_count(void)
{
    return N_COMMANDS;
}

/* Commands are found by their whole name, any case; a NUL inside makes it another name. */
static const struct kv_command *find_in(const struct kv_command *table, size_t n,
                                        const struct resp_arg *name)
{
    for (size_t i = 0; i < n && table[i].word; i++) {
        const struct kv_command *c = &table[i];

        if (c->len == name->len && (name->p[0] | 0x20) == c->word[0] && /* cheap first look */
            strncasecmp(c->word, name->p, name->len) == 0 && !memchr(name->p, '\0', name->len))
            return c;
    }
    return NULL;
}

/* Redis's lookupCommand: a container with an argument means its subcommand. */
static const struct kv_command *lookup(struct kv_request *r)
{
    const struct kv_command *c = find_in(commands, N_COMMANDS, &r->argv[0]);

    if (!c) {
        r->reject = REJECT_UNKNOWN;
        return NULL;
    }
    if (!c->subs || r->argc == 1)
        return c;
    c = find_in(c->subs, SIZE_MAX, &r->argv[1]);
    if (!c)
        r->reject = REJECT_SUBCOMMAND;
    return c;
}

/* ------------------------------------------------------------ the three steps */

/* Room for `n` results, zeroed. */
static void alloc_results(struct kv_request *r, size_t n)
{
    r->nres = n;
    r->res = n <= 1 ? r->res_small : xmalloc(n * sizeof(*r->res));
    memset(r->res, 0, n * sizeof(*r->res));
}

/* Say which shard owns each key, in res[i].owner. */
static void route(struct kv_request *r, unsigned shards)
{
    const struct kv_command *c = r->cmd;
    size_t n = c->keys == KEYS_ALL_SHARDS ? shards
               : c->keys == KEYS_ONE      ? 1
               : c->keys == KEYS_EACH     ? r->argc - 1
                                          : (r->argc - 1) / 2;
    size_t step = c->keys == KEYS_PAIRS ? 2 : 1;

    alloc_results(r, n);
    for (size_t i = 0; i < n; i++) {
        const struct resp_arg *key = &r->argv[1 + i * step];

        /* With one shard there is nothing to choose: no need to hash. */
        r->res[i].owner = c->keys == KEYS_ALL_SHARDS ? (unsigned)i
                          : shards == 1              ? 0
                                                     : rt_shard_of(key->p, key->len, shards);
    }
}

static bool arity_ok(const struct kv_command *c, size_t argc)
{
    return c->arity > 0 ? argc == (size_t)c->arity : argc >= (size_t)-c->arity;
}

/* Redis's securityWarningCommand: a browser tricked into posting to us is dropped unanswered. */
static bool looks_like_http(const struct resp_arg *name)
{
    char first = (char)(name->len > 0 ? name->p[0] | 0x20 : 0); /* cheap first look */

    return (first == 'h' && resp_arg_is(name, "host:")) ||
           (first == 'p' && resp_arg_is(name, "post"));
}

enum cmd_route cmd_prepare(struct kv_request *r, size_t argc, const struct resp_arg *argv,
                           unsigned shards, int64_t now)
{
    *r = (struct kv_request){.argc = argc, .argv = r->argv_small};
    if (argc > sizeof(r->argv_small) / sizeof(r->argv_small[0]))
        r->argv = xmalloc(argc * sizeof(*argv));
    memcpy(r->argv, argv, argc * sizeof(*argv));
    alloc_results(r, 0);

    if (looks_like_http(&argv[0]))
        return ROUTE_CLOSE;
    r->cmd = lookup(r);
    if (!r->cmd)
        return ROUTE_NONE;
    if (!arity_ok(r->cmd, argc)) {
        r->reject = REJECT_ARITY;
        return ROUTE_NONE;
    }
    if (r->cmd->check && (r->error = r->cmd->check(r, now))) {
        r->reject = REJECT_ERROR;
        return ROUTE_NONE;
    }
    if (r->cmd->reply == admin_quit)
        return ROUTE_QUIT;
    if (r->cmd->keys == KEYS_NONE)
        return ROUTE_NONE;
    route(r, shards);
    return ROUTE_KEYS;
}

void cmd_error(struct kv_request *r, const char *reply)
{
    *r = (struct kv_request){.reject = REJECT_ERROR, .error = reply};
    r->argv = r->argv_small;
    alloc_results(r, 0);
}

void cmd_apply(struct kv_request *r, unsigned me, struct kv_store *s, int64_t now)
{
    size_t step;

    if (r->nres == 0)
        return; /* no key anywhere: refused, or a command that touches none */
    step = r->cmd->keys == KEYS_PAIRS ? 2 : 1;
    for (size_t i = 0; i < r->nres; i++) {
        if (r->res[i].owner != me)
            continue;
        r->cmd->apply(r, i, r->cmd->keys == KEYS_ALL_SHARDS ? NULL : &r->argv[1 + i * step], s,
                      now);
    }
}

/* "unknown command" and "unknown subcommand", as Redis's commandCheckExistence words them. */
static void reply_unknown(struct kv_request *r, struct resp_out *out)
{
    char args[160] = "", text[512];
    size_t n = 0;

    if (r->reject == REJECT_SUBCOMMAND) {
        char container[16];
        size_t k = 0;

        for (; k + 1 < sizeof(container) && k < r->argv[0].len; k++)
            container[k] = (char)(r->argv[0].p[k] & ~0x20); /* ASCII letters: the name matched */
        container[k] = '\0';
        snprintf(text, sizeof(text), "unknown subcommand '%.*s'. Try %s HELP.",
                 resp_arg_cstr_len(&r->argv[1]) < 128 ? resp_arg_cstr_len(&r->argv[1]) : 128,
                 r->argv[1].p, container);
        return reply_mapped(out, text);
    }
    for (size_t i = 1; i < r->argc && n < 128; i++) {
        int len = resp_arg_cstr_len(&r->argv[i]);

        n += (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                              len < 128 - (int)n ? len : 128 - (int)n, r->argv[i].p);
    }
    snprintf(text, sizeof(text), "unknown command '%.*s', with args beginning with: %s",
             resp_arg_cstr_len(&r->argv[0]) < 128 ? resp_arg_cstr_len(&r->argv[0]) : 128,
             r->argv[0].p, args);
    reply_mapped(out, text);
}

void cmd_reply(struct kv_request *r, struct kv_client *c, struct resp_out *out)
{
    switch (r->reject) {
    case REJECT_UNKNOWN:
    case REJECT_SUBCOMMAND:
        return reply_unknown(r, out);
    case REJECT_ARITY:
        return resp_out_errorf(out, "wrong number of arguments for '%s' command", r->cmd->name);
    case REJECT_ERROR:
        return resp_out_str(out, r->error);
    }
    r->cmd->reply(r, c, out);
}

void cmd_done(struct kv_request *r)
{
    if (r->argv != r->argv_small)
        free(r->argv);
    if (r->res != r->res_small)
        free(r->res);
    r->argv = NULL;
    r->res = NULL;
}
