/*
 * timer.h - deadlines: run a future with a time limit. New in phase 2.
 *
 * Phase 3: a sleep is no longer a request to the kernel. rt_sleep() puts a
 * deadline in its executor's heap (timers.h), which costs no system call to
 * cancel, and none to add unless the deadline comes before the end of the
 * running slice while other tasks of its queue are ready: then the slice
 * timer is moved earlier, one system call (section 3.5 of the book). Phase
 * 2's kernel timer, rt_io_sleep() in io.h, is still there (the benchmarks
 * compare the two).
 *
 * A plain sleep is rt_sleep(), below. rt_timeout() races
 * another future against a sleep. If the sleep wins, the other future is
 * dropped, and dropping an I/O future cancels its request: a timed-out recv
 * is cancelled in the kernel, its memory kept until the kernel lets go (see
 * io.h). Dropping is not always cancelling, though: a dropped join handle
 * detaches its task, which runs on, and a timeout around a handle has
 * already dropped it when it reports -ETIMEDOUT, so rt_join_cancel() on it
 * then does nothing. To stop a task when time is up, keep its handle out of
 * the timeout: await the handle itself, and give the deadline to a second
 * task, a watchdog that sleeps and then calls rt_join_cancel() on the handle
 * (the await then finishes with `cancelled` set). Cancel the watchdog once
 * the await returns, and in your drop function, before the handle it points
 * at goes away.
 *
 * Durations are nanoseconds, at most RT_DURATION_MAX (io.h); a longer one
 * is a mistake, and the future finishes with -EINVAL instead of sleeping
 * forever.
 */
#ifndef RT_TIMER_H
#define RT_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* One deadline in an executor's heap (phase 3). Private: it lives inside struct rt_sleep. */
struct rt_timer {
    uint64_t deadline;      /* CLOCK_MONOTONIC nanoseconds (common/clock.h's now_ns()) */
    uint64_t seq;           /* order of insertion: breaks ties between equal deadlines */
    size_t index;           /* where it sits in the heap's array, or RT_TIMER_NOT_IN_HEAP */
    struct rt_waker waker;  /* the task to wake when the deadline passes */
    unsigned long trace_id; /* its number in an RT_TRACE trace; 0 when not traced */
};

#define RT_TIMER_NOT_IN_HEAP ((size_t)-1)

/*
 * Output: 0 once `ns` nanoseconds have passed since the first poll, or
 * -EINVAL (see above). A sleep whose deadline is still in the heap (polled,
 * and neither finished nor dropped) must not be made into a sleep again, and
 * a finished one must not be polled again: each stops the program with a
 * message (the first at once when it is done on the executor's thread during
 * a run; else when its stale deadline reaches the top of the heap, which is
 * no later than the time it was set for, if the executor runs then).
 */
struct rt_sleep {
    struct rt_future future; /* await this */
    uint64_t ns;             /* private: how long, counted from the first poll */
    bool started;            /* private: the deadline was put in the heap */
    bool finished;           /* private: its poll returned RT_READY */
    struct rt_executor *ex;  /* private: whose heap, once started */
    struct rt_timer timer;   /* private */
};
void rt_sleep(struct rt_sleep *s, uint64_t ns);

/*
 * Output: the inner future's output, or -ETIMEDOUT if `ns` nanoseconds pass
 * first (counted from the first poll), or -EINVAL for a duration over
 * RT_DURATION_MAX, refused at the first poll before `inner` is polled, so
 * that it starts nothing. An inner future that can itself end with
 * -ETIMEDOUT is indistinguishable from a timeout. The timeout owns `inner`
 * from now on: it drops it when it finishes, when it times out, or when it
 * is dropped itself, so the caller must not. `inner` must not move while
 * the timeout is alive (keep both in the same struct). Like an rt_io
 * (io.h), `t` must be zero-filled, finished or dropped when it is made into
 * a timeout; one still racing its future stops the program with a message.
 */
struct rt_timeout {
    struct rt_future future; /* await this */
    struct rt_future *inner; /* private: the future under a deadline, until it is dropped */
    uint64_t ns;             /* private: the duration, checked at the first poll */
    struct rt_sleep timer;   /* private: the deadline */
};
void rt_timeout(struct rt_timeout *t, struct rt_future *inner, uint64_t ns);

#endif /* RT_TIMER_H */
