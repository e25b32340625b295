/*
 * executor.c - the LocalExecutor: the run loop, spawning, and teardown.
 *
 * Phase 2: the executor owns a reactor. The loop gains a step that hands the
 * kernel the tasks' requests and wakes the tasks whose requests completed,
 * and teardown waits for the kernel to let go of cancelled requests.
 *
 * Phase 3: the loop runs one task queue at a time, for one slice
 * (task_queue.c says which), fires the deadlines in the executor's timer
 * heap, and, when nothing is left to run, parks the thread in the kernel
 * instead of spinning. rt_executor_notify(), the one function another thread
 * may call, wakes it through a doorbell: an eventfd the ring is reading,
 * or, when nothing of its own is in the ring, the futex it sleeps on.
 *
 * Making an executor also sets SIGPIPE aside (ignore_sigpipe()).
 *
 * Phase 4: the executor owns per-core memory (percore.h), from which its
 * tasks, requests and owned buffers take their blocks; it is closed last
 * at teardown.
 */
#include "executor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "deferred.h"
#include "percore.h"
#include "preempt.h"
#include "reactor.h"
#include "task.h"
#include "task_queue.h"
#include "thread.h"
#include "timers.h"

#define DEFAULT_RING_ENTRIES 256

/* The longest spin_before_park_ns: beyond this, spinning is just burning the CPU. */
#define SPIN_MAX_NS NSEC_PER_SEC

struct rt_executor {
    struct list_node tasks; /* every task not yet freed, linked by task->all_link */
    size_t task_count;      /* length of `tasks` */
    bool running;           /* inside rt_executor_run() */
    unsigned trace_id;      /* its number in an RT_TRACE trace; 0 when not traced */
    struct reactor reactor; /* this executor's io_uring and its requests */

    /* Phase 3 */
    struct scheduler sched;         /* the task queues, each with its own run queue */
    struct timer_heap timers;       /* the deadline of every sleep */
    struct preempt preempt;         /* the slice timer, on a ring of its own */
    uint64_t slice_ns;              /* the longest slice (builder's preempt_slice_ns) */
    uint64_t spin_ns;               /* builder's spin_before_park_ns */
    uint64_t slice_start;           /* when the running queue's slice began */
    bool yield_requested;           /* a task called rt_yield_now(): end the slice */
    bool yielding;                  /* in a yield's own wake: see rt__executor_enqueue() */
    struct rt_wait_notify *waiters; /* tasks waiting for another thread's notification */
    pthread_t maker;                /* the thread that made it (see check_thread) */

    /* Phase 4 */
    struct list_node deferred; /* struct deferred to run at the end of this turn (deferred.h) */
    struct rt_percore *memory; /* free blocks for tasks, sources and buffers; see percore.h */

    /*
     * Written by other threads. On a cache line of their own, so that their
     * writes do not keep taking the line that holds the fields above away
     * from this executor's core.
     */
    alignas(64) atomic_uint notified; /* 1: a notification the loop has not taken; a futex word */
    atomic_uint sleeping;             /* AWAKE, or where the thread sleeps (or is about to) */
};

/* Where the thread sleeps, in `sleeping`: what a notifier must do to wake it. */
enum { AWAKE, IN_THE_RING, ON_THE_FUTEX };

/* The executor running on this thread, so that tasks can spawn tasks. */
static _Thread_local struct rt_executor *current;

/* Why making an executor last failed on this thread (see rt_last_error()). */
static _Thread_local char last_error[512];

const char *rt_last_error(void)
{
    return last_error;
}

void rt__set_last_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

/*
 * A write to a socket or a pipe whose reader has gone raises SIGPIPE, and
 * its default action kills the process: one client that hangs up would take
 * a whole server down. rt_io_send() passes MSG_NOSIGNAL, but a write has no
 * such flag. So, as Rust's standard library does before main(), we ignore
 * SIGPIPE and such a write fails with -EPIPE instead. A program that chose
 * a disposition of its own (a handler, or SIG_IGN already) keeps it.
 */
static void ignore_sigpipe(void)
{
    struct sigaction old, ignore = {.sa_handler = SIG_IGN};

    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        sigaction(SIGPIPE, &ignore, NULL);
}

