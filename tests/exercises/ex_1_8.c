/*
 * tests/exercises/ex_1_8.c - exercise 1.8: rt_yield_now.
 *
 * The exercise adds phase1-executor/yield.h (and yield.c if you need one):
 *
 *     struct rt_yield {
 *         struct rt_future future; // await this; output 0
 *         ...                      // the rest is yours
 *     };
 *     struct rt_yield rt_yield_now(void);
 *
 * Its first poll wakes its own task by reference and returns RT_PENDING; its
 * second poll returns RT_READY. So a task that awaits it goes to the back of
 * the run queue, and every task queued before it runs first.
 *
 * Run: make exercise E=1.8   (this test does not build until yield.h exists)
 */
#include "harness.h"

#include "yield.h"

TEST_SINCE_PHASE(1);

#define ROUNDS 1000

/* Writes its letter into the shared log, then yields; ROUNDS times. */
struct logger {
    struct rt_async async;
    char letter;
    char *log;   /* shared by both loggers */
    size_t *len; /* entries in the log */
    int i;       /* the round */
    struct rt_yield yield;
};

static enum rt_poll logger_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct logger *f = (struct logger *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < ROUNDS; f->i++) {
        f->log[(*f->len)++] = f->letter;
        f->yield = rt_yield_now();
        AWAIT(&f->yield.future, NULL);
    }
    ASYNC_RETURN(f->i);
    ASYNC_END;
}

static const struct rt_future_vtable logger_vtable = {logger_poll, rt_async_drop};

struct two_loggers {
    struct rt_async async;
    char log[2 * ROUNDS];
    size_t len;
    struct rt_join_handle a, b;
    intptr_t rounds_a, rounds_b;
};

static enum rt_poll two_loggers_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct two_loggers *f = (struct two_loggers *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct logger l = {
            .async = RT_ASYNC_INIT(&logger_vtable), .letter = 'a', .log = f->log, .len = &f->len};
        f->a = rt_spawn(&l.async.future, sizeof(l));
        l.letter = 'b';
        f->b = rt_spawn(&l.async.future, sizeof(l));
    }
    AWAIT(&f->a.future, &f->rounds_a);
    AWAIT(&f->b.future, &f->rounds_b);
    ck_assert_int_eq(f->rounds_a, ROUNDS);
    ck_assert_int_eq(f->rounds_b, ROUNDS);
    ck_assert_uint_eq(f->len, 2 * ROUNDS);
    for (size_t i = 0; i < f->len; i++)
        ck_assert_msg(f->log[i] == (i % 2 ? 'b' : 'a'), "entry %zu is '%c': no interleaving", i,
                      f->log[i]);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable two_loggers_vtable = {two_loggers_poll, rt_async_drop};

START_TEST(two_yielding_tasks_interleave)
{
    struct two_loggers f = {.async = RT_ASYNC_INIT(&two_loggers_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

/* Alone on the executor, a yield must still come back: it woke its own task. */
struct lone_yielder {
    struct rt_async async;
    int i;
    struct rt_yield yield;
};

static enum rt_poll lone_yielder_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct lone_yielder *f = (struct lone_yielder *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < 3; f->i++) {
        f->yield = rt_yield_now();
        AWAIT(&f->yield.future, NULL);
    }
    ASYNC_RETURN(f->i);
    ASYNC_END;
}

static const struct rt_future_vtable lone_yielder_vtable = {lone_yielder_poll, rt_async_drop};

START_TEST(a_lone_task_yields_and_comes_back)
{
    struct lone_yielder f = {.async = RT_ASYNC_INIT(&lone_yielder_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 3);
}
END_TEST

Suite *suite_ex_1_8(void)
{
    Suite *s = suite_create("ex_1_8");
    TCase *tc = test_case("ex_1_8");

    tcase_add_test(tc, two_yielding_tasks_interleave);
    tcase_add_test(tc, a_lone_task_yields_and_comes_back);
    suite_add_tcase(s, tc);
    return s;
}
