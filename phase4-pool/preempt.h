/*
 * preempt.h - the end of a time slice, visible without a system call
 * (internal). New in phase 3.
 *
 * A task asks rt_need_preempt() often, perhaps every few microseconds, so
 * the answer must cost almost nothing: reading the clock would do, but is
 * tens of nanoseconds through the vDSO. Glommio's trick, used here: keep a
 * second, tiny io_uring whose only request is a TIMEOUT for the end of the
 * slice. When the timer expires, the kernel writes a CQE into that ring's
 * completion queue, which is memory we share with it; "is the slice over?"
 * becomes "is that queue's tail ahead of its head?", two loads.
 *
 * The timer expires in an interrupt, and the kernel finishes the request as
 * task work on our thread. How that work reaches the thread is the ring's
 * mode (reactor.c). When the executor's main ring is DEFER, this one is
 * too, with TASKRUN_FLAG: the kernel then sets IORING_SQ_TASKRUN in the
 * shared ring the moment the work is queued, and does nothing else; "is
 * the slice over?" reads that flag too, and the CQE is written when the
 * next slice starts (rt__preempt_consume()). Otherwise (an executor that
 * may move between threads: DEFER rings serve only the thread that made
 * them) the ring is plain, and the kernel interrupts the thread to run the
 * work at once, even in the middle of a task. A plain ring also wakes a
 * thread that sleeps, so an executor that parks before its slice's timer
 * expires is woken for nothing; a DEFER ring leaves it asleep (BOOK
 * section 3.6).
 */
#ifndef RT_PREEMPT_H
#define RT_PREEMPT_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct preempt {
    struct io_uring ring;          /* two entries: the TIMEOUT, and at times an update of it */
    struct __kernel_timespec when; /* the armed deadline, as the kernel reads it at submit */
    bool armed;                    /* a TIMEOUT is in the ring and has not fired */
    uint64_t deadline;             /* when it fires (CLOCK_MONOTONIC ns), while armed */
    bool can_update;               /* the kernel moves an armed timer in place (Linux 5.17) */
    unsigned long arms;            /* system calls made to arm or move the timer (tests) */
};

/* Make the ring, DEFER if `defer`. Returns 0, or -errno with a sentence in `why`. */
int rt__preempt_init(struct preempt *p, bool defer, char *why, size_t why_len);
void rt__preempt_destroy(struct preempt *p);

/*
 * Has the slice ended? The CQE is there, or the work that writes it is
 * queued: loads from one line of shared memory.
 */
static inline bool rt__preempt_fired(const struct preempt *p)
{
    return io_uring_cq_ready(&p->ring) != 0 ||
           (IO_URING_READ_ONCE(*p->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

/*
 * Make sure the timer fires no later than `deadline`: arm it if it is not
 * armed, move it earlier if it is armed for later, leave it otherwise
 * (which costs nothing). A fired timer is consumed first.
 */
void rt__preempt_arm(struct preempt *p, uint64_t deadline);

/* If the timer fired, take its completion out of the ring so that the next slice starts clean. */
void rt__preempt_consume(struct preempt *p);

#endif /* RT_PREEMPT_H */
