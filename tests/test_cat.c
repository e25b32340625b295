/*
 * tests/test_cat.c - the cat example (build/phaseN/examples/cat), run as a
 * user runs it: as a program, its output and its exit status checked.
 *
 * Cases: two files printed in order; a missing file reported the way cat
 * reports it, the next file still printed, and exit status 1; and standard
 * output closed (`cat FILE >&-`), which cat refuses before it makes its
 * executor. Before that check the executor's ring took the free number 1,
 * and cat wrote its chunks into the ring: "write error: Invalid argument".
 */
#include "harness.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_SINCE_PHASE(2);

/* What one run of cat did. */
struct cat_run {
    int status;     /* its exit status, or -1 if a signal ended it */
    char out[4096]; /* what it wrote to standard output, NUL-terminated */
    char err[4096]; /* ... and to standard error */
};

/* Everything until end of file from `fd` (at most len - 1 bytes), NUL-terminated; closes fd. */
static void read_all(int fd, char *buf, size_t len)
{
    size_t have = 0;
    ssize_t n;

    while (have < len - 1 && (n = read(fd, buf + have, len - 1 - have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "read from cat: %s", strerror(errno));
        have += (size_t)n;
    }
    buf[have] = '\0';
    close(fd);
}

/* Run cat with `args` (NULL-terminated); its standard output closed if `closed_out`. */
static void run_cat(const char *const *args, bool closed_out, struct cat_run *r)
{
    char path[4096];
    const char *argv[8] = {"cat"};
    int out[2], err[2], n = 1, status;
    pid_t pid;

    /* cat needs an io_uring, as an executor does: skip where the machine has none. */
    rt_executor_destroy(test_executor());
    test_built("examples/cat", path, sizeof(path));
    for (; *args && n < 7; args++)
        argv[n++] = *args;
    argv[n] = NULL;
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
    /* Pipes hold 64 KiB, far more than these runs print: read after the exit. */
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_all(out[0], r->out, sizeof(r->out));
    read_all(err[0], r->err, sizeof(r->err));
}

/* A temporary file holding `text`; its path into `path` (at least 64 bytes). */
static void make_file(char *path, const char *text)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(path, 64, "%s/rt-test-cat-XXXXXX", dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

START_TEST(cat_prints_its_files_in_order)
{
    char a[64], b[64];
    struct cat_run r;

    make_file(a, "first\n");
    make_file(b, "second\n");
    run_cat((const char *[]){a, b, NULL}, false, &r);
    unlink(a);
    unlink(b);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "first\nsecond\n");
    ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(a_missing_file_is_reported_and_the_next_one_printed)
{
    char a[64], want[128];
    const char *missing = "/nonexistent/rt-test-cat";
    struct cat_run r;

    make_file(a, "still here\n");
    run_cat((const char *[]){missing, a, NULL}, false, &r);
    unlink(a);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "still here\n");
    snprintf(want, sizeof(want), "cat: %s: No such file or directory\n", missing);
    ck_assert_str_eq(r.err, want);
}
END_TEST

START_TEST(a_closed_standard_output_is_refused)
{
    char a[64];
    struct cat_run r;

    make_file(a, "nowhere to go\n");
    run_cat((const char *[]){a, NULL}, true, &r);
    unlink(a);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, "cat: standard output: Bad file descriptor\n");
}
END_TEST

Suite *suite_cat(void)
{
    Suite *s = suite_create("cat");
    TCase *tc = test_case("cat");

    tcase_add_test(tc, cat_prints_its_files_in_order);
    tcase_add_test(tc, a_missing_file_is_reported_and_the_next_one_printed);
    tcase_add_test(tc, a_closed_standard_output_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
