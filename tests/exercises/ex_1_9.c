/*
 * tests/exercises/ex_1_9.c - exercise 1.9: a pool of task blocks.
 *
 * The exercise gives struct rt_executor a free list of task blocks, each big
 * enough for a task whose future is at most 64 bytes. rt__task_new() takes a
 * block from the list when the future fits and the list is not empty;
 * rt__task_unref() puts the block of such a task back instead of freeing it,
 * unless the list holds 1,024 blocks already; rt_executor_destroy() frees the
 * list. Tasks with bigger futures are allocated and freed as before.
 *
 * The blocks come from rt__malloc(), so the harness counts a pooled block as
 * live until the executor is destroyed: that is what this test looks at.
 *
 * Run: make exercise E=1.9   (builds, and fails until tasks are pooled)
 */
#include "harness.h"

#include <stdlib.h>

TEST_SINCE_PHASE(1);

#define MANY 1100 /* more tasks alive at once than the pool may keep */

/* A future of 128 bytes: too big for a pooled block. */
struct big {
    struct rt_future future;
    char payload[120];
};

static enum rt_poll big_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable big_vtable = {.poll = big_poll};

struct pool_main {
    struct rt_async async;
    long live0; /* blocks live when main started: the executor and main's own task */
    struct rt_join_handle job;
    struct rt_join_handle *many; /* MANY handles, from malloc so the count is not disturbed */
    int i;
};

static enum rt_poll pool_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct pool_main *f = (struct pool_main *)self;

    ASYNC_BEGIN(f, cx, out);
    f->live0 = rt__alloc_live();
    {
        struct test_value child = test_value(1);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_int_eq(rt__alloc_live(), f->live0 + 1); /* the pool was empty: a new block */
    AWAIT(&f->job.future, NULL);
    ck_assert_msg(rt__alloc_live() == f->live0 + 1, "a finished task's block was freed, not kept");
    {
        struct test_value child = test_value(2);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_msg(rt__alloc_live() == f->live0 + 1, "a new task did not reuse the kept block");
    AWAIT(&f->job.future, NULL);

    /* A big future is not pooled: its block is freed when the task is. */
    {
        struct big child = {.future = {&big_vtable}};
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_int_eq(rt__alloc_live(), f->live0 + 2);
    AWAIT(&f->job.future, NULL);
    ck_assert_int_eq(rt__alloc_live(), f->live0 + 1);

    /* MANY tasks alive at once, then all finished: the pool keeps 1,024 of their blocks. */
    f->many = malloc(MANY * sizeof(*f->many));
    ck_assert_ptr_nonnull(f->many);
    for (int i = 0; i < MANY; i++) {
        struct test_value child = test_value(i);
        f->many[i] = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_int_eq(rt__alloc_live(), f->live0 + MANY);
    for (f->i = 0; f->i < MANY; f->i++)
        AWAIT(&f->many[f->i].future, NULL);
    free(f->many);
    f->many = NULL;
    ck_assert_int_eq(rt__alloc_live(), f->live0 + 1024);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable pool_main_vtable = {pool_main_poll, rt_async_drop};

START_TEST(finished_task_blocks_are_kept_and_reused)
{
    struct pool_main f = {.async = RT_ASYNC_INIT(&pool_main_vtable)};

    /* test_run() destroys the executor: the harness then checks that the pool was freed. */
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_ex_1_9(void)
{
    Suite *s = suite_create("ex_1_9");
    TCase *tc = test_case("ex_1_9");

    tcase_add_test(tc, finished_task_blocks_are_kept_and_reused);
    suite_add_tcase(s, tc);
    return s;
}
