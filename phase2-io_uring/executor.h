/*
 * executor.h - the LocalExecutor: one thread, one run queue, many tasks.
 *
 * Phase 2: each executor owns an io_uring (its reactor), so making one can
 * fail in new ways; rt_last_error() says why, and how to fix it. And making
 * one makes the process ignore SIGPIPE (see rt_executor_create()).
 *
 * An executor owns tasks and polls the ones that are ready, one at a time,
 * on the thread that runs it. rt_executor_run() drives a main future to
 * completion; while it runs, any task can spawn more tasks with rt_spawn().
 *
 * Both take a future by copying its bytes into a task before its first poll.
 * From then on the task's copy is the future: the caller's struct is never
 * touched again, so a future that must report more than its output does it
 * through a pointer to memory the caller owns.
 *
 * When the main future finishes, run() returns its output at the end of that
 * turn of the loop (the tasks already queued for the turn still run). Tasks
 * still pending stay with the executor: a later run() carries on with them,
 * and rt_executor_destroy() cancels them (drops their futures) and frees
 * them. Nothing is leaked either way.
 */
#ifndef RT_EXECUTOR_H
#define RT_EXECUTOR_H

#include "future.h"
#include "join.h"

struct rt_executor;

#define RT_CPU_ANY (-1)

/* How to make an executor. Start from RT_BUILDER_INIT and change what you need. */
struct rt_builder {
    int cpu;          /* pin the executor's thread to this CPU, or RT_CPU_ANY */
    const char *name; /* rt_builder_spawn's thread name, copied; NULL: "rt-executor" */

    /* Phase 2: the executor's io_uring */
    unsigned ring_entries; /* submission queue size; 0: 256 */
};

#define RT_BUILDER_INIT                 \
    {                                   \
        .cpu = RT_CPU_ANY, .name = NULL \
    }

/*
 * Make an executor on the calling thread; `b` may be NULL for the defaults.
 * With b->cpu set, the calling thread is pinned to that CPU, and stays so
 * after the executor is destroyed; a create that fails leaves it on the
 * CPUs it had (phase 2: it is pinned last, once the ring exists).
 * Returns 0, or -EINVAL for a CPU that does not exist or that this process
 * may not use, or the -errno with which the io_uring could not be made
 * (-EPERM, -ENOSYS, -ENOMEM, -EOPNOTSUPP, ...): rt_last_error() explains it.
 *
 * SIGPIPE: a write to a pipe or socket whose reader is gone would kill the
 * process with SIGPIPE. If SIGPIPE still has its default action, making an
 * executor sets it to SIG_IGN, for the whole process, so that such a write
 * fails with -EPIPE instead (Rust's standard library does the same before
 * main()). A handler or SIG_IGN set by the program is left alone. An ignored
 * signal stays ignored across exec(): in a child process, restore SIG_DFL
 * before exec'ing a program that expects the default.
 */
int rt_executor_create(const struct rt_builder *b, struct rt_executor **out);

/*
 * Why the last rt_executor_create(), rt_builder_spawn(), rt_thread_join() or
 * rt_pin_current_thread() on this thread failed, and what to do about it; ""
 * if it succeeded.
 */
const char *rt_last_error(void);

/* Internal (thread.c uses it): set this thread's rt_last_error(), formatted as by printf(). */
void rt__set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Cancel and free every task still alive, then the executor; a task the
 * program still holds a join handle or waker to is cancelled, and freed when
 * that is released. Not while it runs.
 */
void rt_executor_destroy(struct rt_executor *ex);

/*
 * Copy the `size` bytes of the future at `main` into a task, then run tasks
 * until that one is finished, and return its output. Stops the program if
 * the main future is pending while no task is runnable and no I/O is in
 * flight: with nothing that could ever wake it, that is a deadlock.
 */
intptr_t rt_executor_run(struct rt_executor *ex, const struct rt_future *main, size_t size);

/*
 * Spawn a task on the executor running on this thread (from inside a task):
 * the `size` bytes at `f`, a future not yet polled, are copied into the new
 * task, which is queued to run. Returns its join handle.
 */
struct rt_join_handle rt_spawn(const struct rt_future *f, size_t size);

/* The executor running on this thread, or NULL outside rt_executor_run(). */
struct rt_executor *rt_executor_current(void);

/* Tasks this executor has not freed yet (running, queued, pending or awaiting their handle). */
size_t rt_executor_task_count(const struct rt_executor *ex);

#endif /* RT_EXECUTOR_H */
