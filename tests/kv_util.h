/*
 * tests/kv_util.h - what the kv_server tests share: starting the server as a
 * child process, talking to it over plain blocking sockets, and comparing
 * what it sends with the bytes expected.
 *
 * The tests treat kv_server as a black box, as a Redis client would: the
 * program under test is the one `make phase4` builds, found next to the
 * test runner (build/phaseN/examples/kv_server). It is started with --port 0
 * and the port is read from the line it prints when it listens. A test ends
 * by stopping it with SIGTERM and checking that it exited with status 0,
 * which under SAN=1 also means no leak and no sanitizer report.
 *
 * The server gets PR_SET_PDEATHSIG, so a test that fails half-way (its
 * process exits) does not leave a server running behind it.
 */
#ifndef TESTS_KV_UTIL_H
#define TESTS_KV_UTIL_H

#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h" /* test_built() */

#define KV_WAIT_MS 10000 /* how long a test waits for the server before failing */

struct kv_proc {
    pid_t pid;
    int port;
    int out; /* the read end of the server's stdout */
};

/* Read the server's stdout until a line says "port N"; N, or fail. */
static inline int kv_read_port(int fd)
{
    char text[1024];
    size_t len = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char *at;
        ssize_t n;

        ck_assert_msg(poll(&p, 1, KV_WAIT_MS) == 1, "kv_server did not say where it listens");
        n = read(fd, text + len, sizeof(text) - 1 - len);
        ck_assert_msg(n > 0, "kv_server ended before it listened");
        len += (size_t)n;
        text[len] = '\0';
        at = strstr(text, " port ");
        if (at && strchr(at, '\n'))
            return atoi(at + 6);
    }
}

/* Start kv_server --port 0 with the given extra arguments (NULL-terminated). */
static inline struct kv_proc kv_start(const char *const *args)
{
    char path[4096];
    const char *argv[32] = {"kv_server", "--port", "0"};
    struct kv_proc p;
    int pipefd[2], n = 3;

    test_built("examples/kv_server", path, sizeof(path));
    for (; args && *args && n < 30; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    ck_assert_int_eq(pipe(pipefd), 0);
    p.pid = fork();
    ck_assert_int_ge(p.pid, 0);
    if (p.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(path, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    p.out = pipefd[0];
    p.port = kv_read_port(p.out);
    return p;
}

/* SIGTERM, and the exit status (-signal if a signal killed it). */
static inline int kv_stop(struct kv_proc *p)
{
    int status;

    ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
    close(p->out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static inline int kv_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = KV_WAIT_MS / 1000};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect to port %d: %s",
                  port, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static inline void kv_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static inline void kv_send_str(int fd, const char *s)
{
    kv_send(fd, s, strlen(s));
}

/* Bytes as C would write them, for messages (truncated). */
static inline const char *kv_printable(const void *buf, size_t len, char *out, size_t cap)
{
    const unsigned char *p = buf;
    size_t o = 0;

    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        if (p[i] == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (p[i] == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (isprint(p[i]) && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
    }
    out[o] = '\0';
    return out;
}

/* Read exactly `len` bytes (fewer if the server closes first); how many came. */
static inline size_t kv_read(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* The next bytes from the server are exactly `expect` (fails at the first byte that differs). */
static inline void kv_expect_bytes(int fd, const void *expect, size_t len, const char *what)
{
    char *got = malloc(len + 1), a[2048], b[2048];
    size_t n = 0;

    while (n < len) {
        ssize_t r = recv(fd, got + n, len - n, 0);

        if (r <= 0)
            break;
        n += (size_t)r;
        if (memcmp(got, expect, n) != 0)
            break;
    }
    ck_assert_msg(n == len && memcmp(got, expect, len) == 0, "%s: expected \"%s\", got \"%s\"%s",
                  what, kv_printable(expect, len, a, sizeof(a)), kv_printable(got, n, b, sizeof(b)),
                  n < len ? " (and then nothing)" : "");
    free(got);
}

static inline void kv_expect(int fd, const char *expect, const char *what)
{
    kv_expect_bytes(fd, expect, strlen(expect), what);
}

/* The server has closed the connection: what comes next is the end (or a reset). */
static inline void kv_expect_closed(int fd, const char *what)
{
    char c, a[64];
    ssize_t n = recv(fd, &c, 1, 0);

    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET),
                  "%s: expected the connection to be closed, got %s", what,
                  n > 0 ? kv_printable(&c, 1, a, sizeof(a)) : strerror(errno));
}

/* Send `req`, expect `reply`. */
static inline void kv_call(int fd, const char *req, const char *reply)
{
    kv_send(fd, req, strlen(req));
    kv_expect(fd, reply, req);
}

/* Raise this process's soft limit on open files to `want` (or the hard limit); what it is now. */
static inline rlim_t kv_raise_fd_limit(rlim_t want)
{
    struct rlimit r;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
    if (r.rlim_cur < want) {
        r.rlim_cur = want < r.rlim_max ? want : r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

/* `name` found in $PATH: its path in `path`, and true. */
static inline bool kv_which(const char *name, char *path, size_t len)
{
    const char *dirs = getenv("PATH");

    while (dirs && *dirs) {
        size_t n = strcspn(dirs, ":");

        if ((size_t)snprintf(path, len, "%.*s/%s", (int)n, dirs, name) < len &&
            access(path, X_OK) == 0)
            return true;
        dirs += n + (dirs[n] == ':');
    }
    return false;
}

/*
 * Run a program with `input` on its stdin; what it writes to stdout goes to
 * `out` (NUL-terminated, at most cap - 1 bytes), stderr to `err` likewise.
 * Returns its exit status.
 */
static inline int kv_run(const char *const *argv, const char *input, char *out, size_t cap,
                         char *err, size_t err_cap)
{
    int in[2], o[2], e[2], status;
    char *buf[2] = {out, err};
    size_t len[2] = {0, 0}, room[2] = {cap - 1, err_cap - 1};
    struct pollfd p[2];
    pid_t pid;

    ck_assert(pipe(in) == 0 && pipe(o) == 0 && pipe(e) == 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], STDIN_FILENO);
        dup2(o[1], STDOUT_FILENO);
        dup2(e[1], STDERR_FILENO);
        close(in[1]);
        close(o[0]);
        close(e[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    if (input)
        ck_assert_int_eq(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
    close(in[1]);
    p[0] = (struct pollfd){.fd = o[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = e[0], .events = POLLIN};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        ck_assert_msg(poll(p, 2, KV_WAIT_MS) > 0, "%s did not finish", argv[0]);
        for (int k = 0; k < 2; k++) {
            char tmp[4096];
            ssize_t r;

            if (p[k].fd < 0 || !p[k].revents)
                continue;
            r = read(p[k].fd, tmp, sizeof(tmp));
            if (r <= 0) {
                close(p[k].fd);
                p[k].fd = -1;
                continue;
            }
            for (ssize_t i = 0; i < r && len[k] < room[k]; i++)
                buf[k][len[k]++] = tmp[i]; /* the rest is read, and dropped */
        }
    }
    out[len[0]] = '\0';
    err[len[1]] = '\0';
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

#endif /* TESTS_KV_UTIL_H */
