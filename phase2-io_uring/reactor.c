/*
 * reactor.c - the reactor: submitting requests to io_uring in batches,
 * reaping their completions, and keeping every source alive until the
 * kernel is done with it. New in phase 2.
 *
 * The life of a request, as this file sees it:
 *
 *   1. A future polls for the first time: rt__source_submit() puts its
 *      source on the waiting list. Nothing reaches the kernel yet.
 *   2. The executor's loop calls rt__reactor_poll(): submit_waiting() copies
 *      every waiting SQE into the ring and hands them all to the kernel with
 *      one io_uring_submit(): that is the batching.
 *   3. reap_completions() reads the CQEs the kernel has written, stores each
 *      result in its source (user_data points at it), and wakes the task.
 *   4. The task polls its future again, which takes the result and frees
 *      the source.
 *
 * If the future is dropped instead (step 4 never comes), rt__source_abandon()
 * decides who frees the source; see reactor.h for why. Either way, a result
 * nobody takes is released by source_release(), the one place that does.
 */
#include "reactor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/alloc.h"
#include "common/fatal.h"
#include "common/trace.h"

/*
 * A cancel's user_data is its source's address with the lowest bit set, so
 * that its CQE can be told from the CQE of the request it cancels. malloc'd
 * memory is aligned to at least 16 bytes, so that bit is free.
 */
#define CANCEL_TAG ((uint64_t)1)

/* ------------------------------------------------------------- the ring */

/* The name of a source's operation, as RT_TRACE shows it (from rt__io_ops[], in io.c). */
static const char *op_name(const struct rt_source *s)
{
    const char *name = rt__io_ops[s->sqe.opcode].name;

    return name ? name : "?";
}

/*
 * Ask the kernel whether it has every operation this runtime uses (the named
 * entries of rt__io_ops[], in io.c), rather than find out at the first request.
 */
static int check_ops(struct io_uring *ring, char *why, size_t why_len)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    int op;

    if (!probe) {
        snprintf(why, why_len,
                 "the kernel would not say which io_uring operations it supports "
                 "(io_uring_register was refused: Linux older than 5.6, or a seccomp profile); "
                 "this runtime needs Linux 5.6 or later");
        return -EOPNOTSUPP;
    }
    for (op = 0; op < IORING_OP_LAST; op++) {
        if (rt__io_ops[op].name && !io_uring_opcode_supported(probe, op)) {
            snprintf(why, why_len,
                     "this kernel's io_uring lacks IORING_OP_%s, which this runtime needs; "
                     "fix: Linux 5.6 or later",
                     rt__io_ops[op].name);
            io_uring_free_probe(probe);
            return -EOPNOTSUPP;
        }
    }
    io_uring_free_probe(probe);
    return 0;
}

int rt__io_uring_disabled(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int value = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%d", &value) != 1)
        value = 0;
    fclose(f);
    return value;
}

void rt__explain_ring_error(int err, int disabled, unsigned entries, char *buf, size_t len)
{
    struct rlimit memlock;

    switch (err) {
    case -EPERM:
    case -EACCES:
        if (disabled == 2)
            snprintf(buf, len,
                     "io_uring is switched off on this machine (sysctl kernel.io_uring_disabled "
                     "= 2); fix, as root: sysctl -w kernel.io_uring_disabled=0");
        else if (disabled == 1)
            snprintf(buf, len,
                     "io_uring is only for the group in sysctl kernel.io_uring_group "
                     "(kernel.io_uring_disabled = 1) and this process is not in it; fix: run it "
                     "in that group, or as root: sysctl -w kernel.io_uring_disabled=0");
        else
            snprintf(buf, len,
                     "io_uring_setup was refused (%s) although sysctl kernel.io_uring_disabled "
                     "allows it: a seccomp profile blocks it, as Docker's default profile does; "
                     "fix: run the container with --security-opt seccomp=unconfined, or with a "
                     "profile that allows io_uring_setup, io_uring_enter and io_uring_register",
                     strerror(-err));
        break;
    case -ENOSYS:
        snprintf(buf, len,
                 "this kernel has no io_uring system calls (Linux 5.6 or later built with "
                 "CONFIG_IO_URING is needed), or a seccomp profile hides them; fix: a newer "
                 "kernel, or a profile that allows io_uring_setup, io_uring_enter and "
                 "io_uring_register");
        break;
    case -ENOMEM:
        getrlimit(RLIMIT_MEMLOCK, &memlock);
        snprintf(buf, len,
                 "the kernel could not allocate a ring of %u entries; kernels before 5.12, "
                 "and recent ones again for a user without CAP_IPC_LOCK, count rings against "
                 "RLIMIT_MEMLOCK, which is %llu KiB here; fix: raise it "
                 "(ulimit -l, or LimitMEMLOCK= for a systemd service) or ask for a smaller ring "
                 "(struct rt_builder's ring_entries)",
                 entries, (unsigned long long)memlock.rlim_cur / 1024);
        break;
    case -EINVAL:
        snprintf(buf, len,
                 "a ring of %u entries was refused: the kernel takes 1 to 32768; fix: choose "
                 "ring_entries in that range",
                 entries);
        break;
    case -EMFILE:
    case -ENFILE:
        snprintf(buf, len,
                 "no file descriptor left for the ring (%s); fix: close some, or raise the "
                 "limit (ulimit -n)",
                 strerror(-err));
        break;
    default:
        snprintf(buf, len, "io_uring_setup failed: %s", strerror(-err));
        break;
    }
}