/* The builder's phase-3 fields, checked; -EINVAL with a message in last_error. */
static int check_builder(const struct rt_builder *b)
{
    if (b->ring_mode < RT_RING_AUTO || b->ring_mode > RT_RING_DEFER)
        snprintf(last_error, sizeof(last_error), "ring_mode %d is not one of RT_RING_*",
                 b->ring_mode);
    else if (b->preempt_slice_ns > RT_SLICE_MAX_NS)
        snprintf(last_error, sizeof(last_error),
                 "preempt_slice_ns %llu is longer than RT_SLICE_MAX_NS (10 s)",
                 (unsigned long long)b->preempt_slice_ns);
    else if (b->spin_before_park_ns > SPIN_MAX_NS)
        snprintf(last_error, sizeof(last_error), "spin_before_park_ns %llu is longer than a second",
                 (unsigned long long)b->spin_before_park_ns);
    else if (b->io_memory > RT_IO_MEMORY_MAX)
        snprintf(last_error, sizeof(last_error),
                 "io_memory %zu is more than RT_IO_MEMORY_MAX (1 GiB, the kernel's limit)",
                 b->io_memory);
    else
        return 0;
    return -EINVAL;
}

/*
 * Phase 4: I/O memory for owned buffers, registered with the ring (percore.h).
 * Without it an executor still works, so a refusal is not an error: the
 * kernel says -ENOMEM past RLIMIT_MEMLOCK, and the stats say "none".
 */
static void add_io_memory(struct rt_executor *ex, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *mem;

    if (bytes == 0)
        return;
    bytes = (bytes + page - 1) / page * page; /* at most 1 GiB (check_builder): no overflow */
    mem = rt__percore_io_memory_new(ex->memory, bytes);
    if (mem && rt__reactor_register_memory(&ex->reactor, mem, bytes) < 0)
        rt__percore_io_memory_drop(ex->memory);
}

int rt_executor_create(const struct rt_builder *b, struct rt_executor **out)
{
    const struct rt_builder defaults = RT_BUILDER_INIT;
    struct rt_executor *ex;
    int err;

    ASSERT_ARG(out);
    rt__trace_init(); /* RT_TRACE is read once, when the first executor is made */
    if (!b)
        b = &defaults;
    last_error[0] = '\0';
    err = check_builder(b);
    if (err < 0)
        return err;
    ex = rt__calloc(1, sizeof(*ex));
    err = rt__reactor_init(&ex->reactor, b->ring_entries ? b->ring_entries : DEFAULT_RING_ENTRIES,
                           b->ring_mode, last_error, sizeof(last_error));
    if (err < 0)
        goto no_ring;
    err = rt__preempt_init(&ex->preempt, ex->reactor.mode == RT_RING_DEFER, last_error,
                           sizeof(last_error));
    if (err < 0)
        goto no_timer;
    /* Pinned last: a create that fails leaves the thread on the CPUs it had. */
    if (b->cpu != RT_CPU_ANY) {
        err = rt_pin_current_thread(b->cpu);
        if (err < 0)
            goto not_pinned;
    }
    list_init(&ex->tasks);
    list_init(&ex->deferred);
    ex->memory = rt__percore_new();
    add_io_memory(ex, b->io_memory);
    rt__scheduler_init(&ex->sched);
    rt__timers_init(&ex->timers);
    ex->slice_ns = b->preempt_slice_ns ? b->preempt_slice_ns : RT_SLICE_DEFAULT_NS;
    ex->spin_ns = b->spin_before_park_ns;
    ex->maker = pthread_self();
    atomic_init(&ex->notified, 0);
    atomic_init(&ex->sleeping, AWAKE);
    ignore_sigpipe();
    RT_TRACE(ex->trace_id = rt__trace_executor_new(b->cpu));
    RT_TRACE(
        rt__trace_task_queue(ex->trace_id, RT_TASK_QUEUE_DEFAULT, "default", RT_SHARES_MAX, 0));
    *out = ex;
    return 0;

not_pinned:
    rt__preempt_destroy(&ex->preempt);
no_timer:
    rt__reactor_destroy(&ex->reactor);
no_ring:
    rt__free(ex);
    return err;
}

/* ------------------------------------------------------------- the run loop */

/*
 * Start a slice: the scheduler picks the queue whose turn it is, and the
 * preemption timer is armed for the end of the slice. That is the slice
 * length, or the nearest deadline in the timer heap, or the time by which
 * another queue must start for its latency, whichever comes first.
 */
static struct task_queue *start_slice(struct rt_executor *ex)
{
    uint64_t now = now_ns(), end = now + ex->slice_ns;
    struct task_queue *q = rt__scheduler_pick(&ex->sched, now);

