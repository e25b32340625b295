/*
 * tests/test_cp.c - the cp example (build/phaseN/examples/cp), run as a
 * user runs it: as a program, its exit status and messages checked.
 *
 * Cases: a file of several chunks copied byte for byte; and a pipe as the
 * destination (`cp FILE /dev/stdout | ...`), which cp refuses: its chunks
 * are written at offsets, which a pipe ignores, so they would arrive in
 * whatever order they finished. Before the check, cp wrote them anyway and
 * said it had succeeded. And a FIFO with no reader as the destination,
 * refused at once rather than waited on.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST_SINCE_PHASE(2);

#define BIG (3 * 128 * 1024 + 777) /* bytes: three of cp's chunks and a piece of a fourth */

/* Make a temporary file, its name into `path` (64 bytes): `len` bytes of a pattern. */
static void patterned_file(char *path, size_t len)
{
    unsigned char *bytes = malloc(len);

    ck_assert_ptr_nonnull(bytes);
    for (size_t i = 0; i < len; i++)
        bytes[i] = (unsigned char)(i * 7 + i / 4096);
    test_temp_file(path, bytes, len);
    free(bytes);
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
    char src[64], dst[64];
    struct test_program r;

    patterned_file(src, BIG);
    test_temp_file(dst, "", 0); /* cp truncates it */
    test_run_built("examples/cp", (const char *[]){"cp", src, dst, NULL}, false, &r);
    ck_assert_uint_eq(slurp(src, a, sizeof(a)), BIG);
    ck_assert_uint_eq(slurp(dst, b, sizeof(b)), BIG);
    unlink(src);
    unlink(dst);
    ck_assert_int_eq(r.status, 0);
    ck_assert(memcmp(a, b, BIG) == 0);
    ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(a_pipe_as_the_destination_is_refused)
{
    char src[64];
    struct test_program r;

    patterned_file(src, 1000);
    /* Its standard output is a pipe to the test: cp opens it again by name. */
    test_run_built("examples/cp", (const char *[]){"cp", src, "/dev/stdout", NULL}, false, &r);
    unlink(src);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err,
                     "cp: /dev/stdout: not a regular file (a pipe or a device): it cannot be "
                     "written at offsets\n");
}
END_TEST

/*
 * A FIFO with no reader as the destination: opening one for writing waits
 * for a reader, so cp waited for ever in its open, before any check. It
 * opens DST with O_NONBLOCK now, and the open fails at once.
 */
START_TEST(a_fifo_with_no_reader_as_the_destination_is_refused)
{
    char src[64], fifo[64], want[160];
    struct test_program r;

    patterned_file(src, 1000);
    test_temp_file(fifo, "", 0); /* a fresh name: the file goes, a FIFO takes its place */
    ck_assert_int_eq(unlink(fifo), 0);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    test_run_built("examples/cp", (const char *[]){"cp", src, fifo, NULL}, false, &r);
    unlink(src);
    unlink(fifo);
    snprintf(want, sizeof(want), "cp: %s: not a regular file (a pipe with no reader)\n", fifo);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, want);
}
END_TEST

Suite *suite_cp(void)
{
    Suite *s = suite_create("cp");
    TCase *tc = test_case("cp");

    tcase_add_test(tc, a_file_of_several_chunks_is_copied_byte_for_byte);
    tcase_add_test(tc, a_pipe_as_the_destination_is_refused);
    tcase_add_test(tc, a_fifo_with_no_reader_as_the_destination_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
