/*
 * tests/exercises/ex_1_1.c - exercise 1.1: rt_join_all, a future that owns an
 * array of join handles and is ready with the sum of their outputs once every
 * task is done, or with -ECANCELED if any of them was cancelled.
 *
 * The exercise declares, in join.h:
 *
 *     struct rt_join_all rt_join_all(struct rt_join_handle *handles, size_t n);
 *
 * `struct rt_join_all` starts with a `struct rt_future future`; the rest of
 * it is yours. The handles stay in the caller's array (which must outlive
 * the future); from this call on the future owns them: it awaits them, and
 * its drop detaches every one it has not consumed.
 *
 * Run: make exercise E=1.1   (this test does not build until rt_join_all exists)
 */
#include "harness.h"

#include <errno.h>

TEST_SINCE_PHASE(1);

#define JOBS 10

/* Spawns JOBS tasks (task i yields i times, then outputs i), then awaits rt_join_all over them. */
struct join_all_main {
    struct rt_async async;
    int cancel;                       /* the index of a task to cancel at once, or -1 */
    bool drop_early;                  /* drop the rt_join_all before its first poll */
    struct rt_join_handle jobs[JOBS]; /* owned by `all` once it is made */
    struct rt_join_all all;           /* the future under test */
    struct test_yield pause;          /* lets the detached tasks finish */
    intptr_t out;
};

static enum rt_poll join_all_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct join_all_main *f = (struct join_all_main *)self;

    ASYNC_BEGIN(f, cx, out);
    for (int i = 0; i < JOBS; i++) {
        struct test_yield job = test_yield(i, i, NULL);
        f->jobs[i] = rt_spawn(&job.future, sizeof(job));
    }
    if (f->cancel >= 0)
        ck_assert(rt_join_cancel(&f->jobs[f->cancel]));
    f->all = rt_join_all(f->jobs, JOBS);
    if (f->drop_early) {
        rt_future_drop(&f->all.future);
        for (int i = 0; i < JOBS; i++)
            ck_assert_msg(rt_join_is_empty(&f->jobs[i]), "handle %d was not detached", i);
        f->pause = test_yield(JOBS + 1, 0, NULL);
        AWAIT(&f->pause.future, NULL);
        /* Detached, the tasks ran to their end and were freed: only main is left. */
        ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1);
        ASYNC_RETURN(0);
    }
    AWAIT(&f->all.future, &f->out);
    ASYNC_RETURN(f->out);
    ASYNC_END;
}

static const struct rt_future_vtable join_all_main_vtable = {join_all_main_poll, rt_async_drop};

static intptr_t run_main(int cancel, bool drop_early)
{
    struct join_all_main f = {
        .async = RT_ASYNC_INIT(&join_all_main_vtable), .cancel = cancel, .drop_early = drop_early};

    return test_run(&f.async.future, sizeof(f));
}

START_TEST(sum_of_all_outputs)
{
    ck_assert_int_eq(run_main(-1, false), JOBS * (JOBS - 1) / 2);
}
END_TEST

START_TEST(one_cancelled_task_gives_ecanceled)
{
    ck_assert_int_eq(run_main(3, false), -ECANCELED);
}
END_TEST

START_TEST(dropped_before_first_poll_detaches_every_handle)
{
    ck_assert_int_eq(run_main(-1, true), 0);
}
END_TEST

Suite *suite_ex_1_1(void)
{
    Suite *s = suite_create("ex_1_1");
    TCase *tc = test_case("ex_1_1");

    tcase_add_test(tc, sum_of_all_outputs);
    tcase_add_test(tc, one_cancelled_task_gives_ecanceled);
    tcase_add_test(tc, dropped_before_first_poll_detaches_every_handle);
    suite_add_tcase(s, tc);
    return s;
}