    if (!q)
        return NULL;
    if (rt__timers_next(&ex->timers) < end)
        end = rt__timers_next(&ex->timers);
    if (rt__scheduler_latency_deadline(&ex->sched) < end)
        end = rt__scheduler_latency_deadline(&ex->sched);
    rt__preempt_arm(&ex->preempt, end);
    RT_TRACE(rt__trace_slice(q->id, q->name));
    ex->slice_start = now;
    ex->yield_requested = false;
    return q;
}

/*
 * One turn of the running queue's slice: poll the tasks that were ready in
 * it when the turn began, oldest first (tasks woken during the turn wait for
 * the next one, as in phase 1, so the loop keeps coming round to the
 * reactor). The slice goes on, turn after turn, until the queue has nothing
 * left to run, its time is up, a task yields, or main has finished; then the
 * queue is charged for the slice and the next turn picks again.
 *
 * The charge is the time from the slice's start to its end, read from the
 * clock twice per slice, not twice per turn: a turn can be a few
 * nanoseconds, and reading the clock costs tens here (kvm-clock). So the
 * reactor's work between the turns of a slice, work the queue's own tasks
 * asked for, is charged to that queue too.
 */
static void run_ready_tasks(struct rt_executor *ex, struct rt_task *main_task)
{
    struct task_queue *q = ex->sched.running ? ex->sched.running : start_slice(ex);
    uint64_t end;
    size_t n;
    bool over = false;
    struct rt_task *t;

    if (!q)
        return;
    /* At least one task runs, even if the timer fired already: every slice makes progress. */
    for (n = q->ready.len; n > 0 && (t = rt__scheduler_pop(&ex->sched, q)); n--) {
        /* One cancelled while it waited in the queue is let go unpolled: that is not a run. */
        if (!task_is_done(t))
            q->stats.tasks_run++;
        rt__task_run(t);
        over = ex->yield_requested || rt__preempt_fired(&ex->preempt);
        if (over)
            break;
    }
    /* Main finishing ends the slice too, so that a later run() starts from a clean state. */
    if (over || run_queue_empty(&q->ready) || task_is_done(main_task)) {
        end = now_ns();
        rt__scheduler_charge(&ex->sched, end - ex->slice_start, end);
        RT_TRACE(rt__trace_slice_end(q->id, q->name, end - ex->slice_start, q->vruntime));
    }
}

/*
 * Run what the turn's tasks deferred to its end (deferred.h): channel ends
 * checking, once for all the messages of the turn, whether their peer waits.
 * The list is taken private first: a run may queue more, for the next turn.
 */
static void run_deferred(struct rt_executor *ex)
{
    struct list_node todo, *node;

    if (list_empty(&ex->deferred))
        return;
    list_move_all(&ex->deferred, &todo);
    while ((node = list_pop_front(&todo)))
        container_of(node, struct deferred, link)->run(container_of(node, struct deferred, link));
}

void rt__defer_to_turn_end(struct deferred *d)
{
    if (!current)
        rt__die("rt__defer_to_turn_end: no executor is running on this thread");
    if (list_empty(&d->link))
        list_push_back(&current->deferred, &d->link);
}

/* Wake the tasks whose sleeps are over. */
static void fire_timers(struct rt_executor *ex)
{
    if (ex->timers.len > 0)
        rt__timers_fire(&ex->timers, now_ns());
}

/* If another thread has notified us since we last looked, wake every task waiting for one. */
static void take_notifications(struct rt_executor *ex)
{
    struct rt_wait_notify *w;

    /* A plain load first: when nobody notified, this costs no read-modify-write. */
    if (!atomic_load_explicit(&ex->notified, memory_order_relaxed))
        return;
    /*
     * Acquire pairs with the notifier's exchange: whatever the notifier
     * wrote before notifying (a message in a channel) is visible to the
     * tasks we wake now.
     */
    atomic_exchange_explicit(&ex->notified, 0, memory_order_acquire);
    while ((w = ex->waiters)) {
        ex->waiters = w->next;
        w->prev = w->next = NULL;
        w->ex = NULL; /* off the list: its poll checks `ready` again, and waits again if need be */
        rt_waker_wake(&w->waker);
    }
}

/* Is there anything at all that could make a task ready? If not, parking would be forever. */
static bool can_be_woken(const struct rt_executor *ex)
{
    return !rt__reactor_idle(&ex->reactor) || ex->timers.len > 0 || ex->waiters;
}

