/*
 * executor.c - the LocalExecutor: the run loop, spawning, and teardown.
 *
 * Phase 2: the executor owns a reactor. The loop gains a step that hands the
 * kernel the tasks' requests and wakes the tasks whose requests completed,
 * and teardown waits for the kernel to let go of cancelled requests.
 * Making an executor also sets SIGPIPE aside (ignore_sigpipe()).
 */
#include "executor.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "run_queue.h"
#include "reactor.h"
#include "task.h"
#include "thread.h"

#define DEFAULT_RING_ENTRIES 256

struct rt_executor {
    struct run_queue run_queue; /* tasks ready to be polled, oldest first */
    struct list_node tasks;     /* every task not yet freed, linked by task->all_link */
    size_t task_count;          /* length of `tasks` */
    bool running;               /* inside rt_executor_run() */
    unsigned trace_id;          /* its number in an RT_TRACE trace; 0 when not traced */
    struct reactor reactor;     /* this executor's io_uring and its requests */
};

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
    ex = rt__calloc(1, sizeof(*ex));
    err = rt__reactor_init(&ex->reactor, b->ring_entries ? b->ring_entries : DEFAULT_RING_ENTRIES,
                           last_error, sizeof(last_error));
    if (err < 0)
        goto no_ring;
    /* Pinned last: a create that fails leaves the thread on the CPUs it had. */
    if (b->cpu != RT_CPU_ANY) {
        err = rt_pin_current_thread(b->cpu);
        if (err < 0)
            goto not_pinned;
    }
    run_queue_init(&ex->run_queue);
    list_init(&ex->tasks);
    ignore_sigpipe();
    RT_TRACE(ex->trace_id = rt__trace_executor_new(b->cpu));
    *out = ex;
    return 0;

not_pinned:
    rt__reactor_destroy(&ex->reactor);
no_ring:
    rt__free(ex);
    return err;
}

/* ------------------------------------------------------------- the run loop */

/*
 * Poll the tasks that were queued when this turn began, oldest first. Tasks
 * woken during the turn wait for the next one, so a task that keeps waking
 * itself cannot keep the loop from checking whether main has finished.
 */
static void run_ready_tasks(struct rt_executor *ex)
{
    size_t n = ex->run_queue.len;

    while (n-- > 0)
        rt__task_run(run_queue_pop(&ex->run_queue));
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
    current = ex;
    ex->running = true;
    RT_TRACE(rt__trace_run(ex->trace_id));

    /* run() holds the main task's handle reference itself. */
    main_task = rt__task_new(ex, main, size);
    rt__task_schedule(main_task);

    while (!task_is_done(main_task)) {
        /* 1. Run every task that is ready. */
        run_ready_tasks(ex);

        /*
         * 2. Hand the kernel every request those tasks made, in one batch,
         * and wake the tasks whose requests have completed. When no task is
         * ready this step simply runs again and again: the loop spins,
         * burning a CPU while it waits. Phase 3 sleeps in the kernel instead.
         */
        rt__reactor_poll(&ex->reactor);

        /* 3. Nothing is ready, nothing is in flight, and main is pending: nothing can wake it. */
        if (!task_is_done(main_task) && run_queue_empty(&ex->run_queue) &&
            rt__reactor_idle(&ex->reactor))
            rt__die("rt_executor_run: deadlock: the main future is pending and no task can run");
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

struct rt_join_handle rt_spawn(const struct rt_future *f, size_t size)
{
    struct rt_task *t;

    ASSERT_ARG(f);
    if (!current)
        rt__die("rt_spawn: no executor is running on this thread; spawn from inside a task");
    t = rt__task_new(current, f, size);
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

void rt__executor_adopt(struct rt_executor *ex, struct rt_task *t)
{
    list_push_back(&ex->tasks, &t->all_link);
    ex->task_count++;
}

void rt__executor_forget(struct rt_executor *ex, struct rt_task *t)
{
    list_remove(&t->all_link);
    ex->task_count--;
}

void rt__executor_enqueue(struct rt_executor *ex, struct rt_task *t)
{
    run_queue_push(&ex->run_queue, t);
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

void rt_executor_destroy(struct rt_executor *ex)
{
    struct rt_task *t;
    struct list_node *node;

    ASSERT_ARG(ex);
    if (ex->running)
        rt__die("rt_executor_destroy: the executor is running");
    RT_TRACE(rt__trace_destroy(ex->trace_id));
    cancel_all_tasks(ex);

    /* Closed tasks may still sit in the run queue; let go of the queue's references. */
    while ((t = run_queue_pop(&ex->run_queue))) {
        t->state &= ~TASK_SCHEDULED;
        rt__task_unref(t);
    }

    /*
     * What is left is held from outside any task: a join handle or a waker
     * the program kept. It is closed, so waking it does nothing, and it is
     * freed when that last reference goes; it just must not point at us.
     */
    while ((node = list_pop_front(&ex->tasks)))
        container_of(node, struct rt_task, all_link)->executor = NULL;

    /* The dropped futures cancelled their requests; the kernel must let go before we free. */
    rt__reactor_destroy(&ex->reactor);
    RT_TRACE(rt__trace_destroy_end(ex->trace_id));
    rt__free(ex);
}
