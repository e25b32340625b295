/*
 * common/trace.h - RT_TRACE: one line (or one JSON event) per runtime event.
 *
 * Run any program built on the runtime with the environment variable
 *
 *   RT_TRACE=1            a line per event on stderr, in fixed columns:
 *                             time since the trace began, in microseconds
 *                             the executor ("ex1"; "-" outside any executor)
 *                             what it is about ("task 3", "req 7"; "-" for the executor)
 *                             the event ("spawn", "poll", "wake", "done", ...)
 *                             the detail ("by task 1", "RECV -> 5", ...)
 *   RT_TRACE=run.json     the same events in the Chrome Trace Event format, for
 *                         https://ui.perfetto.dev or chrome://tracing: a track per
 *                         task, a slice per poll, an arrow per wake
 *
 * and nothing else changes. Unset (or "0"), tracing costs one well-predicted
 * branch per event site: RT_TRACE() below tests a flag and calls nothing.
 *
 * This file is the sink: it parses the variable, keeps the clock, numbers
 * the tasks, requests and executors, and writes text or JSON under a lock
 * (executors on several threads share one trace). It knows no runtime type:
 * its API is plain numbers and strings. The events are emitted where the
 * runtime already marks those moments: task.c (spawn, poll, wake, cancel,
 * free), executor.c (create, run, destroy), from phase 2 reactor.c
 * (queue, submit, done, cancel, orphan freed), and from phase 3 executor.c
 * and timer.c (park, notify, task queue slices, timers), and from phase 4
 * channel.c (a message sent on one core and received on another).
 * docs/tracing.md shows real traces.
 */
#ifndef COMMON_TRACE_H
#define COMMON_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nonzero while a trace is open. Read by every event site; written only when a trace opens or
 * closes. */
extern atomic_int rt__trace_on;

/*
 * Emit an event if a trace is open: `RT_TRACE(rt__trace_poll(t->trace_id));`.
 * Off, this is one load and one branch the CPU predicts right every time;
 * the call itself is out of line (the sink's functions are marked cold).
 */
#define RT_TRACE(call)                                                                      \
    do {                                                                                    \
        if (__builtin_expect(atomic_load_explicit(&rt__trace_on, memory_order_relaxed), 0)) \
            call;                                                                           \
    } while (0)

#define RT__TRACE_COLD __attribute__((cold))

/*
 * Read RT_TRACE once per process (rt_executor_create calls this): "1" opens
 * a text trace on stderr, a value ending in ".json" a JSON trace in that
 * file; unset, "" or "0" leaves tracing off. A file that cannot be opened is
 * reported on stderr and the program runs on untraced. A trace already open
 * (rt__trace_open) is left as it is.
 */
void rt__trace_init(void);

/*
 * Open a trace: text to `path`, or to stderr if `path` is NULL; JSON to
 * `path` if `json`. Returns 0 or -errno. The trace's clock and its numbering
 * of executors, tasks and requests start again at zero and one. Tests use
 * this directly; a JSON trace is closed (its array ended) at exit.
 */
int rt__trace_open(const char *path, bool json);

/* Finish the trace (end the JSON array) and close its file. Safe to call twice. */
void rt__trace_close(void);

/* ---------------------------------------------------- executors (phase 1) */

/* A new executor; returns its number. `cpu`: the CPU its builder pins it to, or < 0. */
RT__TRACE_COLD unsigned rt__trace_executor_new(int cpu);
/* rt_executor_run() starts and returns; events between them are this executor's. */
RT__TRACE_COLD void rt__trace_run(unsigned ex);
RT__TRACE_COLD void rt__trace_run_end(unsigned ex, long output);
/* rt_executor_destroy() starts (it cancels every task left) and ends. */
RT__TRACE_COLD void rt__trace_destroy(unsigned ex);
RT__TRACE_COLD void rt__trace_destroy_end(unsigned ex);

/* -------------------------------------------------------- tasks (phase 1) */

/* A task was made from a `size`-byte future; returns its number (by whoever runs now). */
RT__TRACE_COLD unsigned long rt__trace_spawn(size_t size);
/* A poll of the task begins; until rt__trace_poll_end() the task is who wakes, spawns, cancels. */
RT__TRACE_COLD void rt__trace_poll(unsigned long task);
/* The poll returned: RT_READY (`ready`, with its output) or RT_PENDING. */
RT__TRACE_COLD void rt__trace_polled(unsigned long task, bool ready, long output);
/* The task's turn is over, including what finishing it did (waking the task that awaits it). */
RT__TRACE_COLD void rt__trace_poll_end(unsigned long task);
/*
 * The task's waker was woken by whoever runs now. `note` is NULL when this
 * wake queued the task, else why it did nothing ("already queued").
 */
