/*
 * tests/harness.c - the test runner's main() and the helpers in harness.h.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The skipped tests, a line each ("name: reason"). Each test runs in a child
 * process that Check counts as passed when it exits with status 0, so a skip
 * cannot just bump a counter here: main() creates this (unnamed) file before
 * the first fork, every test process inherits it and its shared file offset,
 * and main() reads the lines back at the end.
 */
static FILE *skip_log;

/* We are the child of test_expect_die(): a skip here is the parent test's to report. */
static bool in_misuse_child;

/* The exit status of a misuse child that skipped (77, as in automake's and liburing's tests). */
#define MISUSE_SKIPPED 77

void test_assert_no_leaks(void)
{
    long live = rt__alloc_live();

    ck_assert_msg(live == 0, "%ld block(s) allocated by the runtime were not freed", live);
}

TCase *test_case(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    /* A checked teardown runs in the test's own process, after the body, and can fail it. */
    tcase_add_checked_fixture(tc, NULL, test_assert_no_leaks);
    return tc;
}

void test_skip(const char *reason)
{
    const char *require = getenv("REQUIRE_ALL");
    const char *test = tcase_name(); /* the START_TEST name of the running test */

    if (in_misuse_child) {
        fputs(reason, stderr); /* test_expect_die() reads it from our stderr */
        _exit(MISUSE_SKIPPED);
    }
    if (require && strcmp(require, "1") == 0)
        ck_abort_msg("%s was skipped (%s), and REQUIRE_ALL=1 makes a skip a failure", test, reason);
    fprintf(stderr, "SKIP %s: %s\n", test, reason);
    if (skip_log) {
        fprintf(skip_log, "%s: %s\n", test, reason);
        fflush(skip_log);
    }
    /* Each test runs in a process of its own (fork mode): ending it here reports a pass. */
    exit(EXIT_SUCCESS);
}

/* Reads fd to its end, keeping the first size - 1 bytes in buf as a string (no final newline). */
static void read_to_end(int fd, char *buf, size_t size)
{
    char rest[512];
    size_t len = 0;
    ssize_t n;

    for (;;) {
        bool keep = len < size - 1;

        n = keep ? read(fd, buf + len, size - 1 - len) : read(fd, rest, sizeof(rest));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (keep)
            len += (size_t)n;
    }
    while (len > 0 && buf[len - 1] == '\n')
        len--;
    buf[len] = '\0';
}

/* How a child process ended, in words. */
static const char *how_it_ended(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(buf, size, "was still running after %d s", TEST_TIMEOUT_S / 2);
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "returned, exit status %d", WEXITSTATUS(status));
    return buf;
}

void test_expect_die(void (*misuse)(void *arg), void *arg, const char *message)
{
    char said[4096], ended[128];
    int fds[2], status = 0;
    pid_t pid;

    ck_assert_msg(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(NULL); /* or the child would write out our buffered output a second time */
    pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        in_misuse_child = true;
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        /*
         * A misuse that hangs instead of stopping must not outlive the test.
         * Check's own SIGALRM handler, inherited, would kill the test too.
         */
        signal(SIGALRM, SIG_DFL);
        alarm(TEST_TIMEOUT_S / 2);
        misuse(arg);
        _exit(EXIT_SUCCESS); /* it did not stop the program: the parent says so */
    }
    close(fds[1]);
    read_to_end(fds[0], said, sizeof(said));
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_msg(errno == EINTR, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == MISUSE_SKIPPED)
        test_skip(said);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "the misuse should have stopped the program (SIGABRT) saying \"%s\", but it %s; "
                  "it printed: \"%s\"",
                  message, how_it_ended(status, ended, sizeof(ended)), said);
    ck_assert_msg(strstr(said, message) != NULL,
                  "the misuse stopped the program as it should, but it said \"%s\", "
                  "which does not contain \"%s\"",
                  said, message);
}

const char *test_topology(const char *machine)
{
    /* This file is in tests/, and __FILE__ is its path as the compiler was given it. */
    static char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash ? (int)(slash - __FILE__) : 1;

    snprintf(path, sizeof(path), "%.*s/fixtures/topology/%s", dir_len, slash ? __FILE__ : ".",
             machine);
    return path;
}