/* Something to run, or a notification to take: no need to sleep. */
static bool has_work(struct rt_executor *ex)
{
    return ex->sched.ready_tasks > 0 || atomic_load_explicit(&ex->notified, memory_order_relaxed);
}

/*
 * Look for work for up to spin_ns before sleeping: completions, deadlines and
 * notifications, all without a system call unless the kernel flags work.
 * Spinning trades a CPU for a faster reaction; off by default.
 */
static void spin(struct rt_executor *ex)
{
    uint64_t until = now_ns() + ex->spin_ns;

    while (!has_work(ex) && now_ns() < until) {
        rt__reactor_poll(&ex->reactor);
        fire_timers(ex);
    }
}

/*
 * Nothing is ready: sleep in the kernel until a completion, the nearest
 * deadline or a notification. Where: in the ring, unless nothing of ours
 * is there and there is no deadline. Then only a notification can wake us,
 * and we sleep on `notified` itself, a futex: the notifier's wake reaches
 * the thread directly, where the ring's read of the doorbell would take a
 * detour (reactor.c, rt__reactor_only_notifications()). `sleeping` tells
 * the notifier which.
 *
 * The part that needs care is the race with rt_executor_notify() on
 * another thread, which does
 *
 *     notified = 1;   then   if (sleeping) write the eventfd, or wake the futex;
 *
 * while we do
 *
 *     sleeping = where;   then   if (!notified) sleep;
 *
 * Each side writes its flag, then reads the other's. With sequentially
 * consistent atomics (the default for atomic_store and atomic_load) the
 * two writes are ordered before the two reads in one order every thread
 * agrees on, so at least one side sees the other's write: either the
 * notifier sees `sleeping` and rings, or we see `notified` and do not
 * sleep. The wake-up cannot be lost in between. (With weaker orderings
 * both reads could see the old values: that is the lost wake-up.) On the
 * futex, the kernel closes the last gap, between our read of `notified` and
 * the sleep: FUTEX_WAIT sleeps only if `notified` still holds 0, and the
 * notifier set it to 1 before it woke the futex.
 */
static void park(struct rt_executor *ex)
{
    uint64_t next, now, timeout;
    unsigned where;

    if (ex->spin_ns) {
        spin(ex);
        if (has_work(ex))
            return;
    }
    /* After the spin, which may have reaped the last request in flight: an orphan's, say. */
    if (!can_be_woken(ex))
        rt__die("rt_executor_run: deadlock: the main future is pending and no task can run");
    next = rt__timers_next(&ex->timers);
    now = next == UINT64_MAX ? 0 : now_ns();
    timeout = next == UINT64_MAX ? UINT64_MAX : next > now ? next - now : 0;
    where = timeout == UINT64_MAX && rt__reactor_only_notifications(&ex->reactor) ? ON_THE_FUTEX
                                                                                  : IN_THE_RING;
    atomic_store(&ex->sleeping, where);
    if (!atomic_load(&ex->notified)) {
        RT_TRACE(rt__trace_park(timeout));
        if (where == ON_THE_FUTEX)
            rt__reactor_sleep_on_futex(&ex->reactor, &ex->notified);
        else
            rt__reactor_park(&ex->reactor, timeout);
        RT_TRACE(rt__trace_unpark());
    }
    atomic_store(&ex->sleeping, AWAKE);
}

/*
 * A ring made in DEFER mode is IORING_SETUP_SINGLE_ISSUER: the kernel takes
 * requests from the thread that made it and answers any other with -EEXIST.
 * So an executor in that mode is run and destroyed where it was made; in
 * the other modes it may move to another thread between runs.
 */
static void check_thread(const struct rt_executor *ex, const char *what)
{
    if (ex->reactor.mode == RT_RING_DEFER && !pthread_equal(ex->maker, pthread_self()))
        rt__die("%s: this executor was made on another thread, and its ring (mode \"defer\", "
                "IORING_SETUP_SINGLE_ISSUER) takes requests from that thread only; fix: make the "
                "executor on the thread that uses it, or choose ring_mode RT_RING_COOP",
                what);
}

