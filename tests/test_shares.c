/*
 * tests/test_shares.c - task queues with shares: how the executor divides
 * the thread between busy queues, and the statistics that show it.
 *
 * Cases: two CPU-bound queues with shares 2:1, both yielding with
 * rt_yield_if_needed(), get runtime within 5% of 2:1; a queue that has been
 * idle while another ran for a long time starts at the current minimum
 * virtual runtime when it gets work, so it does not then monopolize the
 * thread; each queue's statistics (tasks run, runtime, time spent
 * waiting and the longest wait) agree with what the test saw happen; and
 * queues that run out of work at the end of every slice (their tasks await
 * a NOP), one or two, with a latency or without, are charged for their
 * slices: they take turns, and a hog's queue beside them gets its share,
 * also when their latency (1 us) is shorter than their work per wake; and
 * a latency queue that ran far beyond its share is let off its debt when
 * it wakes, but not again soon after, when the queue beside it runs whole
 * slices until it has caught up.
 *
 * The fairness test reads the runtime the scheduler charged, which is wall
 * time: if the machine takes the CPU away in the middle of a slice, that
 * slice is charged more, and the scheduler evens it out over the next
 * slices. What remains at any moment is at most one slice's imbalance, so
 * the test uses short slices (1 ms) over half a second, where 5% is about
 * 15 ms of the smaller queue's time.
 */
#include "harness.h"

#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "task.h"       /* a bare task to queue, for the scheduler alone */
#include "task_queue.h" /* the scheduler itself */

TEST_SINCE_PHASE(3);

static struct rt_executor *executor_with_slice(uint64_t slice_ns)
{
    struct rt_builder b = RT_BUILDER_INIT;

    b.preempt_slice_ns = slice_ns;
    return test_executor_with(&b);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static struct rt_task_queue_stats stats_of(int queue)
{
    struct rt_task_queue_stats st;

    ck_assert_int_eq(rt_task_queue_stats(rt_executor_current(), queue, &st), 0);
    return st;
}

/* ---------------------------------------------------------------- the hog */

#define CHUNK_NS (20 * NSEC_PER_USEC)

/*
 * What a hog saw of itself. Its queue holds only it, and each of its
 * slices is one poll (it yields only when its time is up), so the runtime
 * its queue was charged between two of its polls' starts is exactly one
 * slice's charge: the bounds below use what the scheduler charged, not a
 * clock of the test's own, which would miss the time around the poll.
 */
struct hog_record {
    int queue;                 /* the task queue it runs in */
    uint64_t polls;            /* times it was polled */
    uint64_t cpu_ns;           /* CPU time those polls used */
    uint64_t slice_runtime_ns; /* its queue's runtime when its latest slice (poll) began */
    uint64_t slice_vruntime;   /* and its queue's virtual runtime then */
    uint64_t longest_ns;       /* the longest slice charged before that one */
    struct hog_record *watch;  /* set by the test: at the next poll, note watch's runtime */
    uint64_t watched_runtime_ns, watched_longest_ns;
};

/* The longest slice charged to r's queue so far. Not in the middle of one of its slices. */
static uint64_t longest_slice(const struct hog_record *r)
{
    uint64_t last = stats_of(r->queue).runtime_ns - r->slice_runtime_ns;

    return last > r->longest_ns ? last : r->longest_ns;
}

/*
 * Computes in chunks of 20 us until *stop, asking after each chunk whether
 * it should yield. So each of its slices is one poll, from the slice's
 * start to the first chunk that ends after the slice timer fired.
 */
struct hog {
    struct rt_async async;
    bool *stop;
    struct hog_record *rec;
    uint64_t cpu_start, chunk_start;
    struct rt_yield yield;
};

static enum rt_poll hog_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct hog *f = (struct hog *)self;
    struct hog_record *rec = f->rec;
    struct rt_task_queue_stats st;

