/*
 * tests/test_async.c - the ASYNC_BEGIN / AWAIT / ASYNC_RETURN / ASYNC_END
 * macros: a future with two awaits and a loop, a suspended async future
 * dropped with its child, and the two ways to misuse them.
 */
#include "harness.h"

TEST_SINCE_PHASE(1);

/* ----------------------------------------------- several steps, two awaits */

/* Where the async function below has got to, seen from outside. */
static int steps[16];
static int nsteps;

struct two_awaits {
    struct rt_async async;
    struct rt_join_handle job; /* first await: a spawned task */
    struct test_yield nap;     /* second await: a plain future, polled in place */
    int polls;                 /* the nap's polls */
    int i;
    intptr_t a, b;
};

static enum rt_poll two_awaits_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct two_awaits *f = (struct two_awaits *)self;

    steps[nsteps++] = f->async.line == 0 ? 0 : 1; /* 0: started, 1: resumed */
    ASYNC_BEGIN(f, cx, out);
    {
        struct test_yield child = test_yield(2, 40, NULL);
        f->job = rt_spawn(&child.future, sizeof(child));
    }
    AWAIT(&f->job.future, &f->a);
    ck_assert_int_eq(f->a, 40);
    ck_assert_ptr_null(f->async.awaiting);

    f->nap = test_yield(1, 2, &f->polls);
    AWAIT(&f->nap.future, &f->b);
    ck_assert_int_eq(f->b, 2);
    ck_assert_int_eq(f->polls, 2);

    /* An AWAIT inside a loop resumes inside the loop, with the counter from the struct. */
    for (f->i = 0; f->i < 3; f->i++) {
        f->nap = test_yield(1, f->i, NULL);
        AWAIT(&f->nap.future, &f->b);
        ck_assert_int_eq(f->b, f->i);
    }
    ASYNC_RETURN(f->a + 2);
    ASYNC_END;
}

static const struct rt_future_vtable two_awaits_vtable = {two_awaits_poll, rt_async_drop};

START_TEST(two_awaits_and_a_loop)
{
    struct two_awaits f = {.async = RT_ASYNC_INIT(&two_awaits_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 42);
    /* Started once, then resumed: pending on the job, once on the nap, once per loop turn. */
    ck_assert_int_eq(steps[0], 0);
    ck_assert_int_gt(nsteps, 1 + 1 + 3);
    for (int i = 1; i < nsteps; i++)
        ck_assert_int_eq(steps[i], 1);
}
END_TEST

/* ------------------------------------------ dropped while suspended */

static struct rt_waker slot;

struct suspended {
    struct rt_async async;
    struct test_wait wait; /* the child: keeps its waker in `slot` */
};

static enum rt_poll suspended_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct suspended *f = (struct suspended *)self;

    ASYNC_BEGIN(f, cx, out);
    f->wait = test_wait(&slot, 0);
    AWAIT(&f->wait.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable suspended_vtable = {suspended_poll, rt_async_drop};

struct drop_suspended {
    struct rt_async async;
    struct rt_join_handle job;
    struct test_yield pause;
};

static enum rt_poll drop_suspended_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct drop_suspended *f = (struct drop_suspended *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct suspended child = {.async = RT_ASYNC_INIT(&suspended_vtable)};
        f->job = rt_spawn(&child.async.future, sizeof(child));
    }
    f->pause = test_yield(1, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(!rt_waker_is_empty(&slot)); /* the child is suspended in its AWAIT */
    ck_assert(rt_join_cancel(&f->job));
    ck_assert(rt_waker_is_empty(&slot)); /* rt_async_drop dropped the awaited child */
    AWAIT(&f->job.future, NULL);
    ck_assert(f->job.cancelled);
    ASYNC_RETURN(1);
    ASYNC_END;
}

static const struct rt_future_vtable drop_suspended_vtable = {drop_suspended_poll, rt_async_drop};

START_TEST(dropping_a_suspended_future_drops_its_child)
{
    struct drop_suspended f = {.async = RT_ASYNC_INIT(&drop_suspended_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 1);
}
END_TEST

/* ------------------------------------------------------------- misuse */

/* A waker that does nothing, to poll futures by hand outside an executor. */
static struct rt_waker noop_clone(void *data);
static void noop(void *data)
{
    (void)data;
}
static const struct rt_waker_vtable noop_vtable = {noop_clone, noop, noop, noop};
static struct rt_waker noop_clone(void *data)
{
    return (struct rt_waker){data, &noop_vtable};
}

struct returns_once {
    struct rt_async async;
};

static enum rt_poll returns_once_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct returns_once *f = (struct returns_once *)self;

    ASYNC_BEGIN(f, cx, out);
    ASYNC_RETURN(5);
    ASYNC_END;
}

static const struct rt_future_vtable returns_once_vtable = {returns_once_poll, rt_async_drop};

/* The misuse, run by test_expect_die(): poll the future `arg` by hand, once. */
static void poll_once_more(void *arg)
{
    struct rt_waker w = {NULL, &noop_vtable};
    struct rt_context cx = {&w};
    intptr_t out = 0;

    rt_future_poll(arg, &cx, &out);
}

START_TEST(polled_after_it_finished_stops_the_program)
{
    struct returns_once f = {.async = RT_ASYNC_INIT(&returns_once_vtable)};
    struct rt_waker w = {NULL, &noop_vtable};
    struct rt_context cx = {&w};
    intptr_t out = 0;

    ck_assert_int_eq(rt_future_poll(&f.async.future, &cx, &out), RT_READY);
    ck_assert_int_eq(out, 5);
    test_expect_die(poll_once_more, &f.async.future,
                    "an async future was polled again after it finished");
}
END_TEST

static enum rt_poll falls_off_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct returns_once *f = (struct returns_once *)self;

    ASYNC_BEGIN(f, cx, out);
    /* forgot ASYNC_RETURN */
    ASYNC_END;
}

static const struct rt_future_vtable falls_off_vtable = {falls_off_poll, rt_async_drop};

START_TEST(falling_off_the_end_stops_the_program)
{
    struct returns_once f = {.async = RT_ASYNC_INIT(&falls_off_vtable)};

    test_expect_die(poll_once_more, &f.async.future, "reached ASYNC_END without ASYNC_RETURN");
}
END_TEST

Suite *suite_async(void)
{
    Suite *s = suite_create("async");
    TCase *tc = test_case("async");

    tcase_add_test(tc, two_awaits_and_a_loop);
    tcase_add_test(tc, dropping_a_suspended_future_drops_its_child);
    tcase_add_test(tc, polled_after_it_finished_stops_the_program);
    tcase_add_test(tc, falling_off_the_end_stops_the_program);
    suite_add_tcase(s, tc);
    return s;
}