int rt__reactor_init(struct reactor *r, unsigned entries, char *why, size_t why_len)
{
    struct io_uring_params params;
    int err;

    memset(&params, 0, sizeof(params));
    err = io_uring_queue_init_params(entries, &r->ring, &params);
    if (err < 0) {
        rt__explain_ring_error(err, rt__io_uring_disabled(), entries, why, why_len);
        return err;
    }
    /*
     * Without NODROP (Linux 5.5) the kernel throws away completions that find
     * the CQ full, and a task would wait forever for one. We rely on it.
     */
    if (!(params.features & IORING_FEAT_NODROP)) {
        snprintf(why, why_len,
                 "this kernel's io_uring may drop completions (no "
                 "IORING_FEAT_NODROP); fix: Linux 5.6 or later");
        err = -EOPNOTSUPP;
    } else {
        err = check_ops(&r->ring, why, why_len);
    }
    if (err < 0) {
        io_uring_queue_exit(&r->ring);
        return err;
    }
    list_init(&r->waiting);
    r->in_flight = 0;
    memset(&r->stats, 0, sizeof(r->stats));
    return 0;
}

/* ------------------------------------------------------------- submitting */

/*
 * Hand the kernel every SQE in the ring, with one system call. Returns how
 * many it took. When it takes none, the SQEs stay in the ring and go with
 * the next call: nothing is ever dropped.
 */
static unsigned flush(struct reactor *r)
{
    unsigned ready = io_uring_sq_ready(&r->ring);
    int ret;

    if (ready == 0)
        return 0;
    ret = io_uring_submit(&r->ring);
    RT_TRACE(rt__trace_submit(ready, ret));
    r->stats.submit_calls++;
    if (ret >= 0) {
        r->stats.submitted += (unsigned)ret;
        return (unsigned)ret;
    }
    /*
     * -EBUSY: kernels before 5.19 take no new work while they hold
     * completions the CQ had no room for; reaping makes room. -EAGAIN: the
     * kernel is short of memory for a moment. -EINTR: a signal came in.
     * Each is over by the next turn, so we simply try again then.
     */
    if (ret == -EBUSY || ret == -EAGAIN || ret == -EINTR)
        return 0;
    rt__die("io_uring_submit: %s", strerror(-ret));
}

/* Fill one SQE from a waiting source: its own request, or a cancel of it. */
static void fill_sqe(struct io_uring_sqe *sqe, struct rt_source *s)
{
    if (s->orphaned) {
        /* Its request is in flight and its future is gone: ask the kernel to stop it. */
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)s, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | CANCEL_TAG);
        RT_TRACE(rt__trace_cancel_sent(s->trace_id, op_name(s)));
    } else {
        *sqe = s->sqe;
        io_uring_sqe_set_data(sqe, s); /* the CQE leads back to this source */
        s->state = SOURCE_IN_FLIGHT;
    }
    s->cqes_owed++;
}

/*
 * Copy the waiting requests into the ring, oldest first, and submit them.
 * When the submission queue fills up before the list is empty, submit what
 * it holds (the kernel then empties it) and go on filling it.
 */
