/*
 * tests/test_reactor.c - the reactor itself: requests reach the kernel in
 * batches, and an executor that cannot get an io_uring says why and what to
 * do about it; one that runs out of descriptors part way closes what it had
 * opened.
 *
 * The startup failures are real, not simulated: each test runs in a process
 * of its own, so it can install a seccomp filter that makes one io_uring
 * system call fail, exactly as a container's profile would.
 */
#include "harness.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "reactor.h"

TEST_SINCE_PHASE(2);

/* --------------------------------------------------------- batching */

#define NOPS 100

struct nop {
    struct rt_async async;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll nop_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct nop *f = (struct nop *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable nop_vtable = {nop_poll, rt_async_drop};

struct many_nops {
    struct rt_async async;
    struct rt_join_handle jobs[NOPS];
    int i;
    intptr_t res;
};

static enum rt_poll many_nops_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct many_nops *f = (struct many_nops *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < NOPS; f->i++) {
        struct nop n = {.async = RT_ASYNC_INIT(&nop_vtable)};
        f->jobs[f->i] = rt_spawn(&n.async.future, sizeof(n));
    }
    for (f->i = 0; f->i < NOPS; f->i++) {
        AWAIT(&f->jobs[f->i].future, &f->res);
        ck_assert_int_eq(f->res, 0);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable many_nops_vtable = {many_nops_poll, rt_async_drop};

START_TEST(requests_of_one_turn_share_one_system_call)
{
    struct many_nops f = {.async = RT_ASYNC_INIT(&many_nops_vtable)};
    struct rt_executor *ex = test_executor();
    struct reactor_stats *stats = &rt__executor_reactor(ex)->stats;

    rt_executor_run(ex, &f.async.future, sizeof(f));
    /* All hundred tasks ran in one turn, so their NOPs went to the kernel together. */
    ck_assert_uint_eq(stats->submitted, NOPS);
    ck_assert_uint_eq(stats->completed, NOPS);
    ck_assert_uint_eq(stats->submit_calls, 1);
    ck_assert_uint_eq(stats->sq_full, 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------------ startup failures */

/*
 * Make system call `nr` fail with `err` in this process from now on. This is
 * what a container runtime's seccomp profile does (Docker's default profile
 * refuses io_uring_setup with EPERM). No architecture check: the test only
 * needs to fool itself, on the architecture it was compiled for.
 */
static void refuse_syscall(long nr, int err)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        TEST_SKIP("cannot install a seccomp filter here");
}

/* Creating an executor fails with `err`, and rt_last_error() contains `needle`. */
static void assert_create_fails(int err, const char *needle)
{
    struct rt_executor *ex = NULL;

    ck_assert_int_eq(rt_executor_create(NULL, &ex), err);
    ck_assert_ptr_null(ex);
    ck_assert_msg(strstr(rt_last_error(), needle) != NULL, "\"%s\" does not mention \"%s\"",
                  rt_last_error(), needle);
}

START_TEST(seccomp_eperm_is_explained)
{
    int disabled = rt__io_uring_disabled(); /* it decides which message EPERM gets */

    refuse_syscall(__NR_io_uring_setup, EPERM);
    assert_create_fails(-EPERM, disabled == 0 ? "seccomp" : "kernel.io_uring_disabled");
}
END_TEST

START_TEST(enosys_is_explained)
{
    refuse_syscall(__NR_io_uring_setup, ENOSYS);
    assert_create_fails(-ENOSYS, "no io_uring system calls");
}
END_TEST

START_TEST(refused_probe_is_explained)
{
    /* The ring is made, but asking which operations the kernel has is refused. */
    refuse_syscall(__NR_io_uring_register, EPERM);
    assert_create_fails(-EOPNOTSUPP, "io_uring_register");
}
END_TEST

START_TEST(ring_too_big_is_explained)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex = NULL;
    int fds_before;

    rt_executor_destroy(test_executor()); /* skipped where there is no io_uring at all */
    fds_before = test_fd_count();
    b.ring_entries = 1u << 20;
    ck_assert_int_eq(rt_executor_create(&b, &ex), -EINVAL);
    ck_assert_ptr_null(ex);
    ck_assert_ptr_nonnull(strstr(rt_last_error(), "32768"));
    ck_assert_int_eq(test_fd_count(), fds_before);

    /* The next success clears the message, and the thread is no worse for the failure. */
    b.ring_entries = 8;
    ex = test_executor_with(&b);
    ck_assert_str_eq(rt_last_error(), "");
    rt_executor_destroy(ex);
}
END_TEST

/*
 * Descriptors run out at each step of making an executor in turn: its ring
 * first, then (phase 3 on) its doorbell and its preemption timer's ring
 * (`extra` is how many descriptors the limit leaves free, 0 first). Every
 * failure says so, returns -EMFILE and leaves nothing behind: no descriptor
 * (the ring and the doorbell made before the step that failed are closed),
 * no memory, no executor.
 */
START_TEST(a_create_out_of_descriptors_closes_what_it_opened)
{
    struct rt_executor *ex;
    struct rlimit old, lim;
    int per_executor;

    /* What one executor costs in descriptors, measured (skipped where there is no io_uring). */
    per_executor = test_fd_count();
    ex = test_executor();
    per_executor = test_fd_count() - per_executor;
    rt_executor_destroy(ex);
    ck_assert_int_gt(per_executor, 0);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);

    for (int extra = 0; extra < per_executor; extra++) {
        int fds_before = test_fd_count(), err;
        long live_before = rt__alloc_live();

        ex = NULL;
        lim = old;
        lim.rlim_cur = test_fd_limit_leaving(extra);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
        err = rt_executor_create(NULL, &ex);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

        ck_assert_msg(err == -EMFILE, "extra %d: rt_executor_create: %d (%s)", extra, err,
                      rt_last_error());
        ck_assert_ptr_null(ex);
        ck_assert_int_eq(test_fd_count(), fds_before);
        ck_assert_int_eq(rt__alloc_live(), live_before);
        ck_assert_msg(strstr(rt_last_error(), "file"), "extra %d: rt_last_error() is \"%s\"", extra,
                      rt_last_error());
    }
}
END_TEST

/* The messages for causes a test cannot produce on this machine, fed to the explainer directly. */
START_TEST(every_cause_has_a_fix)
{
    static const struct {
        int err, disabled;
        const char *needle;
    } cases[] = {
        {-EPERM, 2, "sysctl -w kernel.io_uring_disabled=0"},
        {-EPERM, 1, "kernel.io_uring_group"},
        {-EPERM, 0, "--security-opt seccomp=unconfined"},
        {-EACCES, 0, "seccomp"},
        {-ENOSYS, 0, "Linux 5.6"},
        {-ENOMEM, 0, "RLIMIT_MEMLOCK"},
        {-EINVAL, 0, "1 to 32768"},
        {-EMFILE, 0, "ulimit -n"},
        {-EIO, 0, "Input/output error"},
    };
    char why[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rt__explain_ring_error(cases[i].err, cases[i].disabled, 64, why, sizeof(why));
        ck_assert_msg(strstr(why, cases[i].needle) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, why,
                      cases[i].needle);
    }
}
END_TEST

Suite *suite_reactor(void)
{
    Suite *s = suite_create("reactor");
    TCase *tc = test_case("reactor");

    tcase_add_test(tc, requests_of_one_turn_share_one_system_call);
    tcase_add_test(tc, seccomp_eperm_is_explained);
    tcase_add_test(tc, enosys_is_explained);
    tcase_add_test(tc, refused_probe_is_explained);
    tcase_add_test(tc, ring_too_big_is_explained);
    tcase_add_test(tc, a_create_out_of_descriptors_closes_what_it_opened);
    tcase_add_test(tc, every_cause_has_a_fix);
    suite_add_tcase(s, tc);
    return s;
}
