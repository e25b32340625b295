/*
 * tests/test_signals.c - the runtime under signals: a storm of SIGALRM never
 * turns into a -ECANCELED the program did not ask for, and a write to a
 * socket whose peer has gone fails with -EPIPE instead of killing the
 * process with SIGPIPE.
 *
 * The storm: the first request that needs one of the kernel's io-wq worker
 * threads (a buffered write to a file, here) makes the kernel start one,
 * and Linux 6.11 to 6.18 cancel the request if four attempts all found a
 * signal pending. The workers of a process idle out after a few seconds, so
 * each round runs in a fresh process, where the first write needs a new one.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_SINCE_PHASE(2);

/* ------------------------------------------------------ the SIGALRM storm */

/*
 * Fresh processes in the storm. Before the fix, about one in three failed
 * on the machine this was written on (6.18, 2 CPUs), so that 32 rounds all
 * pass by luck once in 100,000 runs; with the fix, each takes tens of ms.
 */
#define ROUNDS   32
#define STORM_US 100         /* a SIGALRM every 100 us */
#define XFER     (64 * 1024) /* one write and one read: enough to need a worker */

/* Writes XFER bytes to a file and reads them back. Output: 0, or the first -errno. */
struct transfer {
    struct rt_async async;
    int fd;
    char *out, *in;
    struct rt_write_all write;
    struct rt_read_exact read;
    intptr_t n;
};

static enum rt_poll transfer_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct transfer *f = (struct transfer *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_write_all(&f->write, f->fd, f->out, XFER, 0);
    AWAIT(&f->write.async.future, &f->n);
    if (f->n != XFER)
        ASYNC_RETURN(f->n < 0 ? f->n : -EIO);
    rt_read_exact(&f->read, f->fd, f->in, XFER, 0);
    AWAIT(&f->read.async.future, &f->n);
    if (f->n != XFER || memcmp(f->in, f->out, XFER) != 0)
        ASYNC_RETURN(f->n < 0 ? f->n : -EIO);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable transfer_vtable = {transfer_poll, rt_async_drop};

static void on_alarm(int sig)
{
    (void)sig; /* only to be interrupted by */
}

/* The exit statuses of a round that are not an errno. */
#define ROUND_SETUP_FAILED 250
#define ROUND_ODD_OUTPUT   251

/* One round, in a fresh child process: the transfer under the storm. Exit status: -output. */
static void storm_round(int restart)
{
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
    struct itimerval storm = {{0, STORM_US}, {0, STORM_US}};
    struct transfer f = {.async = RT_ASYNC_INIT(&transfer_vtable)};
    char path[] = "/tmp/rt-test-storm-XXXXXX";
    struct rt_executor *ex;
    intptr_t res;

    f.fd = mkstemp(path);
    unlink(path);
    f.out = malloc(XFER);
    f.in = malloc(XFER);
    if (f.fd < 0 || !f.out || !f.in || rt_executor_create(NULL, &ex) < 0)
        _exit(ROUND_SETUP_FAILED);
    memset(f.out, 'x', XFER);
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &storm, NULL);
    res = rt_executor_run(ex, &f.async.future, sizeof(f));
    _exit(res < 0 && res > -ROUND_SETUP_FAILED ? (int)-res : res == 0 ? 0 : ROUND_ODD_OUTPUT);
}

START_TEST(a_signal_storm_cancels_nothing)
{
    int failed = 0, canceled = 0;

    rt_executor_destroy(test_executor()); /* skips here if there is no io_uring */
    for (int i = 0; i < ROUNDS; i++) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            storm_round(i % 2); /* the handler both with SA_RESTART and without */
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != ROUND_SETUP_FAILED &&
                          WEXITSTATUS(status) != ROUND_ODD_OUTPUT,
                      "round %d could not run (status %#x)", i, status);
        failed += WEXITSTATUS(status) != 0;
        canceled += WEXITSTATUS(status) == ECANCELED;
    }
    ck_assert_msg(failed == 0, "%d of %d transfers failed, %d of them with -ECANCELED", failed,
                  ROUNDS, canceled);
}
END_TEST

/* --------------------------------------------------------------- SIGPIPE */

struct write_to_gone_peer {
    struct rt_async async;
    int fd;
    struct rt_write_all write;
    struct rt_io io;
    intptr_t all, one;
};

static enum rt_poll write_to_gone_peer_poll(struct rt_future *self, struct rt_context *cx,
                                            intptr_t *out)
{
    struct write_to_gone_peer *f = (struct write_to_gone_peer *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_write_all(&f->write, f->fd, "hello", 5, RT_OFFSET_CURRENT);
    AWAIT(&f->write.async.future, &f->all);
    ck_assert_int_eq(f->all, -EPIPE);
    rt_io_write(&f->io, f->fd, "again", 5, RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, &f->one);
    ck_assert_int_eq(f->one, -EPIPE);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable write_to_gone_peer_vtable = {write_to_gone_peer_poll,
                                                                  rt_async_drop};

START_TEST(a_write_to_a_closed_socket_is_epipe)
{
    struct write_to_gone_peer f = {.async = RT_ASYNC_INIT(&write_to_gone_peer_vtable)};
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    close(fds[1]);
    f.fd = fds[0];
    test_run(&f.async.future, sizeof(f)); /* without the fix, SIGPIPE kills the test here */
    close(fds[0]);
}
END_TEST

/* A program that chose its own SIGPIPE handling keeps it. */
static void on_sigpipe(int sig)
{
    (void)sig;
}

START_TEST(a_program_s_own_sigpipe_handler_is_kept)
{
    struct sigaction mine = {.sa_handler = on_sigpipe}, now;

    ck_assert_int_eq(sigaction(SIGPIPE, &mine, NULL), 0);
    rt_executor_destroy(test_executor());
    ck_assert_int_eq(sigaction(SIGPIPE, NULL, &now), 0);
    ck_assert(now.sa_handler == on_sigpipe);
}
END_TEST

Suite *suite_signals(void)
{
    Suite *s = suite_create("signals");
    TCase *tc = test_case("signals");

    tcase_add_test(tc, a_signal_storm_cancels_nothing);
    tcase_add_test(tc, a_write_to_a_closed_socket_is_epipe);
    tcase_add_test(tc, a_program_s_own_sigpipe_handler_is_kept);
    suite_add_tcase(s, tc);
    return s;
}
