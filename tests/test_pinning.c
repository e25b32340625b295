/*
 * tests/test_pinning.c - executors on threads of their own: pinned to a CPU
 * (checked with sched_getcpu() inside the thread), unpinned, the error for a
 * CPU that does not exist (and, from phase 2, the ring made before it was
 * refused closed again), and rt_last_error() explaining a failure, even
 * one that happened on the executor's own thread, whose future is dropped,
 * and saying "" again after a call that succeeded; a thread's executor drops
 * the tasks its future left behind; (phase 2) a create that fails leaves the
 * calling thread's CPUs alone.
 */
#define _GNU_SOURCE /* sched_getcpu(), CPU_COUNT() and pthread_getname_np() are GNU extensions */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

TEST_SINCE_PHASE(1);

/* Returns the CPU it runs on; spawns a task first, to show the executor is a full one. */
struct where_am_i {
    struct rt_async async;
    struct rt_join_handle job;
    intptr_t cpu;
};

static enum rt_poll cpu_now_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = sched_getcpu();
    return RT_READY;
}

static const struct rt_future_vtable cpu_now_vtable = {.poll = cpu_now_poll};

static enum rt_poll where_am_i_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct where_am_i *f = (struct where_am_i *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&cpu_now_vtable};
        f->job = rt_spawn(&child, sizeof(child));
    }
    AWAIT(&f->job.future, &f->cpu);
    ck_assert_int_eq(f->cpu, sched_getcpu()); /* the task ran on the executor's thread */
    ASYNC_RETURN(f->cpu);
    ASYNC_END;
}

static const struct rt_future_vtable where_am_i_vtable = {where_am_i_poll, rt_async_drop};

START_TEST(pinned_thread_runs_on_its_cpu)
{
    cpu_set_t allowed;
    int cpu, tried = 0;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        struct rt_builder b = RT_BUILDER_INIT;
        struct where_am_i f = {.async = RT_ASYNC_INIT(&where_am_i_vtable)};
        struct rt_thread *t;
        intptr_t ran_on = -1;

        if (!CPU_ISSET(cpu, &allowed))
            continue;
        b.cpu = cpu;
        ck_assert_int_eq(rt_builder_spawn(&b, &f.async.future, sizeof(f), &t), 0);
        ck_assert_int_eq(rt_thread_join(t, &ran_on), 0);
        ck_assert_int_eq(ran_on, cpu);
        tried++;
    }
    ck_assert_int_eq(tried, CPU_COUNT(&allowed));
}
END_TEST

/* Returns 1 if its thread has the name the builder gave it. */
static enum rt_poll named_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    char name[16];

    (void)self;
    (void)cx;
    pthread_getname_np(pthread_self(), name, sizeof(name));
    *out = strcmp(name, "rt-test-unpinne") == 0;
    return RT_READY;
}

static const struct rt_future_vtable named_vtable = {.poll = named_poll};

START_TEST(unpinned_named_thread)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_future f = {&named_vtable};
    struct rt_thread *t;
    intptr_t out = 0;

    b.name = "rt-test-unpinned"; /* 16 bytes: the kernel keeps the first 15 */
    ck_assert_int_eq(rt_builder_spawn(&b, &f, sizeof(f), &t), 0);
    ck_assert_int_eq(rt_thread_join(t, &out), 0);
    ck_assert_int_eq(out, 1);
}
END_TEST

