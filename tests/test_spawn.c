/*
 * tests/test_spawn.c - rt_spawn() and join handles: one task, 10,000 tasks,
 * and tasks that spawn tasks.
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

/* ------------------------------------------------------------ one task */

struct spawn_one {
    struct rt_async async;
    struct rt_join_handle job;
    intptr_t out;
};

static enum rt_poll spawn_one_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawn_one *f = (struct spawn_one *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        /* A local is fine here: rt_spawn copies the future before anything polls it. */
        struct test_value child = test_value(7);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 2); /* main + child */
    AWAIT(&f->job.future, &f->out);
    ck_assert(!f->job.cancelled);
    ck_assert(rt_join_is_empty(&f->job));
    ASYNC_RETURN(f->out * 10);
    ASYNC_END;
}

static const struct rt_future_vtable spawn_one_vtable = {spawn_one_poll, rt_async_drop};

START_TEST(spawn_and_join_one)
{
    struct spawn_one f = {.async = RT_ASYNC_INIT(&spawn_one_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 70);
}
END_TEST

/* ------------------------------------------------------- many tasks */

#define MANY 10000

struct spawn_many {
    struct rt_async async;
    struct rt_join_handle *jobs; /* MANY handles, rt__malloc'd */
    int i;
    intptr_t out;
    intptr_t sum;
};

static enum rt_poll spawn_many_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawn_many *f = (struct spawn_many *)self;

    ASYNC_BEGIN(f, cx, out);
    f->jobs = rt__malloc(MANY * sizeof(*f->jobs));
    for (f->i = 0; f->i < MANY; f->i++) {
        /* Some finish at once, some after pending once or twice. */
        struct test_yield child = test_yield(f->i % 3, f->i, NULL);
        f->jobs[f->i] = rt_spawn(&child.future, sizeof(child));
    }
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT(&f->jobs[f->i].future, &f->out);
        ck_assert_int_eq(f->out, f->i);
        f->sum += f->out;
    }
    rt__free(f->jobs);
    ASYNC_RETURN(f->sum);
    ASYNC_END;
}

static const struct rt_future_vtable spawn_many_vtable = {spawn_many_poll, rt_async_drop};

START_TEST(spawn_and_join_many)
{
    struct spawn_many f = {.async = RT_ASYNC_INIT(&spawn_many_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), (intptr_t)MANY * (MANY - 1) / 2);
}
END_TEST

/* ------------------------------------------------- tasks spawning tasks */

/* Spawns two children of depth - 1 and returns 1 + what they return: the size of the tree. */
struct tree {
    struct rt_async async;
    int depth;
    struct rt_join_handle left, right;
    intptr_t l, r;
};

static const struct rt_future_vtable tree_vtable;

static enum rt_poll tree_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct tree *f = (struct tree *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->depth == 0)
        ASYNC_RETURN(1);
    {
        struct tree child = {.async = RT_ASYNC_INIT(&tree_vtable), .depth = f->depth - 1};
        f->left = rt_spawn(&child.async.future, sizeof(child));
        f->right = rt_spawn(&child.async.future, sizeof(child));
    }
    AWAIT(&f->left.future, &f->l);
    AWAIT(&f->right.future, &f->r);
    ASYNC_RETURN(1 + f->l + f->r);
    ASYNC_END;
}

static const struct rt_future_vtable tree_vtable = {tree_poll, rt_async_drop};

START_TEST(nested_spawns)
{
    struct tree f = {.async = RT_ASYNC_INIT(&tree_vtable), .depth = 10};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), (1 << 11) - 1);
}
END_TEST

/* ------------------------------------------------------------- misuse */

/* The misuse, run by test_expect_die(). */
static void spawn_with_no_executor(void *arg)
{
    struct test_value f = test_value(1);

    (void)arg;
    rt_spawn(&f.future, sizeof(f));
}

START_TEST(spawn_outside_an_executor_stops_the_program)
{
    test_expect_die(spawn_with_no_executor, NULL,
                    "rt_spawn: no executor is running on this thread");
}
END_TEST

Suite *suite_spawn(void)
{
    Suite *s = suite_create("spawn");
    TCase *tc = test_case("spawn");

    tcase_add_test(tc, spawn_and_join_one);
    tcase_add_test(tc, spawn_and_join_many);
    tcase_add_test(tc, nested_spawns);
    tcase_add_test(tc, spawn_outside_an_executor_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
