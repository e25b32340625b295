/*
 * tests/test_waker.c - wakers: a task woken during its own poll is polled
 * again, a waker kept after its task finished, or after its executor was
 * destroyed with the task still pending, is harmless, the reference
 * counts of clone, wake_by_ref, wake and drop, and a pending task whose last
 * waker is dropped without waking is freed.
 */
#include "harness.h"

#include "task.h" /* this file checks reference counts, which are internal */

TEST_SINCE_PHASE(1);

/* ---------------------------------------------- woken while running */

/* Wakes itself twice during its first poll; ready on the second. */
struct wake_twice {
    struct rt_future future;
    int *polls;
};

static enum rt_poll wake_twice_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct wake_twice *f = (struct wake_twice *)self;

    if (++*f->polls == 1) {
        rt_waker_wake_by_ref(cx->waker);
        rt_waker_wake_by_ref(cx->waker); /* already queued: must not queue it twice */
        return RT_PENDING;
    }
    *out = *f->polls;
    return RT_READY;
}

static const struct rt_future_vtable wake_twice_vtable = {.poll = wake_twice_poll};

START_TEST(woken_while_running_is_polled_again)
{
    int polls = 0;
    struct wake_twice f = {.future = {&wake_twice_vtable}, .polls = &polls};

    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 2);
    ck_assert_int_eq(polls, 2);
}
END_TEST

/* ------------------------------------------- a waker kept after the end */

static struct rt_waker kept; /* outside any task, like a careless global */

/* Keeps a clone of its waker in `kept`, then finishes. */
static enum rt_poll keep_waker_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    kept = rt_waker_clone(cx->waker);
    *out = 1;
    return RT_READY;
}

static const struct rt_future_vtable keep_waker_vtable = {.poll = keep_waker_poll};

struct wake_after_end {
    struct rt_async async;
    struct rt_join_handle job;
    struct test_yield pause;
};