START_TEST(invalid_cpu_is_an_error)
{
    int bad[] = {-2, CPU_SETSIZE, CPU_SETSIZE - 1, 100000};
    size_t i;

    /* CPU_SETSIZE - 1 (1023) exists on no machine this runs on; the others are out of range. */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rt_builder b = RT_BUILDER_INIT;
        struct test_value f = test_value(1);
        struct rt_thread *t = NULL;
        struct rt_executor *ex = NULL;
        int fds_before;

        b.cpu = bad[i];
        ck_assert_int_eq(rt_builder_spawn(&b, &f.future, sizeof(f), &t), -EINVAL);
        ck_assert_ptr_null(t);
        /*
         * From phase 2 the executor makes its ring before it pins the thread,
         * so a refused CPU finds a ring already open: it must be closed again.
         */
        fds_before = test_fd_count();
        ck_assert_int_eq(rt_executor_create(&b, &ex), -EINVAL);
        ck_assert_ptr_null(ex);
        ck_assert_int_eq(test_fd_count(), fds_before);
        ck_assert_int_eq(rt_pin_current_thread(bad[i]), -EINVAL);
        ck_assert_ptr_nonnull(strstr(rt_last_error(), "does not exist"));
    }
    /* A pin that succeeds after one that failed leaves no stale reason behind (executor.h). */
    {
        cpu_set_t before;
        int cpu = sched_getcpu();

        ck_assert_int_eq(sched_getaffinity(0, sizeof(before), &before), 0);
        ck_assert_int_eq(rt_pin_current_thread(cpu), 0);
        ck_assert_str_eq(rt_last_error(), "");
        ck_assert_int_eq(sched_setaffinity(0, sizeof(before), &before), 0);
    }
}
END_TEST

/*
 * Ready at once with 1; counts its drops. A future given to a thread is the
 * thread's: dropped when it completes, and dropped too when it never runs.
 * The harness's leak check cannot see one that was not: blocks allocated on
 * an executor's own thread are not counted.
 */
static int counted_drops; /* read after rt_thread_join(), which orders it after the thread */

static enum rt_poll counted_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 1;
    return RT_READY;
}

static void counted_drop(struct rt_future *self)
{
    (void)self;
    counted_drops++;
}

static const struct rt_future_vtable counted_vtable = {counted_poll, counted_drop};

START_TEST(a_failure_is_explained_to_the_caller)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_future f = {&counted_vtable};
    struct rt_thread *t;

    /* Refused in the caller: a CPU that exists on no machine this runs on. */
    b.cpu = CPU_SETSIZE - 1;
    ck_assert_int_eq(rt_builder_spawn(&b, &f, sizeof(f), &t), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "CPU 1023 does not exist") != NULL, "\"%s\"",
                  rt_last_error());
    ck_assert_int_eq(counted_drops, 1);

    /* Success says so too. */
    b.cpu = RT_CPU_ANY;
    ck_assert_int_eq(rt_builder_spawn(&b, &f, sizeof(f), &t), 0);
    ck_assert_int_eq(rt_thread_join(t, NULL), 0);
    ck_assert_str_eq(rt_last_error(), "");
    ck_assert_int_eq(counted_drops, 2);

#if PHASE >= 2
    /*
     * Refused on the new thread, where the executor's ring is made: the
     * message, written there, reaches the thread that joins, and the future,
     * which never runs, is dropped there.
     */
    b.ring_entries = 1u << 20;
    ck_assert_int_eq(rt_builder_spawn(&b, &f, sizeof(f), &t), 0);
    ck_assert_int_eq(rt_thread_join(t, NULL), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "1 to 32768") != NULL, "\"%s\"", rt_last_error());
    ck_assert_int_eq(counted_drops, 3);
#endif
}
END_TEST

/*
 * rt_last_error() is "" after any of its calls that succeeded, whatever an
 * earlier failure on this thread said (executor.h): a create that pins
 * nothing, and a join of a thread whose executor was made, must clear it too,
 * or a program that checks it after a success reads the old failure's reason.
 */
START_TEST(a_success_clears_an_earlier_failure)
{
    struct rt_future f = {&counted_vtable};
    struct rt_thread *t;
    intptr_t out = 0;

    ck_assert_int_eq(rt_pin_current_thread(CPU_SETSIZE - 1), -EINVAL);
    ck_assert_str_ne(rt_last_error(), "");
    rt_executor_destroy(test_executor());
    ck_assert_str_eq(rt_last_error(), "");

    ck_assert_int_eq(rt_builder_spawn(NULL, &f, sizeof(f), &t), 0);
    ck_assert_int_eq(rt_pin_current_thread(CPU_SETSIZE - 1), -EINVAL); /* between spawn and join */
    ck_assert_str_ne(rt_last_error(), "");
    ck_assert_int_eq(rt_thread_join(t, &out), 0);
    ck_assert_int_eq(out, 1);
    ck_assert_str_eq(rt_last_error(), "");
}
END_TEST

