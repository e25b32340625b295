/*
 * tests/exercises/ex_3_4.c - exercise 3.4: 100,000 notifies racing the park; weaken, watch it fail.
 *
 * Unlike the other exercise tests, this one passes on the book's code: the
 * exercise is to break what it checks. In a scratch copy, make the two
 * stores and two loads of the doorbell's flags in phase3-scheduling/
 * executor.c (park() and rt_executor_notify()) release and acquire instead
 * of sequentially consistent, and run it again; then repair them with
 * explicit fences instead. BOOK.md, section 3.4, says why the weak version
 * loses wake-ups even on x86, and appendix D what this test saw.
 *
 * The case: an executor on a thread of its own waits, in rt_wait_notify(),
 * for a counter to move past the last value it took. The test's thread
 * raises the counter and notifies as soon as the executor has taken the
 * previous value, so that each notify lands while the executor is on its way
 * from "nothing to do" to "asleep". A lost wake-up leaves the executor
 * parked with work waiting, and the counter stops moving: after a second
 * without progress, the test fails and says at which notification.
 *
 * The executor must outlive every notify sent to it (executor.h), so its
 * task does not finish when it has taken the last value: it waits, with
 * short sleeps, until the test's thread says it has stopped notifying.
 *
 * Run: make exercise E=3.4
 */
#include "harness.h"

#include <stdatomic.h>

#include "common/clock.h"

TEST_SINCE_PHASE(3);

#define NOTIFIES     100000
#define STUCK_NS     NSEC_PER_SEC          /* no progress for this long: a lost wake-up */
#define POLL_DONE_NS (100 * NSEC_PER_USEC) /* how often the task looks whether the test is done */

/* What the test's thread and the executor's task share. */
struct shared {
    _Atomic(struct rt_executor *) ex; /* the executor, once its task runs */
    atomic_long value;                /* raised by the test's thread, then notified */
    atomic_long seen;                 /* the last value the task took */
    atomic_bool done;                 /* the test's thread has sent its last notify */
};

static bool has_news(void *arg)
{
    struct shared *sh = arg;

    return atomic_load(&sh->value) > atomic_load(&sh->seen);
}

/* Take every new value until NOTIFIES; then wait, without notifies, for the test to be done. */
struct taker {
    struct rt_async async;
    struct shared *sh;
    struct rt_wait_notify wait;
    struct rt_sleep nap;
};

static enum rt_poll taker_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct taker *f = (struct taker *)self;

    ASYNC_BEGIN(f, cx, out);
    atomic_store(&f->sh->ex, rt_executor_current());
    while (atomic_load(&f->sh->seen) < NOTIFIES) {
        rt_wait_notify(&f->wait, has_news, f->sh);
        AWAIT(&f->wait.future, NULL);
        atomic_store(&f->sh->seen, atomic_load(&f->sh->value));
    }
    while (!atomic_load(&f->sh->done)) {
        rt_sleep(&f->nap, POLL_DONE_NS);
        AWAIT(&f->nap.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable taker_vtable = {taker_poll, rt_async_drop};

START_TEST(no_notify_racing_the_park_is_lost)
{
    static struct shared sh; /* static: the executor's thread reads it until it is joined */
    struct taker t = {.async = RT_ASYNC_INIT(&taker_vtable), .sh = &sh};
    struct rt_thread *thread;
    intptr_t out = -1;

    ck_assert_int_eq(rt_builder_spawn(NULL, &t.async.future, sizeof(t), &thread), 0);
    while (!atomic_load(&sh.ex))
        continue;
    for (long i = 1; i <= NOTIFIES; i++) {
        uint64_t start = now_ns();

        atomic_store(&sh.value, i); /* the change first, then the notify: executor.h's rule */
        rt_executor_notify(atomic_load(&sh.ex));
        /*
         * Spin on plain code: a ck_assert here would report its position to
         * Check's parent process on every turn (a write to a pipe), and a
         * system call per turn changes the timing this test is about.
         */
        while (atomic_load(&sh.seen) < i) {
            if (now_ns() - start >= STUCK_NS)
                ck_abort_msg("wake-up %ld of %d was lost: the executor sleeps with work waiting", i,
                             NOTIFIES);
        }
    }
    atomic_store(&sh.done, true);
    ck_assert_int_eq(rt_thread_join(thread, &out), 0);
    ck_assert_int_eq(out, 0);
}
END_TEST

Suite *suite_ex_3_4(void)
{
    Suite *s = suite_create("ex_3_4");
    TCase *tc = test_case("ex_3_4");

    tcase_add_test(tc, no_notify_racing_the_park_is_lost);
    suite_add_tcase(s, tc);
    return s;
}