    rec->polls++;
    rec->longest_ns = longest_slice(rec); /* its last slice was charged when it ended */
    st = stats_of(rec->queue);
    rec->slice_runtime_ns = st.runtime_ns;
    rec->slice_vruntime = st.vruntime;
    if (rec->watch) {
        rec->watched_runtime_ns = stats_of(rec->watch->queue).runtime_ns;
        rec->watched_longest_ns = longest_slice(rec->watch);
        rec->watch = NULL;
    }
    f->cpu_start = thread_cpu_ns();
    ASYNC_BEGIN(f, cx, out);
    while (!*f->stop) {
        f->chunk_start = now_ns();
        while (now_ns() - f->chunk_start < CHUNK_NS)
            ;
        rt_yield_if_needed(&f->yield);
        if (rt_need_preempt()) /* this AWAIT yields: the poll, and the slice, end here */
            f->rec->cpu_ns += thread_cpu_ns() - f->cpu_start;
        AWAIT(&f->yield.future, NULL);
    }
    f->rec->cpu_ns += thread_cpu_ns() - f->cpu_start;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable hog_vtable = {hog_poll, rt_async_drop};

static struct rt_join_handle spawn_hog(int queue, bool *stop, struct hog_record *rec)
{
    struct hog h = {.async = RT_ASYNC_INIT(&hog_vtable), .stop = stop, .rec = rec};
    struct rt_join_handle job;

    rec->queue = queue;
    ck_assert_int_eq(rt_spawn_into(queue, &h.async.future, sizeof(h), &job), 0);
    return job;
}

/* ------------------------------------------------------------ 2:1 shares */

#define CONTENTION_NS (500 * NSEC_PER_MSEC)
#define SLICE_NS      NSEC_PER_MSEC

struct two_to_one {
    struct rt_async async;
    int big, small;
    bool stop;
    struct hog_record rec[2];
    struct rt_join_handle hogs[2];
    struct rt_sleep sleep;
    struct rt_task_queue_stats b, s;
    uint64_t longest_big, longest_small; /* the longest slice each queue was charged */
};

/*
 * What the scheduler promises: it always runs the queue with the smaller
 * virtual runtime, and both started level, so after any slice the two
 * differ by at most the longest slice's charge. In the small queue's
 * nanoseconds (virtual runtime / 10), where a slice of the big queue
 * counts half: |big/2 - small| is at most the longest small slice or half
 * the longest big one. Slices are 1 ms, so over 500 ms that is within 1%
 * of 2:1; but the runtime charged is wall time, and a slice during which
 * the machine gave our CPU to another program is charged whole, so on a
 * loaded machine the longest slice is what it is (tens of ms have been
 * seen), and the bound follows it. Then, whenever no slice was stretched
 * past 3 ms, the ratio must also be within the 5% the issue asks for (the
 * bound already implies it; the check states it).
 */
static void check_two_to_one(const struct two_to_one *f)
{
    double big = (double)f->b.runtime_ns, small = (double)f->s.runtime_ns;
    double gap = big / 2 - small, bound = (double)f->longest_small;

    if ((double)f->longest_big / 2 > bound)
        bound = (double)f->longest_big / 2;

    ck_assert_msg(gap <= bound && -gap <= bound,
                  "shares 200:100 got runtime %.1f ms : %.1f ms (ratio %.3f): %.3f ms from fair, "
                  "more than the longest slice allows (%.3f ms)",
                  big / 1e6, small / 1e6, big / small, (gap < 0 ? -gap : gap) / 1e6, bound / 1e6);
    if (f->longest_big <= 3 * SLICE_NS && f->longest_small <= 3 * SLICE_NS)
        ck_assert_msg(big / small > 1.9 && big / small < 2.1,
                      "shares 200:100 got runtime %.1f ms : %.1f ms, a ratio of %.3f", big / 1e6,
                      small / 1e6, big / small);
}

static enum rt_poll two_to_one_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct two_to_one *f = (struct two_to_one *)self;