intptr_t rt_executor_run(struct rt_executor *ex, const struct rt_future *main, size_t size)
{
    struct rt_task *main_task;
    intptr_t output;

    ASSERT_ARG(ex);
    ASSERT_ARG(main);
    if (current)
        rt__die("rt_executor_run: an executor is already running on this thread");
    if (ex->running)
        rt__die("rt_executor_run: this executor is already running on another thread");
    check_thread(ex, "rt_executor_run");
    current = ex;
    ex->running = true;
    rt__percore_adopt_thread(ex->memory); /* its blocks live on the thread that runs it */
    RT_TRACE(rt__trace_run(ex->trace_id));

    /* run() holds the main task's handle reference itself. */
    main_task = rt__task_new(ex, &ex->sched.default_queue, main, size);
    rt__task_schedule(main_task);

    while (!task_is_done(main_task)) {
        /* 1. Run the ready tasks of the task queue whose turn it is. */
        run_ready_tasks(ex, main_task);
        run_deferred(ex);

        /*
         * 2. Hand the kernel every request those tasks made, in one batch,
         * and wake the tasks whose requests have completed. When no task is
         * ready, the batch waits for step 4: the system call that parks the
         * thread submits it too, so going idle costs one system call, not two.
         */
        if (ex->sched.ready_tasks > 0)
            rt__reactor_poll(&ex->reactor);
        else
            rt__reactor_reap(&ex->reactor);

        /*
         * 3. Wake the tasks whose deadlines have passed, and those another
         * thread notified. They, and those step 2 woke, went ahead of the
         * task that yielded in step 1, if any; from now on, wakes queue
         * behind it.
         */
        fire_timers(ex);
        take_notifications(ex);
        ex->sched.yielder = NULL;

        /*
         * 4. Nothing is ready: sleep in the kernel until something happens.
         * The park reaps the completions that end it; the deadline or the
         * notification that ends it is taken at once too, so that the task
         * it wakes runs in the next step 1, not after a turn that runs nothing.
         */
        if (!task_is_done(main_task) && !has_work(ex)) {
            park(ex);
            fire_timers(ex);
            take_notifications(ex);
        }
    }

    ASSERT(main_task->state & TASK_COMPLETED); /* nothing else holds a handle to cancel it */
    output = main_task->output;
    main_task->state &= ~TASK_HANDLE;
    rt__task_unref(main_task);

    ex->running = false;
    current = NULL;
    RT_TRACE(rt__trace_run_end(ex->trace_id, (long)output));
    return output;
}

/* ------------------------------------------------------------------ spawning */

RT__FLATTEN struct rt_join_handle rt_spawn(const struct rt_future *f, size_t size)
{
    struct rt_task *t;
    struct task_queue *q;

    ASSERT_ARG(f);
    if (!current)
        rt__die("rt_spawn: no executor is running on this thread; spawn from inside a task");
    /* Into the spawning task's queue, as Glommio's spawn_local does. */
    q = current->sched.running ? current->sched.running : &current->sched.default_queue;
    t = rt__task_new(current, q, f, size);
    rt__task_schedule(t);
    return rt__join_handle_new(t);
}

struct rt_executor *rt_executor_current(void)
{
    return current;
}

size_t rt_executor_task_count(const struct rt_executor *ex)
{
    ASSERT_ARG(ex);
    return ex->task_count;
}

struct reactor *rt__executor_reactor(struct rt_executor *ex)
{
    return &ex->reactor;
}

struct scheduler *rt__executor_scheduler(struct rt_executor *ex)
{
    return &ex->sched;
}

struct rt_percore *rt__executor_percore(struct rt_executor *ex)
{
    return ex->memory;
}

void rt_executor_memory_stats(const struct rt_executor *ex, struct rt_memory_stats *out)
{
    if (!ex)
        rt__die("rt_executor_memory_stats: the executor is NULL");
    ASSERT_ARG(out);
    rt__percore_stats(ex->memory, out);
}

unsigned rt__executor_trace_id(const struct rt_executor *ex)
{
    return ex->trace_id;
}

struct timer_heap *rt__executor_timers(struct rt_executor *ex)
{
    return &ex->timers;
}

/*
 * Make the running slice end by `deadline` at the latest. A slice whose
 * timer has fired is over already, and stays so: moving the timer would
 * take its completion out of the ring, and rt_need_preempt() would say "no"
 * again.
 */
static void end_slice_by(struct rt_executor *ex, uint64_t deadline)
{
    if (!rt__preempt_fired(&ex->preempt))
        rt__preempt_arm(&ex->preempt, deadline);
}

