/*
 * tests/test_yield.c - yielding and the end of a time slice: rt_yield_now(),
 * rt_need_preempt() and rt_yield_if_needed().
 *
 * Cases: rt_yield_now() ends the running queue's slice, so another queue
 * runs before the task that yielded resumes; rt_need_preempt() is false
 * outside an executor, and when a slice has just started, and
 * rt_yield_if_needed() then does not yield at all; once the slice has run
 * its length, rt_need_preempt() turns true (never earlier), and
 * rt_yield_if_needed() then lets another queue run. A yield ends one slice,
 * not the ones after it; a queue made later starts at the scheduler's
 * minimum virtual runtime; and main finishing charges its slice even with a
 * task still ready.
 *
 * The slice lengths are chosen so that no machine is too slow for them:
 * "just started" is checked under a 10-second slice, and "over" by waiting
 * as long as it takes for the flag to turn, with only a lower bound (a
 * timer never fires early) on when it did.
 */
#include "harness.h"

#include "common/clock.h"

TEST_SINCE_PHASE(3);

/* An executor whose slices last `slice_ns`. */
static struct rt_executor *executor_with_slice(uint64_t slice_ns)
{
    struct rt_builder b = RT_BUILDER_INIT;

    b.preempt_slice_ns = slice_ns;
    return test_executor_with(&b);
}

/* Busy until the clock has moved, so that the executor sees this poll take some time. */
static void take_a_moment(void)
{
    uint64_t start = now_ns();

    while (now_ns() == start)
        ;
}

/* -------------------------------------------- rt_yield_now ends the slice */

#define LOG_MAX 8

struct log {
    char entries[LOG_MAX + 1];
    int len;
};

static void log_add(struct log *log, char c)
{
    ck_assert_int_lt(log->len, LOG_MAX);
    log->entries[log->len++] = c;
}

/* Logs `first`, yields once, logs `second`. */
struct yielder {
    struct rt_async async;
    struct log *log;
    char first, second;
    struct rt_yield yield;
};

static enum rt_poll yielder_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct yielder *f = (struct yielder *)self;

    ASYNC_BEGIN(f, cx, out);
    log_add(f->log, f->first);
    take_a_moment();
    rt_yield_now(&f->yield);
    AWAIT(&f->yield.future, NULL);
    log_add(f->log, f->second);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable yielder_vtable = {yielder_poll, rt_async_drop};

/* Logs `first` and is done. */
struct once {
    struct rt_future future;
    struct log *log;
    char first;
};

static enum rt_poll once_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct once *f = (struct once *)self;

    (void)cx;
    log_add(f->log, f->first);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable once_vtable = {.poll = once_poll};

struct yield_ends_slice {
    struct rt_async async;
    struct log *log;
    int a, b;
    struct rt_join_handle ja, jb;
    struct rt_task_queue_stats st;
};