static enum rt_poll wake_after_end_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct wake_after_end *f = (struct wake_after_end *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&keep_waker_vtable};
        f->job = rt_spawn(&child, sizeof(child));
    }
    AWAIT(&f->job.future, NULL);
    /* The child finished and its handle is gone, but `kept` still holds it. */
    ck_assert(!rt_waker_is_empty(&kept));
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 2);
    rt_waker_wake(&kept); /* finds it COMPLETED: nothing to run; frees it */
    ck_assert(rt_waker_is_empty(&kept));
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1);
    f->pause = test_yield(1, 0, NULL); /* give the executor a turn: nothing must run */
    AWAIT(&f->pause.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable wake_after_end_vtable = {wake_after_end_poll, rt_async_drop};

START_TEST(waker_woken_after_its_task_finished)
{
    struct wake_after_end f = {.async = RT_ASYNC_INIT(&wake_after_end_vtable)};

    test_run(&f.async.future, sizeof(f));
}
END_TEST

START_TEST(waker_woken_after_its_executor_was_destroyed)
{
    struct rt_executor *ex = test_executor();
    struct rt_future f = {&keep_waker_vtable};

    ck_assert_int_eq(rt_executor_run(ex, &f, sizeof(f)), 1);
    rt_executor_destroy(ex);
    /* The task outlived its executor because `kept` refers to it; waking must not touch either. */
    rt_waker_wake(&kept);
    ck_assert(rt_waker_is_empty(&kept));
}
END_TEST

/* Keeps a clone of its waker in `kept` and stays pending. It has no drop: `kept` outlives it. */
static enum rt_poll keep_waker_pending_poll(struct rt_future *self, struct rt_context *cx,
                                            intptr_t *out)
{
    (void)self;
    (void)out;
    if (rt_waker_is_empty(&kept))
        kept = rt_waker_clone(cx->waker);
    return RT_PENDING;
}

static const struct rt_future_vtable keep_waker_pending_vtable = {.poll = keep_waker_pending_poll};

/* Leaves a detached child pending, with its waker in `kept`, and returns. */
struct leave_pending {
    struct rt_async async;
    struct test_yield pause;
};

static enum rt_poll leave_pending_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct leave_pending *f = (struct leave_pending *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&keep_waker_pending_vtable};
        struct rt_join_handle h = rt_spawn(&child, sizeof(child));
        rt_join_detach(&h);
    }
    f->pause = test_yield(1, 0, NULL); /* one turn: the child is polled and keeps its waker */
    AWAIT(&f->pause.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable leave_pending_vtable = {leave_pending_poll, rt_async_drop};

/*
 * The same with a task that was still pending: destroy closes it (its
 * future is dropped), and only `kept` keeps it alive. A wake must see it is
 * closed and not queue it; queueing it would go through the executor
 * pointer, which destroy set to NULL.
 */
START_TEST(waker_of_a_pending_task_woken_after_its_executor_was_destroyed)
{
    struct rt_executor *ex = test_executor();
    struct leave_pending f = {.async = RT_ASYNC_INIT(&leave_pending_vtable)};

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert(!rt_waker_is_empty(&kept));
    ck_assert_uint_eq(rt_executor_task_count(ex), 1); /* the child, pending */
    rt_executor_destroy(ex);
    rt_waker_wake(&kept); /* finds it closed: nothing to queue; frees it */
    ck_assert(rt_waker_is_empty(&kept));
}
END_TEST

/* --------------------------------------------------- reference counts */

struct count_refs {
    struct rt_future future;
    int polls;
};

static enum rt_poll count_refs_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct count_refs *f = (struct count_refs *)self;
    struct rt_task *t = cx->waker->data; /* the executor's wakers point at their task */
    unsigned base = t->refs;             /* the reference that came with the poll, and run()'s */
    struct rt_waker a, b;

    if (++f->polls > 1) {
        *out = 0;
        return RT_READY;
    }
    ck_assert(t->state & TASK_RUNNING);
    ck_assert(!(t->state & TASK_SCHEDULED));

    a = rt_waker_clone(cx->waker);
    ck_assert_uint_eq(t->refs, base + 1); /* a clone holds a reference */
    b = rt_waker_clone(&a);
    ck_assert_uint_eq(t->refs, base + 2);
    ck_assert(rt_waker_will_wake(&a, &b));

    rt_waker_wake_by_ref(&a); /* queues the task: the queue takes a reference; `a` keeps its own */
    ck_assert(t->state & TASK_SCHEDULED);
    ck_assert_uint_eq(t->refs, base + 3);
    ck_assert(!rt_waker_is_empty(&a));

    rt_waker_wake_by_ref(&a); /* queued already: nothing changes */
    ck_assert_uint_eq(t->refs, base + 3);

    rt_waker_wake(&a); /* consumes `a`: its reference goes, the queue keeps its own */
    ck_assert(rt_waker_is_empty(&a));
    ck_assert_uint_eq(t->refs, base + 2);

    rt_waker_drop(&b); /* releases without waking */
    ck_assert(rt_waker_is_empty(&b));
    ck_assert_uint_eq(t->refs, base + 1);

    rt_waker_drop(&b); /* dropping an empty waker is harmless */
    rt_waker_wake(&b);
    ck_assert_uint_eq(t->refs, base + 1);
    return RT_PENDING; /* and it is polled again, because it was woken */
}

static const struct rt_future_vtable count_refs_vtable = {.poll = count_refs_poll};

