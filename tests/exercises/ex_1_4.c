/*
 * tests/exercises/ex_1_4.c - exercise 1.4: a select of two futures.
 *
 * The exercise adds phase1-executor/select.h (and select.c) with:
 *
 *     struct rt_select2 {
 *         struct rt_future future; // await this
 *         ...                      // the rest is yours
 *     };
 *     struct rt_select2 rt_select2(struct rt_future *a, struct rt_future *b, intptr_t *value);
 *
 * The select owns the two futures at `a` and `b` (they stay where they are,
 * usually in the same struct as the select). It is ready as soon as either
 * one is: its output is 0 if `a` finished, 1 if `b` did, and the winner's
 * output is stored in *value. Each child is dropped exactly once: the winner
 * once it is ready, the loser then too, and both if the select is dropped
 * before it finishes.
 *
 * Run: make exercise E=1.4   (this test does not build until select.h exists)
 */
#include "harness.h"

#include "select.h"

TEST_SINCE_PHASE(1);

/* Pending `pending` times (waking itself, or not if it must wait forever), then ready. */
struct probe {
    struct rt_future future;
    int pending;          /* polls left that return RT_PENDING; < 0: pending forever, never woken */
    intptr_t value;       /* output */
    int *drops;           /* counts drop calls */
    struct rt_waker kept; /* a forever-pending probe keeps its waker here, as a real wait would */
};

static enum rt_poll probe_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct probe *p = (struct probe *)self;

    if (p->pending < 0) {
        rt_waker_register(&p->kept, cx);
        return RT_PENDING;
    }
    if (p->pending > 0) {
        p->pending--;
        rt_waker_wake_by_ref(cx->waker);
        return RT_PENDING;
    }
    *out = p->value;
    return RT_READY;
}

static void probe_drop(struct rt_future *self)
{
    struct probe *p = (struct probe *)self;

    rt_waker_drop(&p->kept);
    (*p->drops)++;
}

static const struct rt_future_vtable probe_vtable = {probe_poll, probe_drop};

static struct probe probe(int pending, intptr_t value, int *drops)
{
    return (struct probe){
        .future = {&probe_vtable}, .pending = pending, .value = value, .drops = drops};
}

/* Awaits a select between two probes that live beside it in this struct. */
struct select_main {
    struct rt_async async;
    int pending_a, pending_b; /* the probes' settings */
    int drops_a, drops_b;     /* their drop counts */
    struct probe a;
    struct probe b;
    struct rt_select2 sel;
    intptr_t value; /* the winner's output */
    intptr_t which; /* the select's output */
};

static enum rt_poll select_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct select_main *f = (struct select_main *)self;

    ASYNC_BEGIN(f, cx, out);
    /* Made here, not before the spawn: the select points at a and b, which must not move. */
    f->a = probe(f->pending_a, 10, &f->drops_a);
    f->b = probe(f->pending_b, 20, &f->drops_b);
    f->sel = rt_select2(&f->a.future, &f->b.future, &f->value);
    AWAIT(&f->sel.future, &f->which);
    ck_assert_int_eq(f->drops_a, 1);
    ck_assert_int_eq(f->drops_b, 1);
    ASYNC_RETURN(f->which * 100 + f->value);
    ASYNC_END;
}

static const struct rt_future_vtable select_main_vtable = {select_main_poll, rt_async_drop};

static intptr_t run_select(int pending_a, int pending_b)
{
    struct select_main f = {.async = RT_ASYNC_INIT(&select_main_vtable),
                            .pending_a = pending_a,
                            .pending_b = pending_b};

    return test_run(&f.async.future, sizeof(f));
}

START_TEST(first_ready_wins)
{
    ck_assert_int_eq(run_select(0, -1), 0 * 100 + 10); /* a at once; b waits forever */
    ck_assert_int_eq(run_select(-1, 0), 1 * 100 + 20); /* b at once */
    ck_assert_int_eq(run_select(5, 2), 1 * 100 + 20);  /* b after two wake-ups, a needs five */
    ck_assert_int_eq(run_select(1, 4), 0 * 100 + 10);
}
END_TEST

/* A task whose future awaits a select over two probes that wait forever. */
struct select_task {
    struct rt_async async;
    int *drops_a, *drops_b;
    struct probe a;
    struct probe b;
    struct rt_select2 sel;
    intptr_t value;
};

static enum rt_poll select_task_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct select_task *f = (struct select_task *)self;

    ASYNC_BEGIN(f, cx, out);
    f->a = probe(-1, 1, f->drops_a);
    f->b = probe(-1, 2, f->drops_b);
    f->sel = rt_select2(&f->a.future, &f->b.future, &f->value);
    AWAIT(&f->sel.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable select_task_vtable = {select_task_poll, rt_async_drop};

/* Spawns a select_task, lets it block, cancels it: both children must be dropped once. */
struct cancel_main {
    struct rt_async async;
    int drops_a, drops_b;
    struct rt_join_handle job;
    struct test_yield pause;
};

static enum rt_poll cancel_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct cancel_main *f = (struct cancel_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct select_task t = {.async = RT_ASYNC_INIT(&select_task_vtable),
                                .drops_a = &f->drops_a,
                                .drops_b = &f->drops_b};
        f->job = rt_spawn(&t.async.future, sizeof(t));
    }
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL); /* the task runs, and waits on both probes */
    ck_assert_int_eq(f->drops_a + f->drops_b, 0);
    ck_assert(rt_join_cancel(&f->job));
    ck_assert_int_eq(f->drops_a, 1);
    ck_assert_int_eq(f->drops_b, 1);
    rt_join_detach(&f->job);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable cancel_main_vtable = {cancel_main_poll, rt_async_drop};

START_TEST(dropping_the_select_drops_both_children)
{
    struct cancel_main f = {.async = RT_ASYNC_INIT(&cancel_main_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_ex_1_4(void)
{
    Suite *s = suite_create("ex_1_4");
    TCase *tc = test_case("ex_1_4");

    tcase_add_test(tc, first_ready_wins);
    tcase_add_test(tc, dropping_the_select_drops_both_children);
    suite_add_tcase(s, tc);
    return s;
}