static enum rt_poll yield_ends_slice_poll(struct rt_future *self, struct rt_context *cx,
                                          intptr_t *out)
{
    struct yield_ends_slice *f = (struct yield_ends_slice *)self;
    struct rt_executor *ex = rt_executor_current();

    ASYNC_BEGIN(f, cx, out);
    f->a = rt_task_queue_create(ex, "a", 100, 0);
    f->b = rt_task_queue_create(ex, "b", 100, 0);
    {
        struct yielder y = {
            .async = RT_ASYNC_INIT(&yielder_vtable), .log = f->log, .first = 'a', .second = 'A'};
        struct once o = {{&once_vtable}, f->log, 'b'};

        ck_assert_int_eq(rt_spawn_into(f->a, &y.async.future, sizeof(y), &f->ja), 0);
        ck_assert_int_eq(rt_spawn_into(f->b, &o.future, sizeof(o), &f->jb), 0);
    }
    AWAIT(&f->ja.future, NULL);
    AWAIT(&f->jb.future, NULL);
    /*
     * Both queues were level when they got their tasks. Queue a went first
     * and yielded: with a 10 s slice, only the yield can have ended its slice
     * and let queue b in before a's task resumed.
     */
    ck_assert_str_eq(f->log->entries, "abA");
    ck_assert_int_eq(rt_task_queue_stats(ex, f->a, &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_run, 2);
    ck_assert_int_eq(rt_task_queue_stats(ex, f->b, &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_run, 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable yield_ends_slice_vtable = {yield_ends_slice_poll,
                                                                rt_async_drop};

START_TEST(yield_now_ends_the_slice)
{
    static struct log log;
    struct yield_ends_slice f = {.async = RT_ASYNC_INIT(&yield_ends_slice_vtable), .log = &log};
    struct rt_executor *ex = executor_with_slice(RT_SLICE_MAX_NS);

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* Takes a moment, logs `first` and is done. */
struct moment {
    struct rt_future future;
    struct log *log;
    char first;
};

static enum rt_poll moment_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct moment *f = (struct moment *)self;

    (void)cx;
    take_a_moment();
    log_add(f->log, f->first);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable moment_vtable = {.poll = moment_poll};

/*
 * A yield ends one slice, not the ones after it: main yields once, then
 * gives two new queues three tasks each. With a 10 s slice, the queue that
 * goes first runs all three of its tasks in its slice. (When the yield's
 * request outlived its slice, every later slice ended after one task, and
 * the log read "abbaba".) And a queue made after main has run starts at
 * the scheduler's minimum virtual runtime, the default queue's, not at 0,
 * which would let it run ahead of every queue for as long as they had run.
 */
struct after_a_yield {
    struct rt_async async;
    struct log *log;
    int a, b, i;
    struct rt_join_handle j[6];
    struct rt_yield yield;
    struct rt_task_queue_stats st, def;
};

static enum rt_poll after_a_yield_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct after_a_yield *f = (struct after_a_yield *)self;
    struct rt_executor *ex = rt_executor_current();

    ASYNC_BEGIN(f, cx, out);
    take_a_moment();
    rt_yield_now(&f->yield);
    AWAIT(&f->yield.future, NULL);
    f->a = rt_task_queue_create(ex, "a", 100, 0);
    f->b = rt_task_queue_create(ex, "b", 100, 0);
    ck_assert_int_eq(rt_task_queue_stats(ex, f->a, &f->st), 0);
    ck_assert_int_eq(rt_task_queue_stats(ex, RT_TASK_QUEUE_DEFAULT, &f->def), 0);
    ck_assert_uint_gt(f->def.vruntime, 0);
    ck_assert_uint_eq(f->st.vruntime, f->def.vruntime);
    for (f->i = 0; f->i < 6; f->i++) {
        struct moment m = {{&moment_vtable}, f->log, f->i < 3 ? 'a' : 'b'};

        ck_assert_int_eq(rt_spawn_into(f->i < 3 ? f->a : f->b, &m.future, sizeof(m), &f->j[f->i]),
                         0);
    }
    for (f->i = 0; f->i < 6; f->i++)
        AWAIT(&f->j[f->i].future, NULL);
    ck_assert_str_eq(f->log->entries, "aaabbb");
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable after_a_yield_vtable = {after_a_yield_poll, rt_async_drop};

START_TEST(a_yield_ends_one_slice_not_the_ones_after)
{
    static struct log log;
    struct after_a_yield f = {.async = RT_ASYNC_INIT(&after_a_yield_vtable), .log = &log};
    struct rt_executor *ex = executor_with_slice(10ull * NSEC_PER_SEC);

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/*
 * Main finishing ends its slice, and charges it, even with a task still
 * ready in its queue: the next run() starts from a clean state.
 */
struct leave_one_ready {
    struct rt_future future;
    struct log *log;
    struct rt_join_handle *left; /* the test's */
};

static enum rt_poll leave_one_ready_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct leave_one_ready *f = (struct leave_one_ready *)self;
    struct moment m = {{&moment_vtable}, f->log, 'L'};

    (void)cx;
    *f->left = rt_spawn(&m.future, sizeof(m));
    take_a_moment();
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable leave_one_ready_vtable = {.poll = leave_one_ready_poll};

/* The second run: await the task the first one left. */
struct await_it {
    struct rt_async async;
    struct rt_join_handle *h;
};

static enum rt_poll await_it_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct await_it *f = (struct await_it *)self;

    ASYNC_BEGIN(f, cx, out);
    AWAIT(&f->h->future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable await_it_vtable = {await_it_poll, rt_async_drop};

START_TEST(main_finishing_charges_its_slice_with_a_task_still_ready)
{
    static struct log log;
    struct rt_join_handle left;
    struct leave_one_ready first = {{&leave_one_ready_vtable}, &log, &left};
    struct await_it second = {.async = RT_ASYNC_INIT(&await_it_vtable), .h = &left};
    struct rt_executor *ex = executor_with_slice(10ull * NSEC_PER_SEC);
    struct rt_task_queue_stats st;

    ck_assert_int_eq(rt_executor_run(ex, &first.future, sizeof(first)), 0);
    ck_assert_str_eq(log.entries, ""); /* the task it spawned is still ready, not run */
    ck_assert_int_eq(rt_task_queue_stats(ex, RT_TASK_QUEUE_DEFAULT, &st), 0);
    ck_assert_uint_eq(st.tasks_run, 1);
    ck_assert_uint_gt(st.runtime_ns, 0);
    ck_assert_int_eq(rt_executor_run(ex, &second.async.future, sizeof(second)), 0);
    ck_assert_str_eq(log.entries, "L");
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------- need_preempt at the start of a slice */

/* Counts its polls, yielding after each (so its slice ends at once), until *stop. */
struct counter {
    struct rt_async async;
    int *polls;
    bool *stop;
    struct rt_yield yield;
};

static enum rt_poll counter_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct counter *f = (struct counter *)self;

    ASYNC_BEGIN(f, cx, out);
    while (!*f->stop) {
        (*f->polls)++;
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable counter_vtable = {counter_poll, rt_async_drop};

struct fresh_slice {
    struct rt_async async;
    int other_polls;
    bool stop;
    struct rt_join_handle other;
    struct rt_yield yield;
    int i;
};

static enum rt_poll fresh_slice_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct fresh_slice *f = (struct fresh_slice *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert(!rt_need_preempt()); /* main's slice has just started, and lasts 10 s */
    {
        struct counter c = {
            .async = RT_ASYNC_INIT(&counter_vtable), .polls = &f->other_polls, .stop = &f->stop};
        int q = rt_task_queue_create(rt_executor_current(), "other", 100, 0);

        ck_assert_int_eq(rt_spawn_into(q, &c.async.future, sizeof(c), &f->other), 0);
    }
    /* Not needed, so not done: the other queue never gets a turn in between. */
    for (f->i = 0; f->i < 100; f->i++) {
        rt_yield_if_needed(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ck_assert_int_eq(f->other_polls, 0);
    ck_assert(!rt_need_preempt());

    /* After a real yield, the next slice is fresh too. */
    rt_yield_now(&f->yield);
    AWAIT(&f->yield.future, NULL);
    ck_assert_int_gt(f->other_polls, 0);
    ck_assert(!rt_need_preempt());
    f->stop = true;
    AWAIT(&f->other.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable fresh_slice_vtable = {fresh_slice_poll, rt_async_drop};

START_TEST(need_preempt_is_false_in_a_fresh_slice)
{
    struct fresh_slice f = {.async = RT_ASYNC_INIT(&fresh_slice_vtable)};
    struct rt_executor *ex = executor_with_slice(RT_SLICE_MAX_NS);

    ck_assert(!rt_need_preempt()); /* outside an executor */
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ----------------------------------------------- need_preempt when the slice ends */

#define SHORT_SLICE_NS (2 * NSEC_PER_MSEC)

struct slice_ends {
    struct rt_async async;
    uint64_t before_run; /* taken before rt_executor_run: the slice started later */
    int other_polls;
    bool stop;
    struct rt_join_handle other;
    struct rt_yield yield;
};

static enum rt_poll slice_ends_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct slice_ends *f = (struct slice_ends *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct counter c = {
            .async = RT_ASYNC_INIT(&counter_vtable), .polls = &f->other_polls, .stop = &f->stop};
        int q = rt_task_queue_create(rt_executor_current(), "other", 100, 0);

        ck_assert_int_eq(rt_spawn_into(q, &c.async.future, sizeof(c), &f->other), 0);
    }
    /* Compute without yielding: the flag turns when the slice's timer fires, however long. */
    while (!rt_need_preempt())
        ;
    ck_assert_uint_ge(now_ns() - f->before_run, SHORT_SLICE_NS); /* and never early */
    ck_assert_int_eq(f->other_polls, 0);

    /* Now it is needed, so it yields, and the other queue has its turn first. */
    rt_yield_if_needed(&f->yield);
    AWAIT(&f->yield.future, NULL);
    ck_assert_int_gt(f->other_polls, 0);
    f->stop = true;
    AWAIT(&f->other.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable slice_ends_vtable = {slice_ends_poll, rt_async_drop};

START_TEST(need_preempt_turns_true_when_the_slice_is_over)
{
    struct slice_ends f = {.async = RT_ASYNC_INIT(&slice_ends_vtable)};
    struct rt_executor *ex = executor_with_slice(SHORT_SLICE_NS);

    f.before_run = now_ns();
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

Suite *suite_yield(void)
{
    Suite *s = suite_create("yield");
    TCase *tc = test_case("yield");

    tcase_add_test(tc, yield_now_ends_the_slice);
    tcase_add_test(tc, a_yield_ends_one_slice_not_the_ones_after);
    tcase_add_test(tc, main_finishing_charges_its_slice_with_a_task_still_ready);
    tcase_add_test(tc, need_preempt_is_false_in_a_fresh_slice);
    tcase_add_test(tc, need_preempt_turns_true_when_the_slice_is_over);
    suite_add_tcase(s, tc);
    return s;
}