START_TEST(wake_by_ref_and_wake_reference_counts)
{
    struct count_refs f = {.future = {&count_refs_vtable}};
    struct rt_executor *ex = test_executor();

    rt_executor_run(ex, &f.future, sizeof(f));
    ck_assert_uint_eq(rt_executor_task_count(ex), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------- rt_waker_register */

/* A waker of something that is not a task: it counts what is done to it. */
static int other_wakes, other_drops;

static struct rt_waker other_clone(void *data);
static void other_wake(void *data)
{
    (void)data;
    other_wakes++;
    other_drops++;
}
static void other_wake_by_ref(void *data)
{
    (void)data;
    other_wakes++;
}
static void other_drop(void *data)
{
    (void)data;
    other_drops++;
}
static const struct rt_waker_vtable other_vtable = {other_clone, other_wake, other_wake_by_ref,
                                                    other_drop};
static struct rt_waker other_clone(void *data)
{
    return (struct rt_waker){data, &other_vtable};
}

struct register_twice {
    struct rt_future future;
    struct rt_waker slot;
    int polls;
};

static enum rt_poll register_twice_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct register_twice *f = (struct register_twice *)self;
    struct rt_task *t = cx->waker->data;
    unsigned base;

    if (++f->polls == 1) {
        /* The slot holds some other waker: registering replaces (drops) it. */
        f->slot = (struct rt_waker){NULL, &other_vtable};
        base = t->refs;
        rt_waker_register(&f->slot, cx);
        ck_assert_int_eq(other_drops, 1);
        ck_assert_int_eq(other_wakes, 0);
        ck_assert_uint_eq(t->refs, base + 1);
        ck_assert(rt_waker_will_wake(&f->slot, cx->waker));
        rt_waker_wake_by_ref(&f->slot);
        return RT_PENDING;
    }
    /* Polled again by the same task: the waker in the slot is kept, not cloned again. */
    base = t->refs;
    rt_waker_register(&f->slot, cx);
    ck_assert_uint_eq(t->refs, base);
    rt_waker_drop(&f->slot);
    ck_assert_uint_eq(t->refs, base - 1);
    *out = f->polls;
    return RT_READY;
}

static const struct rt_future_vtable register_twice_vtable = {.poll = register_twice_poll};

START_TEST(register_keeps_the_same_waker)
{
    struct register_twice f = {.future = {&register_twice_vtable}};

    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 2);
}
END_TEST

/* -------------------------------------- the last waker dropped, not woken */

static int forgotten_drops;            /* how often forgotten_drop() ran */
static struct rt_waker forgotten_slot; /* where the forgotten task keeps its waker */

/* Pending forever: keeps its waker in forgotten_slot. Counts its drops. */
static enum rt_poll forgotten_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)out;
    rt_waker_register(&forgotten_slot, cx);
    return RT_PENDING;
}

static void forgotten_drop(struct rt_future *self)
{
    (void)self;
    forgotten_drops++;
    rt_waker_drop(&forgotten_slot);
}

static const struct rt_future_vtable forgotten_vtable = {forgotten_poll, forgotten_drop};

struct drop_last_waker {
    struct rt_async async;
    struct test_yield pause;
};

static enum rt_poll drop_last_waker_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct drop_last_waker *f = (struct drop_last_waker *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future forgotten = {&forgotten_vtable};
        struct rt_join_handle h = rt_spawn(&forgotten, sizeof(forgotten));

        rt_join_detach(&h); /* from now on only its waker keeps it alive */
    }
    f->pause = test_yield(1, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    ck_assert(!rt_waker_is_empty(&forgotten_slot)); /* it is pending, holding its waker */
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 2);

    /*
     * Whoever held the waker lets go of it without waking it. The task's last
     * reference is gone: nothing can ever poll it again, so rt__task_unref()
     * drops its future and frees it right here.
     */
    rt_waker_drop(&forgotten_slot);
    ck_assert_int_eq(forgotten_drops, 1);
    ck_assert_uint_eq(rt_executor_task_count(rt_executor_current()), 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable drop_last_waker_vtable = {drop_last_waker_poll, rt_async_drop};

START_TEST(pending_task_freed_when_its_last_waker_is_dropped)
{
    struct drop_last_waker f = {.async = RT_ASYNC_INIT(&drop_last_waker_vtable)};

    test_run(&f.async.future, sizeof(f));
    ck_assert_int_eq(forgotten_drops, 1); /* dropped once, not again by the executor's teardown */
}
END_TEST

Suite *suite_waker(void)
{
    Suite *s = suite_create("waker");
    TCase *tc = test_case("waker");

    tcase_add_test(tc, woken_while_running_is_polled_again);
    tcase_add_test(tc, waker_woken_after_its_task_finished);
    tcase_add_test(tc, waker_woken_after_its_executor_was_destroyed);
    tcase_add_test(tc, waker_of_a_pending_task_woken_after_its_executor_was_destroyed);
    tcase_add_test(tc, wake_by_ref_and_wake_reference_counts);
    tcase_add_test(tc, register_keeps_the_same_waker);
    tcase_add_test(tc, pending_task_freed_when_its_last_waker_is_dropped);
    suite_add_tcase(s, tc);
    return s;
}
