/*
 * tests/test_deferred.c - work deferred to the end of an executor's turn
 * (deferred.h), on its own: it runs after the turn's tasks, not during them;
 * queued twice in one turn it runs once; a run that queues itself again runs
 * in the next turn, not in a loop inside this one; and a cancelled one does
 * not run at all. The channel (channel.c) is its only user; these check the
 * promises it relies on, without a channel around them.
 */
#include "harness.h"

#include "deferred.h" /* the list itself: it is internal */

TEST_SINCE_PHASE(4);

/* A deferred item that counts its runs and queues itself again until it has run `again` times. */
struct counted {
    struct deferred d;
    int runs;
    int again;
};

static void count_run(struct deferred *self)
{
    struct counted *c = container_of(self, struct counted, d);

    c->runs++;
    if (c->runs < c->again)
        rt__defer_to_turn_end(&c->d);
}

/* What the main future saw, poll by poll. */
struct seen {
    int polls;
    int runs[4][2]; /* the runs of items 0 and 1 at polls 1 to 4 */
};

/*
 * The main future: at its first poll it queues and cancels items as `script`
 * says, then it wakes itself to be polled in each of the next turns, writing
 * down at each poll how many times each item has run.
 */
struct turns {
    struct rt_future future;
    struct counted *items; /* two of them */
    const char *script;    /* 'a', 'b': queue item 0 or 1; 'A', 'B': cancel it */
    struct seen *seen;     /* out here: the executor runs its own copy of the future */
};

static enum rt_poll turns_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct turns *f = (struct turns *)self;
    int poll = f->seen->polls++;

    for (const char *op = f->script; poll == 0 && *op; op++) {
        if (*op == 'a' || *op == 'b')
            rt__defer_to_turn_end(&f->items[*op - 'a'].d);
        else
            rt__deferred_cancel(&f->items[*op - 'A'].d);
    }
    for (int k = 0; k < 2; k++)
        f->seen->runs[poll][k] = f->items[k].runs; /* in the first poll: after the script */
    if (poll == 3) {
        *out = 0;
        return RT_READY;
    }
    rt_waker_wake_by_ref(cx->waker); /* each poll is one turn: polled again in the next */
    return RT_PENDING;
}

static const struct rt_future_vtable turns_vtable = {.poll = turns_poll};

/* Run four turns, with `script` played in the first; items[k].again says how often k runs. */
static void run_turns(struct counted items[2], const char *script, struct seen *s)
{
    struct turns f = {.future = {&turns_vtable}, items, script, s};

    for (int k = 0; k < 2; k++)
        rt__deferred_init(&items[k].d, count_run);
    ck_assert_int_eq(test_run(&f.future, sizeof(f)), 0);
    ck_assert_int_eq(s->polls, 4);
    for (int k = 0; k < 2; k++)
        ck_assert(list_empty(&items[k].d.link)); /* none is left queued */
}

START_TEST(work_queued_twice_in_a_turn_runs_once_at_its_end)
{
    struct counted items[2] = {{.again = 1}, {.again = 1}};
    struct seen s = {0};

    /* Item 0 queued again behind item 1: a second link would cut item 1 off the list. */
    run_turns(items, "aba", &s);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(s.runs[0][k], 0); /* not while the task that queued it runs */
        ck_assert_int_eq(s.runs[1][k], 1); /* once, at the end of that turn */
        ck_assert_int_eq(s.runs[3][k], 1); /* and never again */
    }
}
END_TEST

START_TEST(work_that_queues_itself_again_runs_once_a_turn)
{
    struct counted items[2] = {{.again = 3}, {.again = 1}};
    struct seen s = {0};

    run_turns(items, "a", &s);
    /* One run at the end of each turn: none during the first, then 1, 2, 3, and no more. */
    for (int poll = 0; poll < 4; poll++)
        ck_assert_int_eq(s.runs[poll][0], poll);
    ck_assert_int_eq(s.runs[3][1], 0);
}
END_TEST

START_TEST(cancelled_work_does_not_run)
{
    struct counted items[2] = {{.again = 1}, {.again = 1}};
    struct seen s = {0};

    run_turns(items, "abA", &s);
    ck_assert_int_eq(s.runs[3][0], 0);
    ck_assert_int_eq(s.runs[3][1], 1); /* the other one still does */
    rt__deferred_cancel(&items[0].d);  /* cancelling what is not queued changes nothing */
    ck_assert(list_empty(&items[0].d.link));
}
END_TEST

Suite *suite_deferred(void)
{
    Suite *s = suite_create("deferred");
    TCase *tc = test_case("deferred");

    tcase_add_test(tc, work_queued_twice_in_a_turn_runs_once_at_its_end);
    tcase_add_test(tc, work_that_queues_itself_again_runs_once_a_turn);
    tcase_add_test(tc, cancelled_work_does_not_run);
    suite_add_tcase(s, tc);
    return s;
}
