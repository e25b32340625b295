/*
 * tests/exercises/ex_1_7.c - exercise 1.7: a waker woken from another thread
 * stops the program.
 *
 * The exercise records, in struct rt_executor, the thread that runs it, and
 * makes task_waker_wake() and task_waker_wake_by_ref() call rt__die() with a
 * clear message when they run on any other thread. A wake on the executor's
 * own thread must keep working.
 *
 * The tests below wake a task's waker from a second thread while the
 * executor's thread waits for that thread to finish, so the two never run at
 * the same time: today's code then quietly queues the task (a data race in
 * any real program), and the tests that expect the program to stop fail.
 * The message must contain the words "another thread".
 *
 * Run: make exercise E=1.7
 */
#include "harness.h"

#include <pthread.h>

TEST_SINCE_PHASE(1);

enum how { SAME_THREAD, OTHER_THREAD_WAKE, OTHER_THREAD_WAKE_BY_REF };

static struct rt_waker kept; /* a clone of the task's waker, for the other thread */

static void *wake_kept(void *arg)
{
    if (*(enum how *)arg == OTHER_THREAD_WAKE)
        rt_waker_wake(&kept);
    else
        rt_waker_wake_by_ref(&kept);
    return NULL;
}

/* First poll: keep a waker and have it woken (on this thread or another). Second poll: ready. */
struct wake_me {
    struct rt_future future;
    enum how how;
    bool woken;
};

static enum rt_poll wake_me_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct wake_me *f = (struct wake_me *)self;
    pthread_t thread;

    if (f->woken) {
        rt_waker_drop(&kept); /* empty already after a wake */
        *out = 1;
        return RT_READY;
    }
    f->woken = true;
    kept = rt_waker_clone(cx->waker);
    if (f->how == SAME_THREAD) {
        rt_waker_wake(&kept);
    } else {
        ck_assert_int_eq(pthread_create(&thread, NULL, wake_kept, &f->how), 0);
        pthread_join(thread, NULL);
    }
    return RT_PENDING;
}

static const struct rt_future_vtable wake_me_vtable = {.poll = wake_me_poll};

static intptr_t run(enum how how)
{
    struct wake_me f = {.future = {&wake_me_vtable}, .how = how};

    return test_run(&f.future, sizeof(f));
}

START_TEST(wake_on_the_executor_thread_works)
{
    ck_assert_int_eq(run(SAME_THREAD), 1);
}
END_TEST

/* The misuse, run by test_expect_die(): a wake from a thread that is not the executor's. */
static void run_with(void *how)
{
    run(*(enum how *)how);
}

START_TEST(wake_from_another_thread_stops_the_program)
{
    enum how how = OTHER_THREAD_WAKE;

    test_expect_die(run_with, &how, "another thread");
}
END_TEST

START_TEST(wake_by_ref_from_another_thread_stops_the_program)
{
    enum how how = OTHER_THREAD_WAKE_BY_REF;

    test_expect_die(run_with, &how, "another thread");
}
END_TEST

Suite *suite_ex_1_7(void)
{
    Suite *s = suite_create("ex_1_7");
    TCase *tc = test_case("ex_1_7");

    tcase_add_test(tc, wake_on_the_executor_thread_works);
    tcase_add_test(tc, wake_from_another_thread_stops_the_program);
    tcase_add_test(tc, wake_by_ref_from_another_thread_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
