/*
 * common/fatal.h - stop the program loudly when the runtime is misused.
 *
 * Errors the caller can handle (a file that does not exist, a refused
 * connection) are returned as -errno. Misuse that would otherwise corrupt
 * memory (awaiting a join handle twice, spawning with no executor running)
 * is a bug in the program, and the kindest thing to do is to stop right
 * there with a message that says what went wrong.
 */
#ifndef COMMON_FATAL_H
#define COMMON_FATAL_H

/*
 * Print "fatal: <message>" to stderr and abort(). The format attribute is a
 * GNU extension (gcc and clang both have it): it lets the compiler check the
 * arguments against the format string.
 */
_Noreturn void rt__die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like assert(), but never compiled out: these checks guard memory safety. */
#define ASSERT(cond)                                                                         \
    do {                                                                                     \
        if (!(cond))                                                                         \
            rt__die("%s:%d: %s: assertion failed: %s", __FILE__, __LINE__, __func__, #cond); \
    } while (0)

/*
 * For a public function's pointer argument that must not be NULL: a NULL is
 * misuse, stopped with "fatal: rt_executor_run: ex is NULL" rather than left
 * to crash somewhere inside the runtime.
 */
#define ASSERT_ARG(arg)                                \
    do {                                               \
        if (!(arg))                                    \
            rt__die("%s: %s is NULL", __func__, #arg); \
    } while (0)

/* A buffer may be NULL only when it is empty, as in read(2) and write(2). */
#define ASSERT_BUF(buf, len)                                                         \
    do {                                                                             \
        if (!(buf) && (len) > 0)                                                     \
            rt__die("%s: %s is NULL, for %zu bytes", __func__, #buf, (size_t)(len)); \
    } while (0)

#endif /* COMMON_FATAL_H */
