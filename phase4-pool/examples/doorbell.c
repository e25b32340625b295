/*
 * doorbell.c - waking an executor from another thread: rt_executor_notify().
 *
 * An executor runs on a thread of its own (rt_builder_spawn). Its one task
 * waits, with rt_wait_notify(), for a counter that the main thread raises,
 * and each time it sees a new value it computes for WORK_MS, as if the
 * value were a request to serve. The main thread raises the counter three
 * times, and each rt_executor_notify() meets the executor in another state:
 *
 *   1. after a pause: the executor has nothing to do and is parked in the
 *      kernel, on its futex (nothing of its own is in the ring), so the
 *      notify rings the doorbell (one futex wake), which wakes it;
 *   2. while it computes: it is awake, so the notify only sets a flag, with
 *      no system call; the executor finds the flag when its task returns;
 *   3. at once after that: the flag is still set, so this notify is merged
 *      with the one before, and costs nothing at all.
 *
 * Which of these each notify was, the program cannot see; RT_TRACE=1 shows
 * it ("notify ... the doorbell is rung", "it is awake", "merged"), beside
 * the executor's park and unpark. On a busy machine the timing can differ.
 *
 * Run: make phase3 && RT_TRACE=1 build/phase3/examples/doorbell
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "common/args.h"
#include "rt.h"

#define PAUSE_MS 20 /* how long the main thread waits before the first notify */
#define WORK_MS  10 /* how long the task computes for each value it sees */

#define NS_PER_MS 1000000L

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * NS_PER_MS};

    nanosleep(&ts, NULL);
}

static long now_ms_since(const struct timespec *start)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec - start->tv_sec) * 1000 + (ts.tv_nsec - start->tv_nsec) / NS_PER_MS;
}

/* Keep the CPU busy for `ms`, without returning to the loop: the executor stays awake. */
static void compute_ms(long ms)
{
    struct timespec begin;

    clock_gettime(CLOCK_MONOTONIC, &begin);
    while (now_ms_since(&begin) < ms)
        continue;
}

/* What the two threads share. */
struct shared {
    _Atomic(struct rt_executor *) ex; /* the executor, once it runs */
    atomic_int value;                 /* raised by the main thread, then notified */
    atomic_int seen;                  /* the last value the task has taken */
    struct timespec start;            /* when the program began, for the printed times */
};

/* rt_wait_notify's condition: a value the task has not taken yet. */
static bool has_news(void *arg)
{
    struct shared *sh = arg;

    return atomic_load(&sh->value) > atomic_load(&sh->seen);
}

/* The executor's task: take each new value, compute for WORK_MS, until the value is 3. */
struct listener {
    struct rt_async async;
    struct shared *sh;
    struct rt_wait_notify wait;
};

static enum rt_poll listener_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct listener *f = (struct listener *)self;

    ASYNC_BEGIN(f, cx, out);
    atomic_store(&f->sh->ex, rt_executor_current());
    while (atomic_load(&f->sh->seen) < 3) {
        rt_wait_notify(&f->wait, has_news, f->sh);
        AWAIT(&f->wait.future, NULL);
        atomic_store(&f->sh->seen, atomic_load(&f->sh->value));
        printf("%4ld ms  executor: took value %d; computing for %d ms\n",
               now_ms_since(&f->sh->start), atomic_load(&f->sh->seen), WORK_MS);
        fflush(stdout);
        compute_ms(WORK_MS);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable listener_vtable = {listener_poll, rt_async_drop};

/* Raise the value to `v` and notify: the change first, then the notify (executor.h says why). */
static void raise_and_notify(struct shared *sh, int v, const char *when)
{
    printf("%4ld ms  main: value %d, notify (%s)\n", now_ms_since(&sh->start), v, when);
    fflush(stdout);
    atomic_store(&sh->value, v);
    rt_executor_notify(atomic_load(&sh->ex));
}

int main(int argc, char **argv)
{
    static struct shared sh; /* static: the executor's thread uses it until it is joined */
    struct listener l = {.async = RT_ASYNC_INIT(&listener_vtable), .sh = &sh};
    struct rt_thread *thread;

    if (argc > 1)
        return args_none(argc, argv, "waking an executor from another thread: rt_executor_notify");
    clock_gettime(CLOCK_MONOTONIC, &sh.start);
    if (rt_builder_spawn(NULL, &l.async.future, sizeof(l), &thread) < 0) {
        fprintf(stderr, "doorbell: %s\n", rt_last_error());
        return 1;
    }
    while (!atomic_load(&sh.ex))
        sleep_ms(1);

    sleep_ms(PAUSE_MS); /* the executor has nothing to do: it parks */
    raise_and_notify(&sh, 1, "it should be parked");
    while (atomic_load(&sh.seen) < 1)
        sleep_ms(1);
    sleep_ms(WORK_MS / 2); /* it computes for value 1 */
    raise_and_notify(&sh, 2, "it should be computing");
    raise_and_notify(&sh, 3, "at once again");

    if (rt_thread_join(thread, NULL) < 0) {
        fprintf(stderr, "doorbell: %s\n", rt_last_error());
        return 1;
    }
    printf("%4ld ms  main: the executor took value %d and finished\n", now_ms_since(&sh.start),
           atomic_load(&sh.seen));
    return 0;
}