void rt__executor_add_timer(struct rt_executor *ex, struct rt_timer *timer)
{
    struct task_queue *q = ex->sched.running;

    rt__timers_add(&ex->timers, timer);
    /*
     * A deadline set in the middle of a slice that other tasks of the queue
     * go on using: end the slice by then, as start_slice() does with the
     * deadlines it knows, or the sleep would wait for the rest of the slice.
     * (A queue left with nothing ready ends its slice anyway: no system call.)
     */
    if (q && !run_queue_empty(&q->ready))
        end_slice_by(ex, timer->deadline);
}

void rt__executor_adopt(struct rt_executor *ex, struct rt_task *t)
{
    list_push_back(&ex->tasks, &t->all_link);
    ex->task_count++;
    t->queue->live_tasks++;
}

void rt__executor_forget(struct rt_executor *ex, struct rt_task *t)
{
    list_remove(&t->all_link);
    ex->task_count--;
    t->queue->live_tasks--;
}

void rt__executor_enqueue(struct rt_executor *ex, struct rt_task *t)
{
    uint64_t start_by = rt__scheduler_push(&ex->sched, t->queue, t);

    /*
     * A task that yields is the last of its queue, and stays so while the
     * turn's end wakes others (rt__scheduler_push puts them ahead of it): a
     * sleep that ended the slice must not wait behind the task it preempted.
     */
    if (ex->yielding)
        ex->sched.yielder = t;
    /* A latency-sensitive queue just got work while another runs: end that slice in time. */
    if (start_by && ex->sched.running && ex->sched.running != t->queue)
        end_slice_by(ex, start_by);
}

/* ---------------------------------------------------- preemption and yielding */

bool rt_need_preempt(void)
{
    return current && rt__preempt_fired(&current->preempt);
}

static enum rt_poll yield_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_yield *y = (struct rt_yield *)self;

    if (y->yielded || (y->only_if_needed && !rt_need_preempt())) {
        *out = 0;
        return RT_READY;
    }
    /*
     * To the back of its queue, and the slice ends: I/O, deadlines and other
     * queues go first. The tasks the turn's end wakes into its own queue go
     * ahead of it too (see rt__executor_enqueue).
     */
    y->yielded = true;
    if (current) {
        current->yield_requested = true;
        current->yielding = true;
    }
    rt_waker_wake_by_ref(cx->waker);
    if (current)
        current->yielding = false;
    return RT_PENDING;
}

static const struct rt_future_vtable yield_vtable = {.poll = yield_poll};

void rt_yield_now(struct rt_yield *y)
{
    ASSERT_ARG(y);
    *y = (struct rt_yield){.future = {&yield_vtable}};
}

void rt_yield_if_needed(struct rt_yield *y)
{
    ASSERT_ARG(y);
    *y = (struct rt_yield){.future = {&yield_vtable}, .only_if_needed = true};
}

/* ---------------------------------------------------------- the doorbell */

void rt_executor_notify(struct rt_executor *ex)
{
    unsigned where;

    if (!ex)
        rt__die("rt_executor_notify: the executor is NULL");
    /*
     * Already notified, and the loop has not taken it yet: whoever set the
     * flag also made sure the executor wakes (see park()), so there is
     * nothing more to do. This is what merges a burst of notifications.
     */
    if (atomic_exchange(&ex->notified, 1)) {
        RT_TRACE(rt__trace_notify(ex->trace_id, "merged with one not yet taken"));
        return;
    }
    where = atomic_load(&ex->sleeping);
    if (where == AWAKE) {
        RT_TRACE(rt__trace_notify(ex->trace_id, "it is awake: no system call"));
        return;
    }
    /* Ring the doorbell: the one that wakes the thread where it sleeps (see park()). */
    RT_TRACE(rt__trace_notify(ex->trace_id, "it sleeps: the doorbell is rung"));
    if (where == ON_THE_FUTEX)
        rt__reactor_wake_futex(&ex->notified);
    else
        rt__reactor_ring_doorbell(&ex->reactor);
}

static void wait_notify_unlink(struct rt_wait_notify *w)
{
    if (!w->ex)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        w->ex->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->ex = NULL;
}