static void submit_waiting(struct reactor *r)
{
    struct list_node *node;

    while ((node = list_first(&r->waiting))) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

        if (!sqe) {
            r->stats.sq_full++;
            if (flush(r) == 0)
                return; /* the kernel took nothing this time; the rest wait for the next turn */
            continue;
        }
        list_remove(node);
        fill_sqe(sqe, container_of(node, struct rt_source, link));
        r->in_flight++;
    }
    flush(r);
}

/* ------------------------------------------------------------- completing */

/*
 * How often a request the kernel cancelled on its own is sent again before
 * its future is told -EINTR instead. Each time, the kernel has already tried
 * four times to start the worker thread the request needs (see resubmit());
 * a cause that outlasts 16 rounds of that is not passing.
 */
#define RESUBMIT_LIMIT 16

/*
 * Send again a request that ended with -ECANCELED although this runtime never
 * cancelled it (only orphans get a cancel). The kernel does that when the
 * request needs an io-wq worker thread and none can be made: Linux 6.11 to
 * 6.18 give up after four failed attempts and cancel the work waiting for it
 * (io_uring/io-wq.c, create_worker_cont()), and an attempt fails whenever a
 * signal is pending on this thread, as it often is under a fast timer.
 * Nothing was done, so nothing is lost by doing it again on the next turn.
 * Returns false once the request has had its share of attempts.
 */
static bool resubmit(struct reactor *r, struct rt_source *s)
{
    if (s->resubmits == RESUBMIT_LIMIT)
        return false;
    s->resubmits++;
    r->stats.resubmitted++;
    s->state = SOURCE_WAITING;
    list_push_back(&r->waiting, &s->link);
    return true;
}

/*
 * Free a source whose future is gone, first releasing what its request made
 * (the fd of an accept or an open) by its operation's rule (rt__io_ops[] in
 * io.c): nobody else will ever see `res`. A request that never reached the
 * kernel counts as cancelled.
 */
static void source_release(struct rt_source *s)
{
    const struct io_op *op = &rt__io_ops[s->sqe.opcode];

    if (op->release) {
        op->release(&s->sqe, s->res);
        if (s->reactor)
            s->reactor->stats.released++;
    }
    rt__source_free(s);
}

static void complete(struct reactor *r, uint64_t user_data, int res)
{
    struct rt_source *s = (struct rt_source *)(uintptr_t)(user_data & ~CANCEL_TAG);

    /* From here to rt__trace_done_end(), a wake in the trace reads "by" this request. */
    RT_TRACE(rt__trace_done(s->trace_id, op_name(s), user_data & CANCEL_TAG, res));
    r->in_flight--;
    s->cqes_owed--;
    if (!(user_data & CANCEL_TAG)) {
        /* The request's own completion. (A cancel's result only says whether it found it.) */
        if (res == -ECANCELED && !s->orphaned) {
            if (resubmit(r, s))
                return;
            res = -EINTR; /* still not done: the caller may try again, as after a signal */
        }
        s->res = res;
        s->state = SOURCE_DONE;
        if (!s->orphaned) {
            rt_waker_wake(&s->waker);
            RT_TRACE(rt__trace_done_end());
            return;
        }
    }
    /*
     * An orphan is freed when the kernel has sent every CQE that names it. If
     * its cancel had not reached the ring yet, it never will: unlink it too.
     */
    if (s->orphaned && s->state == SOURCE_DONE && s->cqes_owed == 0) {
        RT_TRACE(rt__trace_orphan_free(s->trace_id, op_name(s)));
        list_remove(&s->link);
        source_release(s);
    }
    RT_TRACE(rt__trace_done_end());
}

/*
 * Complete every CQE the kernel has written. With more requests in flight
 * than the CQ has slots, the kernel keeps the completions that do not fit
 * (that is IORING_FEAT_NODROP) and flags the overflow; once we have made
 * room, we ask it to copy them in, and reap again.
 */
static void reap_completions(struct reactor *r)
{
    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;

        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            complete(r, io_uring_cqe_get_data64(cqe), cqe->res);
            seen++;
        }
        io_uring_cq_advance(&r->ring, seen);
        r->stats.completed += seen;

        if (!io_uring_cq_has_overflow(&r->ring))
            return;
        r->stats.cq_overflow++;
        io_uring_get_events(&r->ring);
    }
}