void test_built(const char *rel, char *path, size_t len)
{
    char dir[4096];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

    ck_assert_msg(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
    dir[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(dir, '/');

        ck_assert_msg(slash, "%s not found above the test runner", rel);
        *slash = '\0';
        ck_assert_int_lt(snprintf(path, len, "%s/%s", dir, rel), (int)len);
        if (up > 0 && access(path, X_OK) == 0)
            return;
    }
    ck_abort_msg("%s not found above the test runner (was it built?)", rel);
}

/* Everything until end of file from `fd` (at most len - 1 bytes), NUL-terminated; closes fd. */
static void read_all(int fd, char *buf, size_t len)
{
    size_t have = 0;
    ssize_t n;

    while (have < len - 1 && (n = read(fd, buf + have, len - 1 - have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "read from a test's program: %s", strerror(errno));
        have += (size_t)n;
    }
    buf[have] = '\0';
    close(fd);
}

void test_run_built(const char *rel, const char *const *argv, bool closed_out,
                    struct test_program *r)
{
    char path[4096];
    int out[2], err[2], status;
    pid_t pid;

    rt_executor_destroy(test_executor());
    test_built(rel, path, sizeof(path));
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        if (closed_out)
            close(STDOUT_FILENO);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_all(out[0], r->out, sizeof(r->out));
    read_all(err[0], r->err, sizeof(r->err));
}

void test_temp_file(char *path, const void *bytes, size_t len)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(path, 64, "%s/rt-test-XXXXXX", dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

int test_fd_count(void)
{
    int n = 0;

    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

rlim_t test_fd_limit_leaving(int free)
{
    int fd = 0;

    for (; free > 0 || fcntl(fd, F_GETFD) >= 0; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            free--;
    return (rlim_t)fd;
}

struct rt_executor *test_executor_with(const struct rt_builder *b)
{
    struct rt_executor *ex = NULL;
    int err = rt_executor_create(b, &ex);

#if PHASE >= 2
    /* From phase 2 on, an executor needs an io_uring, which a machine may not offer. */
    if (err < 0 && (!b || b->cpu == RT_CPU_ANY))
        test_skip(rt_last_error());
#endif
    ck_assert_msg(err == 0, "rt_executor_create failed: %s", strerror(-err));
    return ex;
}

struct rt_executor *test_executor(void)
{
    return test_executor_with(NULL);
}

intptr_t test_run(struct rt_future *f, size_t size)
{
    struct rt_executor *ex = test_executor();
    intptr_t out = rt_executor_run(ex, f, size);

    rt_executor_destroy(ex);
    return out;
}

/* ------------------------------------------------ small futures tests share */

static enum rt_poll value_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)cx;
    *out = ((struct test_value *)self)->value;
    return RT_READY;
}

static const struct rt_future_vtable value_vtable = {.poll = value_poll};

struct test_value test_value(intptr_t value)
{
    return (struct test_value){.future = {&value_vtable}, .value = value};
}

static enum rt_poll yield_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct test_yield *f = (struct test_yield *)self;

    if (f->polls)
        (*f->polls)++;
    if (f->pending > 0) {
        f->pending--;
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    *out = f->value;
    return RT_READY;
}

static const struct rt_future_vtable yield_vtable = {.poll = yield_poll};

struct test_yield test_yield(int pending, intptr_t value, int *polls)
{
    return (struct test_yield){
        .future = {&yield_vtable}, .pending = pending, .value = value, .polls = polls};
}

static enum rt_poll wait_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct test_wait *f = (struct test_wait *)self;

    if (!f->registered) {
        rt_waker_register(f->slot, cx);
        f->registered = true;
        return RT_PENDING;
    }
    if (!rt_waker_is_empty(f->slot))
        return RT_PENDING; /* polled, but our waker has not been used yet */
    *out = f->value;
    return RT_READY;
}

static void wait_drop(struct rt_future *self)
{
    rt_waker_drop(((struct test_wait *)self)->slot);
}

static const struct rt_future_vtable wait_vtable = {.poll = wait_poll, .drop = wait_drop};

struct test_wait test_wait(struct rt_waker *slot, intptr_t value)
{
    return (struct test_wait){.future = {&wait_vtable}, .slot = slot, .value = value};
}

static enum rt_poll canceller_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)cx;
    *out = rt_join_cancel(((struct test_canceller *)self)->victim);
    return RT_READY;
}

static const struct rt_future_vtable canceller_vtable = {.poll = canceller_poll};

struct test_canceller test_canceller(struct rt_join_handle *victim)
{
    return (struct test_canceller){.future = {&canceller_vtable}, .victim = victim};
}

/* After Check's summary line: how many of the tests it counted as passed were skips, and which. */
static void report_skips(void)
{
    char *line = NULL;
    size_t cap = 0;
    int n = 0;

    rewind(skip_log);
    while (getline(&line, &cap, skip_log) > 0)
        n++;
    printf("%d skipped%s\n", n, n > 0 ? " (counted as passed above):" : "");
    rewind(skip_log);
    while (getline(&line, &cap, skip_log) > 0)
        printf("  %s", line);
    free(line);
}

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

    skip_log = tmpfile(); /* if NULL, skips are still printed as they happen, only not counted */
#define X(name) srunner_add_suite(sr, suite_##name());
    TEST_SUITES
#undef X
    /* Fork mode is what makes timeouts, crashes and the per-test leak check work. */
    srunner_set_fork_status(sr, CK_FORK);
    /* CK_ENV: CK_VERBOSITY=verbose lists every test; the default is CK_NORMAL. */
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    if (skip_log) {
        report_skips();
        fclose(skip_log);
    }
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