    ASYNC_BEGIN(f, cx, out);
    f->big = rt_task_queue_create(rt_executor_current(), "two", 200, 0);
    f->small = rt_task_queue_create(rt_executor_current(), "one", 100, 0);
    f->hogs[0] = spawn_hog(f->big, &f->stop, &f->rec[0]);
    f->hogs[1] = spawn_hog(f->small, &f->stop, &f->rec[1]);
    /* Main sleeps in the default queue meanwhile; its deadline ends whichever slice runs. */
    rt_sleep(&f->sleep, CONTENTION_NS);
    AWAIT(&f->sleep.future, NULL);
    f->b = stats_of(f->big);
    f->s = stats_of(f->small);
    f->longest_big = longest_slice(&f->rec[0]);
    f->longest_small = longest_slice(&f->rec[1]);
    f->stop = true;
    AWAIT(&f->hogs[0].future, NULL);
    AWAIT(&f->hogs[1].future, NULL);
    ck_assert_uint_gt(f->s.runtime_ns, CONTENTION_NS / 10); /* both really ran */
    check_two_to_one(f);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable two_to_one_vtable = {two_to_one_poll, rt_async_drop};

START_TEST(shares_two_to_one_get_runtime_two_to_one)
{
    struct two_to_one f = {.async = RT_ASYNC_INIT(&two_to_one_vtable)};
    struct rt_executor *ex = executor_with_slice(SLICE_NS);

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------------- no banked credit */

#define ALONE_NS (100 * NSEC_PER_MSEC)

struct no_credit {
    struct rt_async async;
    int busy, idle;
    bool stop;
    struct hog_record rec[2]; /* the busy queue's hog, the idle queue's */
    struct rt_join_handle hogs[2];
    struct rt_sleep sleep;
    struct rt_task_queue_stats b, i;
    uint64_t last_slice_ns, bound;
};

/*
 * Two queues with the same shares, made together; one runs alone for
 * 100 ms, then the other gets work. With credit banked for those 100 ms it
 * would have the thread to itself for 100 ms. Without (the rule), it starts
 * at the virtual runtime the busy queue had when its last slice began, so
 * it is behind by that one slice, and the busy queue is back after the
 * idle one has made that up: the busy queue's last slice, and at most one
 * more of the idle queue's own. Slices are 2 ms, but a slice is charged in
 * wall time, so on a loaded machine one can be much longer; the bounds use
 * the slices as the scheduler charged them (shares 100: virtual runtime is
 * runtime x 10).
 */
static enum rt_poll no_credit_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct no_credit *f = (struct no_credit *)self;

    ASYNC_BEGIN(f, cx, out);
    f->busy = rt_task_queue_create(rt_executor_current(), "busy", 100, 0);
    f->idle = rt_task_queue_create(rt_executor_current(), "idle", 100, 0);
    f->hogs[0] = spawn_hog(f->busy, &f->stop, &f->rec[0]);
    rt_sleep(&f->sleep, ALONE_NS);
    AWAIT(&f->sleep.future, NULL);

    f->hogs[1] = spawn_hog(f->idle, &f->stop, &f->rec[1]);
    f->b = stats_of(f->busy);
    f->i = stats_of(f->idle);
    ck_assert_uint_eq(f->i.runtime_ns, 0);
    /* Where it starts: where the busy queue's last slice began, or later, but not past it. */
    ck_assert_msg(f->i.vruntime >= f->rec[0].slice_vruntime && f->i.vruntime <= f->b.vruntime,
                  "the idle queue woke at vruntime %llu, the busy one's last slice began at %llu "
                  "and it is now at %llu",
                  (unsigned long long)f->i.vruntime, (unsigned long long)f->rec[0].slice_vruntime,
                  (unsigned long long)f->b.vruntime);

    /* What it runs before the busy queue has the thread again: until it is level, no further. */
    f->last_slice_ns = f->b.runtime_ns - f->rec[0].slice_runtime_ns;
    f->rec[0].watch = &f->rec[1];
    while (f->rec[0].watch) {
        rt_sleep(&f->sleep, NSEC_PER_MSEC);
        AWAIT(&f->sleep.future, NULL);
    }
    ck_assert_msg(f->rec[0].watched_runtime_ns * 10 >= f->b.vruntime - f->i.vruntime,
                  "the busy queue ran again after the idle one ran %.3f ms, %.3f ms short of level",
                  f->rec[0].watched_runtime_ns / 1e6,
                  (f->b.vruntime - f->i.vruntime) / 1e7 - f->rec[0].watched_runtime_ns / 1e6);
    f->bound = f->last_slice_ns + f->rec[0].watched_longest_ns;
    ck_assert_msg(
        f->rec[0].watched_runtime_ns <= f->bound,
        "the idle queue ran %.3f ms before the busy one ran again (bound %.3f ms: the busy "
        "queue's last slice and the idle one's longest)",
        f->rec[0].watched_runtime_ns / 1e6, f->bound / 1e6);
    f->stop = true;
    AWAIT(&f->hogs[0].future, NULL);
    AWAIT(&f->hogs[1].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable no_credit_vtable = {no_credit_poll, rt_async_drop};

START_TEST(a_queue_that_wakes_gets_no_banked_credit)
{
    struct no_credit f = {.async = RT_ASYNC_INIT(&no_credit_vtable)};
    struct rt_executor *ex = executor_with_slice(2 * NSEC_PER_MSEC);

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------------------------------- statistics */

#define WAITERS 3

struct stats_seen {
    struct rt_async async;
    int hog_queue, quick_queue;
    bool stop;
    struct hog_record hog_rec;
    int quick_polls;
    uint64_t main_polls;
    struct rt_join_handle hog;
    struct rt_join_handle quick[WAITERS];
    struct rt_join_handle never; /* cancelled before it ever runs */
    struct rt_sleep sleep;
    struct rt_task_queue_stats h, q, d;
    uint64_t started; /* set before rt_executor_run */
    int i;
};

static enum rt_poll stats_seen_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct stats_seen *f = (struct stats_seen *)self;

    f->main_polls++;
    ASYNC_BEGIN(f, cx, out);
    f->hog_queue = rt_task_queue_create(rt_executor_current(), "hog", 100, 0);
    f->quick_queue = rt_task_queue_create(rt_executor_current(), "quick", 100, 0);
    f->hog = spawn_hog(f->hog_queue, &f->stop, &f->hog_rec);
    rt_sleep(&f->sleep, 10 * NSEC_PER_MSEC); /* the hog has the thread for a while */
    AWAIT(&f->sleep.future, NULL);

    /* Tasks that poll 1, 2 and 3 times, in a queue that must wait for the hog's slices. */
    for (f->i = 0; f->i < WAITERS; f->i++) {
        struct test_yield y = test_yield(f->i, 0, &f->quick_polls);
        ck_assert_int_eq(rt_spawn_into(f->quick_queue, &y.future, sizeof(y), &f->quick[f->i]), 0);
    }
    {
        /* Queued, then cancelled: it is let go without a poll, which is not a task run. */
        struct test_yield y = test_yield(0, 0, &f->quick_polls);
        ck_assert_int_eq(rt_spawn_into(f->quick_queue, &y.future, sizeof(y), &f->never), 0);
        ck_assert(rt_join_cancel(&f->never));
    }
    for (f->i = 0; f->i < WAITERS; f->i++)
        AWAIT(&f->quick[f->i].future, NULL);
    AWAIT(&f->never.future, NULL);
    ck_assert(f->never.cancelled);
    f->stop = true;
    AWAIT(&f->hog.future, NULL);

    f->h = stats_of(f->hog_queue);
    f->q = stats_of(f->quick_queue);
    f->d = stats_of(RT_TASK_QUEUE_DEFAULT);
    /* Tasks run: exactly the polls each queue's tasks counted. */
    ck_assert_int_eq(f->quick_polls, 1 + 2 + 3);
    ck_assert_uint_eq(f->q.tasks_run, 6);
    ck_assert_uint_eq(f->h.tasks_run, f->hog_rec.polls);
    ck_assert_uint_eq(f->d.tasks_run, f->main_polls); /* this poll included */
    /* Runtime: the hog's is at least the CPU time its polls used; nobody's exceeds the run. */
    ck_assert_uint_ge(f->h.runtime_ns, f->hog_rec.cpu_ns);
    ck_assert_uint_gt(f->q.runtime_ns, 0);
    ck_assert_uint_le(f->h.runtime_ns + f->q.runtime_ns + f->d.runtime_ns, now_ns() - f->started);
    /* Waiting: each had work while another queue ran, and the worst wait is part of the whole. */
    ck_assert_uint_gt(f->q.max_wait_ns, 0);
    ck_assert_uint_le(f->q.max_wait_ns, f->q.waiting_ns);
    ck_assert_uint_gt(f->h.max_wait_ns, 0);
    ck_assert_uint_le(f->h.max_wait_ns, f->h.waiting_ns);
    ck_assert_uint_le(f->h.waiting_ns, now_ns() - f->started);
    /* As made. */
    ck_assert_uint_eq(f->q.shares, 100);
    ck_assert_uint_eq(f->q.latency_ns, 0);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable stats_seen_vtable = {stats_seen_poll, rt_async_drop};

START_TEST(stats_agree_with_what_happened)
{
    struct stats_seen f = {.async = RT_ASYNC_INIT(&stats_seen_vtable)};
    struct rt_executor *ex = executor_with_slice(2 * NSEC_PER_MSEC);

    f.started = now_ns();
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}
END_TEST

/* ------------------------------------ queues that run out of work every slice */

#define IDLER_ROUNDS 2000

/*
 * A task that computes for a chunk (20 us, or chunk_ns) and then waits for
 * the kernel, again and again: its queue runs out of work at the end of
 * every slice and has work again (the NOP's completion) before the next
 * pick. Until all of them have done IDLER_ROUNDS rounds (or goal) together,
 * or *stop is set.
 */
struct idler {
    struct rt_async async;
    int *rounds;     /* this task's rounds */
    int *all_rounds; /* every idler's rounds together */
    bool *stop;
    uint64_t chunk_ns;
    int goal;
    struct rt_io io;
    uint64_t chunk_start;
};

static enum rt_poll idler_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct idler *f = (struct idler *)self;

    ASYNC_BEGIN(f, cx, out);
    while (*f->all_rounds < f->goal && !*f->stop) {
        (*f->rounds)++;
        (*f->all_rounds)++;
        f->chunk_start = now_ns();
        while (now_ns() - f->chunk_start < f->chunk_ns)
            ;
        rt_io_nop(&f->io);
        AWAIT(&f->io.future, NULL);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable idler_vtable = {idler_poll, rt_async_drop};

static struct rt_join_handle spawn_idler(int queue, int *rounds, int *all_rounds, bool *stop,
                                         uint64_t chunk_ns, int goal)
{
    struct idler i = {.async = RT_ASYNC_INIT(&idler_vtable),
                      .rounds = rounds,
                      .all_rounds = all_rounds,
                      .stop = stop,
                      .chunk_ns = chunk_ns,
                      .goal = goal};
    struct rt_join_handle job;

    ck_assert_int_eq(rt_spawn_into(queue, &i.async.future, sizeof(i), &job), 0);
    return job;
}

/*
 * Such queues beside a hog's, all with equal shares, the idlers' made first
 * (so they would win the ties). An idler's slices are short (20 us), but
 * they add up, 40 ms in all, and once they pass the hog's the hog must run:
 * while the idlers did their rounds, the hog's queue was charged about as
 * much as each of them (one slice of 1 ms apart). Had each slice of an
 * idler been forgotten as it woke, the hog would have run one slice at
 * most until the idlers were done; and with two of them, one idler might
 * have done every round.
 */
struct idlers_and_hog {
    struct rt_async async;
    int nidlers;         /* 1 or 2 */
    unsigned shares;     /* the idlers' queues' shares (the hog's: 1000) */
    uint64_t latency_ns; /* the idlers' queues' latency */
    uint64_t chunk_ns;   /* the idlers' work per wake */
    int goal;            /* their rounds together */
    int q[2], rounds[2], all_rounds;
    bool stop;
    struct hog_record rec;
    struct rt_join_handle idler[2], hog;
    uint64_t idler_ns[2], hog_ns; /* the queues' runtimes when the idlers finished */
    int i;
};

static enum rt_poll idlers_and_hog_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct idlers_and_hog *f = (struct idlers_and_hog *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < f->nidlers; f->i++) {
        f->q[f->i] = rt_task_queue_create(rt_executor_current(), "idler", f->shares, f->latency_ns);
        ck_assert_int_gt(f->q[f->i], 0);
        f->idler[f->i] = spawn_idler(f->q[f->i], &f->rounds[f->i], &f->all_rounds, &f->stop,
                                     f->chunk_ns, f->goal);
    }
    f->hog =
        spawn_hog(rt_task_queue_create(rt_executor_current(), "hog", 1000, 0), &f->stop, &f->rec);
    for (f->i = 0; f->i < f->nidlers; f->i++)
        AWAIT(&f->idler[f->i].future, NULL);
    for (f->i = 0; f->i < f->nidlers; f->i++)
        f->idler_ns[f->i] = stats_of(f->q[f->i]).runtime_ns;
    f->hog_ns = stats_of(f->rec.queue).runtime_ns;
    f->stop = true;
    AWAIT(&f->hog.future, NULL);
    ck_assert_int_eq(f->rounds[0] + f->rounds[1], f->goal);
    for (f->i = 0; f->i < f->nidlers; f->i++) {
        ck_assert_msg(f->rounds[f->i] >= f->goal / 4 / f->nidlers,
                      "idler %d did %d of the %d rounds", f->i, f->rounds[f->i], f->goal);
        ck_assert_msg(f->hog_ns >= f->idler_ns[f->i] / f->shares * 1000 / 4,
                      "the hog's queue ran %llu ns while idler %d's ran %llu ns",
                      (unsigned long long)f->hog_ns, f->i, (unsigned long long)f->idler_ns[f->i]);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable idlers_and_hog_vtable = {idlers_and_hog_poll, rt_async_drop};

static void run_idlers_and_hog_with(int nidlers, unsigned shares, uint64_t latency_ns,
                                    uint64_t chunk_ns, int goal)
{
    struct idlers_and_hog f = {.async = RT_ASYNC_INIT(&idlers_and_hog_vtable),
                               .nidlers = nidlers,
                               .shares = shares,
                               .latency_ns = latency_ns,
                               .chunk_ns = chunk_ns,
                               .goal = goal};
    struct rt_executor *ex = executor_with_slice(NSEC_PER_MSEC);

    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
}

static void run_idlers_and_hog(int nidlers, uint64_t latency_ns)
{
    run_idlers_and_hog_with(nidlers, 1000, latency_ns, CHUNK_NS, IDLER_ROUNDS);
}

START_TEST(a_queue_that_idles_every_slice_is_charged_for_its_slices)
{
    run_idlers_and_hog(1, 0);
}
END_TEST

START_TEST(queues_that_idle_every_slice_take_turns_beside_a_hog)
{
    run_idlers_and_hog(2, 0);
}
END_TEST

/* A latency queue is let off some debt now and then: that must not undo the rest. */
START_TEST(latency_queues_that_idle_every_slice_take_turns_beside_a_hog)
{
    run_idlers_and_hog(2, NSEC_PER_MSEC);
}
END_TEST

/* A latency shorter than the idlers' work per wake (20 us): its debt is not let off each time. */
START_TEST(a_latency_shorter_than_the_work_per_wake_takes_no_more_than_its_share)
{
    run_idlers_and_hog(1, NSEC_PER_USEC);
}
END_TEST

START_TEST(latency_queues_shorter_than_their_work_per_wake_take_turns_beside_a_hog)
{
    run_idlers_and_hog(2, NSEC_PER_USEC);
}
END_TEST

/*
 * No work at all per wake, only NOPs, and a latency of 1 ns: each wake's debt
 * is a few nanoseconds of virtual runtime, and most of the thread's time goes
 * between the slices, charged to no queue. Were the debt let off at every
 * wake (the running time let off rounded down to 0, or ten times it shorter
 * than a round), the minimum would creep up by a nanosecond a round and the
 * hog would wait for it, nearly for ever.
 */
START_TEST(a_latency_queue_of_nops_leaves_a_hog_its_share)
{
    run_idlers_and_hog_with(1, 1000, 1, 0, 100000);
}
END_TEST

/* The same with 100 shares: the hog, with 1000, must get several times the idler's runtime. */
START_TEST(a_latency_queue_of_nops_with_fewer_shares_leaves_a_hog_its_share)
{
    run_idlers_and_hog_with(1, 100, 1, 0, 100000);
}
END_TEST

/* ------------------------------------------------ a latency queue's debt, let off */

#define DEBT_NS    (10 * NSEC_PER_MSEC)  /* what the urgent task computes in one poll */
#define FORGIVE_NS (100 * NSEC_PER_MSEC) /* ten times that: the debt is let off no sooner again */

/*
 * A task in a latency queue computes DEBT_NS in one poll, far beyond its
 * share beside the hog's queue (equal shares), then waits for a NOP; three
 * times. What the hog did while it waited tells how it was placed:
 *
 *   - round 0: let off its debt beyond its latency, so it runs again
 *     within a slice or two of the hog's;
 *   - round 1, right after: let off no more (it was let off DEBT_NS of
 *     running, so not for ten times that), so the hog must catch up first,
 *     about DEBT_NS of its running; and it does so in whole slices, not in
 *     slices cut short at the urgent queue's deadline, which would not let
 *     the urgent queue run;
 *   - round 2, after a sleep longer than that: let off again.
 *
 * Round 1 holds only if round 0 let off most of the debt. Slices are
 * charged by the clock, so time the machine takes from this thread in the
 * hog's slices is charged to the hog: charged half the debt or more before
 * round 0's let-off, the hog was that far ahead, little was let off, and the
 * next let-off may come within round 1. Such a run is inconclusive, and the
 * test runs the rounds again.
 */
struct debt_rounds {
    struct rt_async async;
    bool *stop;
    bool *inconclusive; /* the test's: round 0 let off too little to go on */
    struct hog_record *hog;
    struct rt_io io;
    struct rt_sleep sleep;
    uint64_t start, hog_ns;
    uint64_t hog_polls;
    int round;
};

static enum rt_poll debt_rounds_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct debt_rounds *f = (struct debt_rounds *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->round = 0; f->round < 3; f->round++) {
        if (f->round == 2) {
            rt_sleep(&f->sleep, 2 * FORGIVE_NS);
            AWAIT(&f->sleep.future, NULL);
        }
        f->start = now_ns();
        while (now_ns() - f->start < DEBT_NS)
            ;
        f->hog_ns = stats_of(f->hog->queue).runtime_ns;
        f->hog_polls = f->hog->polls;
        rt_io_nop(&f->io);
        AWAIT(&f->io.future, NULL);
        f->hog_ns = stats_of(f->hog->queue).runtime_ns - f->hog_ns;
        f->hog_polls = f->hog->polls - f->hog_polls;
        if (f->round == 1) {
            ck_assert_msg(f->hog_ns >= DEBT_NS / 2,
                          "round 1: let off its debt again; the hog ran %llu ns meanwhile",
                          (unsigned long long)f->hog_ns);
            ck_assert_msg(f->hog_polls <= f->hog_ns / (NSEC_PER_MSEC / 2) + 2,
                          "round 1: the hog ran %llu ns in %llu slices: cut short for nothing",
                          (unsigned long long)f->hog_ns, (unsigned long long)f->hog_polls);
        } else {
            ck_assert_msg(f->hog_polls <= 3, "round %d: not let off; it waited %llu hog slices",
                          f->round, (unsigned long long)f->hog_polls);
        }
        if (f->round == 0 && stats_of(f->hog->queue).runtime_ns >= DEBT_NS / 2) {
            *f->inconclusive = true;
            break;
        }
    }
    *f->stop = true;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable debt_rounds_vtable = {debt_rounds_poll, rt_async_drop};

struct debt_main {
    struct rt_async async;
    bool *inconclusive; /* the test's */
    bool stop;
    struct hog_record rec;
    struct rt_join_handle urgent, hog;
};

static enum rt_poll debt_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct debt_main *f = (struct debt_main *)self;
    struct rt_executor *ex = rt_executor_current();

    ASYNC_BEGIN(f, cx, out);
    {
        struct debt_rounds d = {.async = RT_ASYNC_INIT(&debt_rounds_vtable),
                                .stop = &f->stop,
                                .inconclusive = f->inconclusive,
                                .hog = &f->rec};
        int uq = rt_task_queue_create(ex, "urgent", 100, NSEC_PER_MSEC);

        ck_assert_int_gt(uq, 0);
        ck_assert_int_eq(rt_spawn_into(uq, &d.async.future, sizeof(d), &f->urgent), 0);
        f->hog = spawn_hog(rt_task_queue_create(ex, "hog", 100, 0), &f->stop, &f->rec);
    }
    AWAIT(&f->urgent.future, NULL);
    AWAIT(&f->hog.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable debt_main_vtable = {debt_main_poll, rt_async_drop};

START_TEST(a_latency_queue_is_let_off_its_debt_now_and_then)
{
    bool inconclusive = true;

    /* Up to five runs, for one in which round 0 let off most of the debt (see debt_rounds). */
    for (int run = 0; run < 5 && inconclusive; run++) {
        struct debt_main f = {.async = RT_ASYNC_INIT(&debt_main_vtable),
                              .inconclusive = &inconclusive};
        struct rt_executor *ex = executor_with_slice(NSEC_PER_MSEC);

        inconclusive = false;
        ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
        rt_executor_destroy(ex);
    }
    ck_assert_msg(!inconclusive, "in five runs, the hog was charged half the debt or more before "
                                 "round 0 let it off");
}
END_TEST

/*
 * However little running a latency queue was let off, it is let off no
 * sooner than a millisecond later (task_queue.h): ten times a debt of a few
 * microseconds would let it off again and again. This drives the scheduler
 * alone, with a bare task: the default queue, given a latency, wakes 1 us
 * of virtual runtime past it; forgive_debt() counts that as 2 us of running
 * (rounded up), so without the floor it would let the queue off again after
 * 10 x 2 = 20 us. It is let off, and wakes again 200 us later with the same
 * debt, which it must keep. Only the time between the two wakes decides, so an
 * attempt in which the machine took this thread away for a millisecond says
 * nothing, and the test tries again.
 */
START_TEST(a_latency_queue_is_let_off_at_most_once_a_millisecond)
{
    struct rt_task *t = calloc(1, sizeof(*t));
    uint64_t debt = NSEC_PER_USEC, let_off_at = 0, again_at = 0;
    struct scheduler s;
    struct task_queue *q = &s.default_queue;
    int attempt;

    ck_assert_ptr_nonnull(t);
    rt__scheduler_init(&s);
    q->latency_ns = NSEC_PER_USEC;
    for (attempt = 0; attempt < 100; attempt++) {
        s.min_vruntime += NSEC_PER_SEC;
        q->vruntime = s.min_vruntime + q->latency_ns + debt;
        q->forgive_after = 0;
        let_off_at = now_ns();
        rt__scheduler_push(&s, q, t);
        ck_assert_uint_eq(q->vruntime, s.min_vruntime + q->latency_ns); /* let off */
        ck_assert_ptr_eq(rt__scheduler_pop(&s, q), t);
        q->vruntime += debt; /* it ran again, as long */
        while (now_ns() - let_off_at < 200 * NSEC_PER_USEC)
            continue;
        rt__scheduler_push(&s, q, t);
        again_at = now_ns();
        ck_assert_ptr_eq(rt__scheduler_pop(&s, q), t);
        if (again_at - let_off_at < NSEC_PER_MSEC)
            break;
    }
    if (attempt == 100)
        test_skip("no two wakes within a millisecond in 100 attempts: the machine is too busy");
    ck_assert_msg(q->vruntime == s.min_vruntime + q->latency_ns + debt,
                  "let off again %llu ns later", (unsigned long long)(again_at - let_off_at));
    rt__scheduler_destroy(&s);
    free(t);
}
END_TEST

Suite *suite_shares(void)
{
    Suite *s = suite_create("shares");
    TCase *tc = test_case("shares");

    tcase_add_test(tc, shares_two_to_one_get_runtime_two_to_one);
    tcase_add_test(tc, a_queue_that_wakes_gets_no_banked_credit);
    tcase_add_test(tc, stats_agree_with_what_happened);
    tcase_add_test(tc, a_queue_that_idles_every_slice_is_charged_for_its_slices);
    tcase_add_test(tc, queues_that_idle_every_slice_take_turns_beside_a_hog);
    tcase_add_test(tc, latency_queues_that_idle_every_slice_take_turns_beside_a_hog);
    tcase_add_test(tc, a_latency_shorter_than_the_work_per_wake_takes_no_more_than_its_share);
    tcase_add_test(tc, latency_queues_shorter_than_their_work_per_wake_take_turns_beside_a_hog);
    tcase_add_test(tc, a_latency_queue_of_nops_leaves_a_hog_its_share);
    tcase_add_test(tc, a_latency_queue_of_nops_with_fewer_shares_leaves_a_hog_its_share);
    tcase_add_test(tc, a_latency_queue_is_let_off_its_debt_now_and_then);
    tcase_add_test(tc, a_latency_queue_is_let_off_at_most_once_a_millisecond);
    suite_add_tcase(s, tc);
    return s;
}