/* Spawns a child that counts its drops, lets it go, and returns 7 before it ever runs. */
static enum rt_poll leaves_a_task_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_future child = {&counted_vtable};
    struct rt_join_handle h = rt_spawn(&child, sizeof(child));

    (void)self;
    (void)cx;
    rt_join_detach(&h);
    *out = 7;
    return RT_READY;
}

static const struct rt_future_vtable leaves_a_task_vtable = {.poll = leaves_a_task_poll};

/*
 * The thread destroys its executor when the future is done, and with it the
 * tasks the future left behind: their futures are dropped, once. (Blocks
 * allocated on the executor's own thread escape the harness's leak check,
 * so the drop count is what shows it.)
 */
START_TEST(a_thread_drops_the_tasks_its_future_left_behind)
{
    struct rt_future f = {&leaves_a_task_vtable};
    struct rt_thread *t;
    intptr_t out = 0;

    ck_assert_int_eq(rt_builder_spawn(NULL, &f, sizeof(f), &t), 0);
    ck_assert_int_eq(rt_thread_join(t, &out), 0);
    ck_assert_int_eq(out, 7);
    ck_assert_int_eq(counted_drops, 1);
}
END_TEST

START_TEST(executor_pins_the_calling_thread)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    cpu_set_t allowed;
    int cpu;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    for (cpu = CPU_SETSIZE - 1; !CPU_ISSET(cpu, &allowed); cpu--)
        ; /* the highest CPU we may use */
    b.cpu = cpu;
    ck_assert_int_eq(rt_executor_create(&b, &ex), 0);
    ck_assert_int_eq(sched_getcpu(), cpu);
    rt_executor_destroy(ex);
}
END_TEST

#if PHASE >= 2
/*
 * A create that fails after its CPU was accepted, here at the ring, leaves
 * the thread on the CPUs it had. (With a single CPU allowed, pinning could
 * not change the mask, and this cannot tell; on two or more it can.)
 */
START_TEST(a_failed_create_leaves_the_thread_where_it_was)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;
    cpu_set_t before, after;
    int cpu;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(before), &before), 0);
    for (cpu = CPU_SETSIZE - 1; !CPU_ISSET(cpu, &before); cpu--)
        ; /* the highest CPU we may use */
    b.cpu = cpu;
    b.ring_entries = 1u << 20; /* more than the kernel takes */
    ck_assert_int_eq(rt_executor_create(&b, &ex), -EINVAL);
    ck_assert_int_eq(sched_getaffinity(0, sizeof(after), &after), 0);
    ck_assert_int_eq(CPU_COUNT(&after), CPU_COUNT(&before));
    ck_assert(CPU_EQUAL(&after, &before));
}
END_TEST
#endif

Suite *suite_pinning(void)
{
    Suite *s = suite_create("pinning");
    TCase *tc = test_case("pinning");

    tcase_add_test(tc, pinned_thread_runs_on_its_cpu);
    tcase_add_test(tc, unpinned_named_thread);
    tcase_add_test(tc, invalid_cpu_is_an_error);
    tcase_add_test(tc, a_failure_is_explained_to_the_caller);
    tcase_add_test(tc, a_success_clears_an_earlier_failure);
    tcase_add_test(tc, a_thread_drops_the_tasks_its_future_left_behind);
    tcase_add_test(tc, executor_pins_the_calling_thread);
#if PHASE >= 2
    tcase_add_test(tc, a_failed_create_leaves_the_thread_where_it_was);
#endif
    suite_add_tcase(s, tc);
    return s;
}
