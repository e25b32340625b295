/*
 * util.h - the few helpers every file of kv_server uses: allocation that
 * cannot fail (running out of memory stops the server, as it does Redis), a
 * fatal error, and
 * the wall clock in milliseconds (expiry times are Unix times, as in Redis,
 * so that SET ... EXAT and PXAT mean what they mean there).
 */
#ifndef KV_UTIL_H
#define KV_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A broken promise between shards: say what it was, and stop. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("kv_server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fprintf(stderr, "kv_server: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);

    if (!p) {
        fprintf(stderr, "kv_server: out of memory growing a block to %zu bytes\n", n);
        abort();
    }
    return p;
}

/* Milliseconds since the Unix epoch. */
static inline int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* KV_UTIL_H */