void rt__reactor_poll(struct reactor *r)
{
    /* Submit first: a request that completes at once (a read from the page cache) is reaped now. */
    submit_waiting(r);
    reap_completions(r);
}

bool rt__reactor_idle(const struct reactor *r)
{
    return r->in_flight == 0 && list_empty(&r->waiting);
}

void rt__reactor_destroy(struct reactor *r)
{
    /*
     * Cancelled requests still own memory the kernel may write into. Wait
     * for every completion before freeing anything; the thread has nothing
     * else to do, so it sleeps in the kernel until one arrives.
     */
    while (!rt__reactor_idle(r)) {
        submit_waiting(r);
        if (r->in_flight > 0 && io_uring_cq_ready(&r->ring) == 0)
            io_uring_submit_and_wait(&r->ring, 1);
        reap_completions(r);
    }
    io_uring_queue_exit(&r->ring);
}

/* ----------------------------------------------------------------- sources */

struct rt_source *rt__source_new(size_t len)
{
    struct rt_source *s;

    /* io.c asks for at most RT_IO_MAX bytes, a path or an address: never near the limit. */
    ASSERT(len <= SIZE_MAX - sizeof(*s));
    s = rt__malloc(sizeof(*s) + len);
    list_init(&s->link);
    s->reactor = NULL;
    s->state = SOURCE_NEW;
    s->orphaned = false;
    s->cqes_owed = 0;
    s->resubmits = 0;
    s->res = 0;
    s->waker = (struct rt_waker){0};
    s->trace_id = 0;
    memset(&s->sqe, 0, sizeof(s->sqe));
    return s;
}

/* The trace's "queue" line: the operation, and what it works on. */
static unsigned long trace_queue(const struct rt_source *s)
{
    const struct io_uring_sqe *sqe = &s->sqe;
    const struct __kernel_timespec *ts;

    switch (sqe->opcode) {
    case IORING_OP_TIMEOUT:
        ts = (const struct __kernel_timespec *)(uintptr_t)sqe->addr;
        return rt__trace_queue(op_name(s), "%.3f ms",
                               (double)ts->tv_sec * 1e3 + (double)ts->tv_nsec / 1e6);
    case IORING_OP_OPENAT:
        return rt__trace_queue(op_name(s), "%s", (const char *)(uintptr_t)sqe->addr);
    case IORING_OP_READ:
    case IORING_OP_WRITE:
    case IORING_OP_RECV:
    case IORING_OP_SEND:
        return rt__trace_queue(op_name(s), "fd %d, %u bytes", sqe->fd, sqe->len);
    case IORING_OP_NOP:
        return rt__trace_queue(op_name(s), "%s", "");
    default:
        return rt__trace_queue(op_name(s), "fd %d", sqe->fd);
    }
}

void rt__source_submit(struct reactor *r, struct rt_source *s)
{
    ASSERT(s->state == SOURCE_NEW);
    s->reactor = r;
    s->state = SOURCE_WAITING;
    list_push_back(&r->waiting, &s->link);
    RT_TRACE(s->trace_id = trace_queue(s));
}

void rt__source_free(struct rt_source *s)
{
    ASSERT(s->state == SOURCE_DONE || s->state == SOURCE_NEW);
    rt_waker_drop(&s->waker);
    rt__free(s);
}

void rt__source_abandon(struct rt_source *s)
{
    switch (s->state) {
    case SOURCE_NEW:
    case SOURCE_WAITING:
        RT_TRACE(rt__trace_unsent(s->trace_id, op_name(s)));
        list_remove(&s->link); /* the kernel never saw it (or is to see it again) */
        s->res = -ECANCELED;
        s->state = SOURCE_DONE;
        break;
    case SOURCE_IN_FLIGHT:
        /*
         * The kernel may write into s->data at any moment: the source must
         * outlive the request. Orphan it, and ask the kernel to cancel the
         * request; complete() frees the source when its CQE arrives.
         *
         * The cancel is submitted now, not at the end of the turn. The kernel
         * handles it inside io_uring_submit(), so once a task is cancelled its
         * recv can no longer take bytes the program sends after that point.
         */
        rt_waker_drop(&s->waker);
        s->orphaned = true;
        list_push_back(&s->reactor->waiting, &s->link);
        submit_waiting(s->reactor);
        return;
    case SOURCE_DONE:
        break; /* finished, but its future never took the result */
    }
    source_release(s);
}
