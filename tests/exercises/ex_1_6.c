/*
 * tests/exercises/ex_1_6.c - exercise 1.6: a oneshot channel.
 *
 * The exercise adds phase1-executor/oneshot.h (and oneshot.c) with:
 *
 *     struct rt_oneshot;                  // the shared state: yours, allocated with rt__malloc
 *     struct rt_oneshot_sender {
 *         struct rt_oneshot *chan;        // NULL once sent or dropped
 *     };
 *     struct rt_oneshot_recv {
 *         struct rt_future future;        // await this; drop it with rt_future_drop()
 *         struct rt_oneshot *chan;
 *     };
 *     void rt_oneshot(struct rt_oneshot_sender *tx, struct rt_oneshot_recv *rx);
 *     int rt_oneshot_send(struct rt_oneshot_sender *tx, intptr_t value);
 *     void rt_oneshot_sender_drop(struct rt_oneshot_sender *tx);
 *
 * rt_oneshot() makes a channel and its two ends. rt_oneshot_send() stores
 * the value and wakes the receiver; it returns 0, or -EPIPE if the receiver
 * was dropped already; either way the sender is used up. The receiver's
 * output is the value, or -EPIPE if the sender was dropped without sending.
 * The shared state is freed when both ends are gone.
 *
 * Run: make exercise E=1.6   (this test does not build until oneshot.h exists)
 */
#include "harness.h"

#include <errno.h>

#include "oneshot.h"

TEST_SINCE_PHASE(1);

enum plan {
    SEND_FIRST,    /* send before the receiver is first polled */
    SEND_LATER,    /* the receiver waits; a second task sends */
    DROP_SENDER,   /* the receiver waits; the second task drops the sender unsent */
    DROP_RECEIVER, /* the receiver is dropped; then the send fails */
};

/* Sends (or drops) through the sender it was given, after a yield. */
struct sender_task {
    struct rt_async async;
    struct rt_oneshot_sender tx;
    bool drop_it;
    struct test_yield pause;
};

static enum rt_poll sender_task_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sender_task *f = (struct sender_task *)self;

    ASYNC_BEGIN(f, cx, out);
    f->pause = test_yield(2, 0, NULL);
    AWAIT(&f->pause.future, NULL);
    if (f->drop_it) {
        rt_oneshot_sender_drop(&f->tx);
        ASYNC_RETURN(0);
    }
    ASYNC_RETURN(rt_oneshot_send(&f->tx, 77));
    ASYNC_END;
}

static void sender_task_drop(struct rt_future *self)
{
    rt_async_drop(self);
    rt_oneshot_sender_drop(&((struct sender_task *)self)->tx); /* no-op once used up */
}

static const struct rt_future_vtable sender_task_vtable = {sender_task_poll, sender_task_drop};

struct oneshot_main {
    struct rt_async async;
    enum plan plan;
    struct rt_oneshot_sender tx;
    struct rt_oneshot_recv rx;
    struct rt_join_handle sender;
    intptr_t got;
};

static enum rt_poll oneshot_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct oneshot_main *f = (struct oneshot_main *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_oneshot(&f->tx, &f->rx);
    switch (f->plan) {
    case SEND_FIRST:
        ck_assert_int_eq(rt_oneshot_send(&f->tx, 42), 0);
        break;
    case SEND_LATER:
    case DROP_SENDER: {
        struct sender_task t = {.async = RT_ASYNC_INIT(&sender_task_vtable),
                                .tx = f->tx,
                                .drop_it = f->plan == DROP_SENDER};
        f->tx.chan = NULL; /* moved into the task */
        f->sender = rt_spawn(&t.async.future, sizeof(t));
        rt_join_detach(&f->sender);
        break;
    }
    case DROP_RECEIVER:
        rt_future_drop(&f->rx.future);
        ASYNC_RETURN(rt_oneshot_send(&f->tx, 42));
    }
    AWAIT(&f->rx.future, &f->got);
    ASYNC_RETURN(f->got);
    ASYNC_END;
}

static const struct rt_future_vtable oneshot_main_vtable = {oneshot_main_poll, rt_async_drop};

static intptr_t run_plan(enum plan plan)
{
    struct oneshot_main f = {.async = RT_ASYNC_INIT(&oneshot_main_vtable), .plan = plan};

    return test_run(&f.async.future, sizeof(f));
}

START_TEST(value_sent_before_the_first_poll)
{
    ck_assert_int_eq(run_plan(SEND_FIRST), 42);
}
END_TEST

START_TEST(value_sent_while_the_receiver_waits)
{
    ck_assert_int_eq(run_plan(SEND_LATER), 77);
}
END_TEST

START_TEST(sender_dropped_unsent_wakes_the_receiver)
{
    ck_assert_int_eq(run_plan(DROP_SENDER), -EPIPE);
}
END_TEST

START_TEST(send_to_a_dropped_receiver_fails)
{
    ck_assert_int_eq(run_plan(DROP_RECEIVER), -EPIPE);
}
END_TEST

/* Both ends dropped with nothing sent, outside any executor: the leak check proves the free. */
START_TEST(both_ends_dropped)
{
    struct rt_oneshot_sender tx;
    struct rt_oneshot_recv rx;

    rt_oneshot(&tx, &rx);
    ck_assert_int_eq(rt__alloc_live(), 1);
    rt_future_drop(&rx.future);
    rt_oneshot_sender_drop(&tx);
}
END_TEST

Suite *suite_ex_1_6(void)
{
    Suite *s = suite_create("ex_1_6");
    TCase *tc = test_case("ex_1_6");

    tcase_add_test(tc, value_sent_before_the_first_poll);
    tcase_add_test(tc, value_sent_while_the_receiver_waits);
    tcase_add_test(tc, sender_dropped_unsent_wakes_the_receiver);
    tcase_add_test(tc, send_to_a_dropped_receiver_fails);
    tcase_add_test(tc, both_ends_dropped);
    suite_add_tcase(s, tc);
    return s;
}
