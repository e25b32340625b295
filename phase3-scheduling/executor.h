/*
 * executor.h - the LocalExecutor: one thread, task queues, many tasks.
 *
 * Phase 2: each executor owns an io_uring (its reactor), so making one can
 * fail in new ways; rt_last_error() says why, and how to fix it. And making
 * one makes the process ignore SIGPIPE (see rt_executor_create()).
 *
 * Phase 3: with nothing to run, the executor sleeps in the kernel (it
 * parks) until a completion, the nearest deadline, or rt_executor_notify()
 * from another thread; tasks run in task queues with shares (scheduling.h).
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
 * turn of the loop (the tasks already queued for the turn still run; phase
 * 3: those of the running task queue, unless a yield or the end of the
 * slice cuts the turn short). Tasks
 * still pending stay with the executor: a later run() carries on with them,
 * and rt_executor_destroy() cancels them (drops their futures) and frees
 * them. Nothing is leaked either way.
 */
#ifndef RT_EXECUTOR_H
#define RT_EXECUTOR_H

#include <stdint.h>

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

    /* Phase 3: scheduling */
    int ring_mode;                /* RT_RING_*: how completions reach the thread; see reactor.c */
    uint64_t preempt_slice_ns;    /* longest run of one task queue while others wait; 0: 10 ms */
    uint64_t spin_before_park_ns; /* with nothing to do, look again this long (at most 1 s) */
};

/* Ring modes (struct rt_builder's ring_mode); reactor.c explains them. */
enum {
    RT_RING_AUTO = 0, /* the best the kernel has: DEFER, else COOP, else PLAIN */
    RT_RING_PLAIN,    /* completions interrupt the thread (any kernel) */
    RT_RING_COOP,     /* IORING_SETUP_COOP_TASKRUN (Linux 5.19) */
    RT_RING_DEFER,    /* IORING_SETUP_DEFER_TASKRUN + SINGLE_ISSUER (Linux 6.1) */
};

#define RT_SLICE_DEFAULT_NS (10 * UINT64_C(1000000))
#define RT_SLICE_MAX_NS     (10 * UINT64_C(1000000000)) /* longer slices are refused: -EINVAL */

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
 * may not use (or, phase 3, a ring_mode, preempt_slice_ns or
 * spin_before_park_ns out of range), or the -errno with which the io_uring
 * could not be made (-EPERM, -ENOSYS, -ENOMEM, -EOPNOTSUPP, ...):
 * rt_last_error() explains it.
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
 * the main future is pending while no task is runnable and nothing could
 * make one runnable (no I/O in flight, no rt_sleep deadline, no pending
 * rt_wait_notify): that is a deadlock.
 *
 * Phase 3: an executor whose ring is in DEFER mode (RT_RING_AUTO's choice
 * on Linux 6.1 and later) is run and destroyed on the thread that made it,
 * the only thread its ring takes requests from; another thread stops the
 * program with a message saying so. In the other modes it may move.
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

/* ---------------------------------------------------------------- phase 3 */

/*
 * Wake `ex` if it is parked, so that its tasks waiting with rt_wait_notify()
 * look again. The one function of the runtime that any thread may call at
 * any time (while `ex` exists). Costs no system call while `ex` is awake,
 * and one when it sleeps (a write to its eventfd, or a wake of its futex);
 * notifications that come while one is already pending are merged into it.
 */
void rt_executor_notify(struct rt_executor *ex);

/*
 * Wait for something another thread does: ready (output 0) once
 * `ready(arg)` returns true. It is called at the first poll and again after
 * every rt_executor_notify() on this executor, so the other thread must make
 * the change `ready` looks for *before* it notifies. `ready` runs on the
 * executor's thread; what it reads must be safe to read there (an atomic,
 * say). Phase 4's channels are built on this. Like every future, prepare it
 * only when it is not waiting: zero-filled, finished, or dropped.
 */
struct rt_wait_notify {
    struct rt_future future;  /* await this */
    bool (*ready)(void *arg); /* private, all of it */
    void *arg;
    struct rt_executor *ex;             /* whose waiters it is among, while it waits */
    struct rt_wait_notify *prev, *next; /* the executor's list of waiters */
    struct rt_waker waker;
};
void rt_wait_notify(struct rt_wait_notify *w, bool (*ready)(void *arg), void *arg);

#endif /* RT_EXECUTOR_H */
