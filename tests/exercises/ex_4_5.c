/*
 * tests/exercises/ex_4_5.c - Exercise 4.5: rt_executor_memory_trim() gives the cached blocks back.
 *
 * The exercise: add
 *
 *     size_t rt_executor_memory_trim(struct rt_executor *ex);
 *
 * to executor.h (beside rt_executor_memory_stats) and make it free every
 * block on `ex`'s per-core free lists, returning how many bytes that gave
 * back to malloc. Called on the executor's own thread (here, from its
 * main future). Afterwards nothing is cached, blocks still handed out are
 * not touched, the executor goes on recycling as before, and a second trim
 * gives back nothing. The counters stay honest: every trimmed block counts
 * as `released`, none as `recycled`. Run it under `make exercise E=4.5
 * SAN=1` too: a trimmed block must be unpoisoned before it is freed.
 *
 * Until the exercise is done this file does not compile:
 * rt_executor_memory_trim is undeclared.
 */
#include "harness.h"

#include <string.h>

TEST_SINCE_PHASE(4);

#define TASKS 100

static struct rt_memory_stats stats_now(void)
{
    struct rt_memory_stats s;

    rt_executor_memory_stats(rt_executor_current(), &s);
    return s;
}

struct burst_then_trim {
    struct rt_async async;
    struct rt_join_handle h[TASKS];
    struct rt_io io;
    struct rt_memory_stats before, after;
    size_t freed;
    int i;
    intptr_t out, sum;
};

static enum rt_poll burst_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct burst_then_trim *f = (struct burst_then_trim *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Nothing has been given back yet: nothing to trim. */
    ck_assert_uint_eq(rt_executor_memory_trim(rt_executor_current()), 0);

    /* A burst of tasks and a request, all finished: their blocks are on the lists. */
    for (f->i = 0; f->i < TASKS; f->i++) {
        struct test_value child = test_value(f->i);

        f->h[f->i] = rt_spawn(&child.future, sizeof(child));
    }
    for (f->i = 0; f->i < TASKS; f->i++) {
        AWAIT(&f->h[f->i].future, &f->out);
        f->sum += f->out;
    }
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->out);

    f->before = stats_now();
    ck_assert_uint_ge(f->before.cached_blocks, TASKS); /* the tasks' blocks, and the source's */
    f->freed = rt_executor_memory_trim(rt_executor_current());
    f->after = stats_now();
    ck_assert_uint_eq(f->freed, f->before.cached_bytes);
    ck_assert_uint_eq(f->after.cached_blocks, 0);
    ck_assert_uint_eq(f->after.cached_bytes, 0);
    ck_assert_uint_eq(f->after.released, f->before.released + f->before.cached_blocks);
    ck_assert_uint_eq(f->after.recycled, f->before.recycled);
    ck_assert_uint_eq(f->after.outstanding, f->before.outstanding); /* main's own block, at least */
    ck_assert_uint_eq(rt_executor_memory_trim(rt_executor_current()), 0);

    /* Still recycling: the next task's block comes from malloc, the one after from the list. */
    {
        struct test_value child = test_value(1);

        f->h[0] = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_uint_eq(stats_now().allocated, f->after.allocated + 1);
    AWAIT(&f->h[0].future, &f->out);
    {
        struct test_value child = test_value(2);

        f->before = stats_now();
        f->h[0] = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_uint_eq(stats_now().reused, f->before.reused + 1);
    AWAIT(&f->h[0].future, &f->out);
    ASYNC_RETURN(f->sum);
    ASYNC_END;
}

static const struct rt_future_vtable burst_vtable = {burst_poll, rt_async_drop};

START_TEST(trim_gives_back_every_cached_block_and_recycling_goes_on)
{
    struct burst_then_trim f = {.async = RT_ASYNC_INIT(&burst_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), TASKS * (TASKS - 1) / 2);
}
END_TEST

Suite *suite_ex_4_5(void)
{
    Suite *s = suite_create("ex_4_5");
    TCase *tc = test_case("ex_4_5");

    tcase_add_test(tc, trim_gives_back_every_cached_block_and_recycling_goes_on);
    suite_add_tcase(s, tc);
    return s;
}
