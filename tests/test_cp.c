/*
 * tests/test_cp.c - the cp example (build/phaseN/examples/cp), run as a
 * user runs it: as a program, its exit status and messages checked.
 *
 * Cases: a file of several chunks copied byte for byte; and a pipe as the
 * destination (`cp FILE /dev/stdout | ...`), which cp refuses: its chunks
 * are written at offsets, which a pipe ignores, so they would arrive in
 * whatever order they finished. Before the check, cp wrote them anyway and
 * said it had succeeded.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_SINCE_PHASE(2);

#define BIG (3 * 128 * 1024 + 777) /* bytes: three of cp's chunks and a piece of a fourth */

/* Run cp SRC DST, its standard output a pipe; returns its exit status, stdout and stderr read. */
static int run_cp(const char *src, const char *dst, char *out, size_t out_len, char *err,
                  size_t err_len)
{
    char path[4096];
    int o[2], e[2], status;
    ssize_t n;
    pid_t pid;

    rt_executor_destroy(test_executor()); /* cp needs an io_uring: skip where there is none */
    test_built("examples/cp", path, sizeof(path));
    ck_assert_int_eq(pipe(o), 0);
    ck_assert_int_eq(pipe(e), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(o[1], STDOUT_FILENO);
        dup2(e[1], STDERR_FILENO);
        close(o[0]);
        close(o[1]);
        close(e[0]);
        close(e[1]);
        execl(path, "cp", src, dst, (char *)NULL);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    /* The runs below print far less than a pipe holds: read after the exit. */
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    n = read(o[0], out, out_len - 1);
    out[n > 0 ? n : 0] = '\0';
    n = read(e[0], err, err_len - 1);
    err[n > 0 ? n : 0] = '\0';
    close(o[0]);
    close(e[0]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Make a temporary file, its name into `path`: `len` bytes of a pattern if `fill`, else empty. */
static void temp_path(char *path, size_t len, bool fill)
{
    const char *dir = getenv("TMPDIR");
    unsigned char *bytes;
    int fd;

    snprintf(path, 64, "%s/rt-test-cp-XXXXXX", dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    if (fill) {
        bytes = malloc(len);
        ck_assert_ptr_nonnull(bytes);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (unsigned char)(i * 7 + i / 4096);
        ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
        free(bytes);
    }
    close(fd);
}

/* The whole file at `path`, at most len bytes; returns its size. */
static size_t slurp(const char *path, unsigned char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    size_t have = 0;
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    while (have < len && (n = read(fd, buf + have, len - have)) > 0)
        have += (size_t)n;
    close(fd);
    return have;
}

START_TEST(a_file_of_several_chunks_is_copied_byte_for_byte)
{
    static unsigned char a[BIG + 1], b[BIG + 1];
    char src[64], dst[64], out[256], err[256];

    temp_path(src, BIG, true);
    temp_path(dst, 0, false);
    ck_assert_int_eq(run_cp(src, dst, out, sizeof(out), err, sizeof(err)), 0);
    ck_assert_uint_eq(slurp(src, a, sizeof(a)), BIG);
    ck_assert_uint_eq(slurp(dst, b, sizeof(b)), BIG);
    unlink(src);
    unlink(dst);
    ck_assert(memcmp(a, b, BIG) == 0);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(a_pipe_as_the_destination_is_refused)
{
    char src[64], out[256], err[256];
    int status;

    temp_path(src, 1000, true);
    status = run_cp(src, "/dev/stdout", out, sizeof(out), err, sizeof(err));
    unlink(src);
    ck_assert_int_eq(status, 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "cp: /dev/stdout: not a regular file (a pipe or a device): it cannot be "
                          "written at offsets\n");
}
END_TEST

Suite *suite_cp(void)
{
    Suite *s = suite_create("cp");
    TCase *tc = test_case("cp");

    tcase_add_test(tc, a_file_of_several_chunks_is_copied_byte_for_byte);
    tcase_add_test(tc, a_pipe_as_the_destination_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