static enum rt_poll wait_notify_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_wait_notify *w = (struct rt_wait_notify *)self;

    if (!current)
        rt__die("an rt_wait_notify future was polled outside an executor");
    /*
     * Join the list before looking: a notification that comes after this
     * point wakes us, and one that came before it made `ready` true first.
     */
    if (!w->ex) {
        w->ex = current;
        w->prev = NULL;
        w->next = current->waiters;
        if (w->next)
            w->next->prev = w;
        current->waiters = w;
    }
    if (w->ready(w->arg)) {
        wait_notify_unlink(w);
        rt_waker_drop(&w->waker);
        *out = 0;
        return RT_READY;
    }
    rt_waker_register(&w->waker, cx);
    return RT_PENDING;
}

static void wait_notify_drop(struct rt_future *self)
{
    struct rt_wait_notify *w = (struct rt_wait_notify *)self;

    wait_notify_unlink(w);
    rt_waker_drop(&w->waker);
}

static const struct rt_future_vtable wait_notify_vtable = {wait_notify_poll, wait_notify_drop};

void rt_wait_notify(struct rt_wait_notify *w, bool (*ready)(void *arg), void *arg)
{
    ASSERT_ARG(w);
    ASSERT_ARG(ready);
    /* Zeroing one that waits would leave the executor's list of waiters pointing into it. */
    if (current && w->ex == current && (w->prev ? w->prev->next == w : current->waiters == w))
        rt__die("an rt_wait_notify was prepared again while it was waiting: await it to the end "
                "or drop it first");
    *w = (struct rt_wait_notify){.future = {&wait_notify_vtable}, .ready = ready, .arg = arg};
}

/* ------------------------------------------------------------------ teardown */

/*
 * Cancel every task. Dropping one task's future can free other tasks (it may
 * hold their handles or wakers), which unlinks them from whatever list they
 * are on. So we take the whole list private and only ever look at its first
 * entry, which is never one that was freed.
 */
static void cancel_all_tasks(struct rt_executor *ex)
{
    struct list_node todo;
    struct list_node *node;

    list_move_all(&ex->tasks, &todo);
    while ((node = list_pop_front(&todo))) {
        struct rt_task *t = container_of(node, struct rt_task, all_link);

        list_push_back(&ex->tasks, node);
        rt__task_ref(t); /* keep it alive while its future is dropped */
        rt__task_cancel(t);
        rt__task_unref(t);
    }
}

/* Let go of the run queues' references to closed tasks that still sit in them. */
static void empty_run_queues(struct rt_executor *ex)
{
    struct list_node *node;
    struct rt_task *t;

    for (node = ex->sched.queues.next; node != &ex->sched.queues; node = node->next) {
        struct task_queue *q = container_of(node, struct task_queue, link);

        while ((t = rt__scheduler_pop(&ex->sched, q))) {
            t->state &= ~TASK_SCHEDULED;
            rt__task_unref(t);
        }
    }
}

void rt__executor_drop_tasks(struct rt_executor *ex)
{
    if (ex->running)
        rt__die("rt__executor_drop_tasks: the executor is running");
    cancel_all_tasks(ex);
    empty_run_queues(ex);
}

void rt_executor_destroy(struct rt_executor *ex)
{
    struct list_node *node;

    ASSERT_ARG(ex);
    if (ex->running)
        rt__die("rt_executor_destroy: the executor is running");
    check_thread(ex, "rt_executor_destroy");
    rt__percore_adopt_thread(ex->memory); /* it may have run elsewhere; its blocks are freed here */
    RT_TRACE(rt__trace_destroy(ex->trace_id));
    cancel_all_tasks(ex);

    /* Closed tasks may still sit in the run queues; let go of the queues' references. */
    empty_run_queues(ex);

    /*
     * What is left is held from outside any task: a join handle or a waker
     * the program kept. It is closed, so waking it does nothing, and it is
     * freed when that last reference goes; it just must not point at us.
     */
    while ((node = list_pop_front(&ex->tasks))) {
        struct rt_task *t = container_of(node, struct rt_task, all_link);

        t->queue->live_tasks--; /* its queue is freed below */
        t->queue = NULL;
        t->executor = NULL;
    }

    /* The dropped futures cancelled their requests; the kernel must let go before we free. */
    rt__reactor_destroy(&ex->reactor);
    rt__preempt_destroy(&ex->preempt);
    rt__timers_destroy(&ex->timers);
    rt__scheduler_destroy(&ex->sched);
    /* Last: the steps above gave back the blocks of the tasks and sources they freed. */
    rt__percore_close(ex->memory);
    RT_TRACE(rt__trace_destroy_end(ex->trace_id));
    rt__free(ex);
}
