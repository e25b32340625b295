/*
 * preempt.c - the slice timer on a ring of its own. New in phase 3. The
 * idea is in preempt.h.
 */
#include "preempt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/fatal.h"

/* The user_data of the slice's TIMEOUT, so an update can name it. */
#define SLICE_TIMER 1

int rt__preempt_init(struct preempt *p, bool defer, char *why, size_t why_len)
{
    struct io_uring_params params;
    int err;

    memset(p, 0, sizeof(*p));
    memset(&params, 0, sizeof(params));
    if (defer) /* the main ring's flags, which this kernel took (see preempt.h) */
        params.flags =
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    err = io_uring_queue_init_params(2, &p->ring, &params);
    if (err < 0) {
        snprintf(why, why_len, "the preemption timer's io_uring could not be made: %s",
                 strerror(-err));
        return err;
    }
    /*
     * Moving the timer earlier is a TIMEOUT_REMOVE with IORING_TIMEOUT_UPDATE,
     * whose own CQE would look like the timer firing; IOSQE_CQE_SKIP_SUCCESS
     * (IORING_FEAT_CQE_SKIP, Linux 5.17) tells the kernel not to post one.
     * Older kernels just keep the timer where it is.
     */
    p->can_update = (params.features & IORING_FEAT_CQE_SKIP) != 0;
    return 0;
}

void rt__preempt_destroy(struct preempt *p)
{
    /* Exiting the ring cancels the timer; it owns no memory of ours (the kernel copied `when`). */
    io_uring_queue_exit(&p->ring);
}

void rt__preempt_consume(struct preempt *p)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int ret;

    /* DEFER: the expiry is queued work until we ask for it; then the CQE is there. */
    if (IO_URING_READ_ONCE(*p->ring.sq.kflags) & IORING_SQ_TASKRUN) {
        ret = io_uring_get_events(&p->ring);
        if (ret < 0 && ret != -EINTR)
            rt__die("the preemption timer's io_uring_get_events failed: %s", strerror(-ret));
    }
    io_uring_for_each_cqe(&p->ring, head, cqe)
    {
        /* The timer's own CQE; an update that failed (the timer had fired) has user_data 0. */
        if (cqe->user_data == SLICE_TIMER)
            p->armed = false;
        seen++;
    }
    io_uring_cq_advance(&p->ring, seen);
}

static void submit(struct preempt *p)
{
    int ret;

    do
        ret = io_uring_submit(&p->ring);
    while (ret == -EINTR || ret == -EAGAIN);
    if (ret < 0)
        rt__die("the preemption timer's io_uring_submit failed: %s", strerror(-ret));
    p->arms++;
}

void rt__preempt_arm(struct preempt *p, uint64_t deadline)
{
    struct io_uring_sqe *sqe;

    rt__preempt_consume(p);
    if (p->armed && (deadline >= p->deadline || !p->can_update))
        return; /* it will fire in time: the common case, and free */
    p->when.tv_sec = (long long)(deadline / 1000000000u);
    p->when.tv_nsec = (long long)(deadline % 1000000000u);
    sqe = io_uring_get_sqe(&p->ring);
    ASSERT(sqe); /* two entries: at most one TIMEOUT and one update are ever in the ring */
    if (p->armed) {
        io_uring_prep_timeout_update(sqe, &p->when, SLICE_TIMER, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
        io_uring_sqe_set_data64(sqe, 0);
    } else {
        /* An absolute deadline on CLOCK_MONOTONIC, the clock now_ns() reads. */
        io_uring_prep_timeout(sqe, &p->when, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, SLICE_TIMER);
    }
    submit(p);
    p->armed = true;
    p->deadline = deadline;
}
