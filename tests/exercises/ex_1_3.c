/*
 * tests/exercises/ex_1_3.c - exercise 1.3: the deadlock message names the
 * tasks that are still alive.
 *
 * Before it stops the program, rt_executor_run() prints to stderr one line
 * per task the executor still owns (every task on ex->tasks), in this form:
 *
 *     task 0x55d4c3a1e2c0: state=0x10 refs=2
 *
 * (the address, the state bits in hex, the reference count). The test runs a
 * program that deadlocks in a child process, reads what it printed, and
 * checks those lines.
 *
 * Run: make exercise E=1.3   (builds and fails until the lines are printed)
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_SINCE_PHASE(1);

/* Spawns two children that wait for wake-ups that never come, and awaits the first. */
struct stuck_main {
    struct rt_async async;
    struct rt_waker slots[2]; /* the children's wakers: never woken */
    struct rt_join_handle a;
    struct rt_join_handle b;
};

static enum rt_poll stuck_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct stuck_main *f = (struct stuck_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct test_wait child = test_wait(&f->slots[0], 1);
        f->a = rt_spawn(&child.future, sizeof(child));
        child = test_wait(&f->slots[1], 2);
        f->b = rt_spawn(&child.future, sizeof(child));
    }
    AWAIT(&f->a.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable stuck_main_vtable = {stuck_main_poll, rt_async_drop};

/* In a child process with stderr on `fd`: deadlock, which must end in abort(). */
static _Noreturn void deadlock_with_stderr_on(int fd)
{
    struct stuck_main f = {.async = RT_ASYNC_INIT(&stuck_main_vtable)};

    dup2(fd, STDERR_FILENO);
    test_run(&f.async.future, sizeof(f));
    _exit(0); /* not reached if the deadlock is detected */
}

START_TEST(deadlock_message_lists_every_task)
{
    char text[4096];
    size_t len = 0;
    ssize_t n;
    int fds[2], status, lines = 0;
    pid_t pid;
    FILE *in;
    char line[256];

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        deadlock_with_stderr_on(fds[1]);
    }
    close(fds[1]);
    while (len < sizeof(text) - 1 && (n = read(fds[0], text + len, sizeof(text) - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "the deadlock did not stop the program with abort()");
    ck_assert_msg(strstr(text, "deadlock") != NULL, "no deadlock message in:\n%s", text);

    /* main, awaiting a: HANDLE, held by run() and by a's awaiter slot; a and b: HANDLE,
     * held by their handles and by the wakers in the slots. */
    in = fmemopen(text, len, "r");
    ck_assert_ptr_nonnull(in);
    while (fgets(line, sizeof(line), in)) {
        void *addr;
        unsigned state, refs;

        if (sscanf(line, "task %p: state=%x refs=%u", &addr, &state, &refs) != 3)
            continue;
        lines++;
        ck_assert_msg(state == 0x10 && refs == 2, "unexpected line: %s", line);
    }
    fclose(in);
    ck_assert_msg(lines == 3, "%d task lines, expected 3, in:\n%s", lines, text);
}
END_TEST

Suite *suite_ex_1_3(void)
{
    Suite *s = suite_create("ex_1_3");
    TCase *tc = test_case("ex_1_3");

    tcase_add_test(tc, deadlock_message_lists_every_task);
    suite_add_tcase(s, tc);
    return s;
}