RT__TRACE_COLD void rt__trace_wake(unsigned long task, const char *note);
/* The task was cancelled; `running`: in its own poll, so its future is dropped when that returns.
 */
RT__TRACE_COLD void rt__trace_cancel(unsigned long task, bool running);
/* The task's memory was freed; `note` says why if it is not the usual (NULL). */
RT__TRACE_COLD void rt__trace_free(unsigned long task, const char *note);

/* ---------------------------------------------------- requests (phase 2) */

/* A request was queued for the kernel; returns its number. `fmt`: what it is ("RECV fd 5, 4096
 * bytes"). */
RT__TRACE_COLD unsigned long rt__trace_queue(const char *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* io_uring_submit() was called with `ready` requests in the ring: it took `ret`, or failed
 * (-errno). */
RT__TRACE_COLD void rt__trace_submit(unsigned ready, int ret);
/* A cancel of the request went into the ring: its future was dropped while the kernel had it. */
RT__TRACE_COLD void rt__trace_cancel_sent(unsigned long req, const char *op);
/*
 * A completion arrived: the request's own (`cancel` false) with its result,
 * or the result of its cancel. Until rt__trace_done_end(), a wake is "by"
 * this request: that is how a trace tells a completion's wake from a task's.
 */
RT__TRACE_COLD void rt__trace_done(unsigned long req, const char *op, bool cancel, int res);
RT__TRACE_COLD void rt__trace_done_end(void);
/* An orphan's memory was freed: the kernel has sent every completion that names it. */
RT__TRACE_COLD void rt__trace_orphan_free(unsigned long req, const char *op);
/* A request's future was dropped before the request reached the kernel: it just goes. */
RT__TRACE_COLD void rt__trace_unsent(unsigned long req, const char *op);

/* -------------------------------------------------- scheduling (phase 3) */

/* The thread parks: it sleeps in the kernel until a completion, a notification, or `timeout_ns`
 * (UINT64_MAX: no deadline). */
RT__TRACE_COLD void rt__trace_park(uint64_t timeout_ns);
/* It woke up. */
RT__TRACE_COLD void rt__trace_unpark(void);
/*
 * rt_executor_notify() on executor `ex`, from any thread: `how` says what it
 * cost ("it sleeps: the doorbell is rung", "it is awake: no system call",
 * "merged with one not yet taken").
 */
RT__TRACE_COLD void rt__trace_notify(unsigned ex, const char *how);
/* Executor `ex` has a task queue `queue` ("name"): its default one, or one the program made. */
RT__TRACE_COLD void rt__trace_task_queue(unsigned ex, int queue, const char *name, unsigned shares,
                                         uint64_t latency_ns);
/* A slice of task queue `queue` ("name") begins on this thread's executor. */
RT__TRACE_COLD void rt__trace_slice(int queue, const char *name);
/* It ended, having taken `ran_ns`; the queue's virtual runtime is now `vruntime`. */
RT__TRACE_COLD void rt__trace_slice_end(int queue, const char *name, uint64_t ran_ns,
                                        uint64_t vruntime);
/* Whoever runs started a sleep of `ns` in the executor's timer heap; returns the timer's number. */
RT__TRACE_COLD unsigned long rt__trace_timer(uint64_t ns);
/*
 * The timer's deadline passed `late_ns` ago and the executor fires it: until
 * rt__trace_timer_fired_end(), a wake is "by timer N".
 */
RT__TRACE_COLD void rt__trace_timer_fired(unsigned long timer, uint64_t late_ns);
RT__TRACE_COLD void rt__trace_timer_fired_end(void);
/* The timer's sleep was dropped before its deadline: out of the heap, no system call. */
RT__TRACE_COLD void rt__trace_timer_cancel(unsigned long timer);

/* ------------------------------------------------------ channels (phase 4) */

/* A channel was made; returns its number. */
RT__TRACE_COLD unsigned long rt__trace_channel_new(size_t capacity, size_t msg_size);
/*
 * Message number `seq` of channel `ch` was put in (by whoever runs now) or
 * taken out. In JSON the two are one arrow, from the sender's slice on one
 * core to the receiver's on another.
 */
RT__TRACE_COLD void rt__trace_msg_send(unsigned long ch, uint64_t seq);
RT__TRACE_COLD void rt__trace_msg_recv(unsigned long ch, uint64_t seq);
/* An end of channel `ch` was closed: `end` is "sending" or "receiving". */
RT__TRACE_COLD void rt__trace_channel_close(unsigned long ch, const char *end);

#endif /* COMMON_TRACE_H */
