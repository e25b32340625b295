/*
 * reactor.c - the reactor: submitting requests to io_uring in batches,
 * reaping their completions, and keeping every source alive until the
 * kernel is done with it. New in phase 2.
 *
 * Phase 3: the ring is made in a mode where completions wait for the thread
 * to enter the kernel instead of interrupting it (ring_setup), reaping
 * enters the kernel only when the kernel says completions are waiting
 * (kernel_has_work), and rt__reactor_park() sleeps until a completion or a
 * deadline.
 *
 * Phase 4: sources take their blocks from per-core memory (rt__source_new,
 * source_give_back), and freeing an owned read's source releases the buffer
 * nobody took.
 *
 * The life of a request, as this file sees it:
 *
 *   1. A future polls for the first time: rt__source_submit() puts its
 *      source on the waiting list. Nothing reaches the kernel yet.
 *   2. The executor's loop calls rt__reactor_poll(): submit_waiting() copies
 *      every waiting SQE into the ring and hands them all to the kernel with
 *      one io_uring_submit(): that is the batching. (With nothing to run, it
 *      calls rt__reactor_park() instead, whose one system call submits the
 *      batch and sleeps: io_uring_submit_and_wait_timeout().)
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
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fatal.h"
#include "common/trace.h"
#include "executor.h"
#include "io.h"
#include "percore.h"

/*
 * A cancel's user_data is its source's address with the lowest bit set, so
 * that its CQE can be told from the CQE of the request it cancels. malloc'd
 * memory is aligned to at least 16 bytes, so that bit is free.
 */
#define CANCEL_TAG ((uint64_t)1)

/*
 * The doorbell's read (phase 3) is not a source: its user_data is this
 * small number, and its cancel's at teardown the next one.
 */
#define DOORBELL_TAG        ((uint64_t)2)
#define DOORBELL_CANCEL_TAG ((uint64_t)3)

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

/*
 * How a completion reaches the thread. A socket request completes in the
 * network stack (softirq), which cannot touch our completion queue; it
 * queues "task work" that must run on the thread that owns the ring, and
 * only then is the CQE written. How the kernel gets the thread to run it is
 * the ring's mode:
 *
 *   PLAIN  (every kernel): interrupt the thread wherever it is, like a
 *          signal, even in the middle of a task. Each interruption is a trip
 *          into the kernel the thread did not ask for.
 *   COOP   (IORING_SETUP_COOP_TASKRUN, Linux 5.19): no interruption; the
 *          work runs the next time the thread enters the kernel anyway.
 *   DEFER  (IORING_SETUP_DEFER_TASKRUN + SINGLE_ISSUER, Linux 6.1): the work
 *          waits until the thread enters the kernel *asking for
 *          completions* (submit-and-get-events, or a wait), and runs then, in
 *          a batch.
 *
 * With COOP and DEFER we also ask for IORING_SETUP_TASKRUN_FLAG: the kernel
 * sets IORING_SQ_TASKRUN in the shared ring while work waits, so a thread
 * busy with tasks can see, without a system call, that it should enter.
 * An executor that parks enters the kernel whenever it has nothing to do, so
 * the cheaper modes suit it; the benchmark in bench/echo.c compares them.
 */
static const struct {
    int mode;
    const char *name;
    unsigned flags;
} ring_modes[] = {
    {RT_RING_DEFER, "defer",
     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG},
    {RT_RING_COOP, "coop", IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG},
    {RT_RING_PLAIN, "plain", 0},
};
#define N_RING_MODES (sizeof(ring_modes) / sizeof(ring_modes[0]))

const char *rt__ring_mode_name(int mode)
{
    size_t i;

    for (i = 0; i < N_RING_MODES; i++)
        if (ring_modes[i].mode == mode)
            return ring_modes[i].name;
    return "auto";
}

/*
 * Make the ring in `mode`, or, for RT_RING_AUTO, in the first mode of
 * ring_modes[] the kernel accepts: an older kernel answers -EINVAL to flags
 * it does not know, and we try the next. Returns the mode made, or -errno.
 */
static int ring_setup(struct reactor *r, unsigned entries, int mode, struct io_uring_params *params)
{
    int err = -EINVAL;
    size_t i;

    for (i = 0; i < N_RING_MODES; i++) {
        if (mode != RT_RING_AUTO && mode != ring_modes[i].mode)
            continue;
        memset(params, 0, sizeof(*params));
        params->flags = ring_modes[i].flags;
        err = io_uring_queue_init_params(entries, &r->ring, params);
        if (err == 0)
            return ring_modes[i].mode;
        if (err != -EINVAL || mode != RT_RING_AUTO)
            break;
    }
    return err;
}

int rt__reactor_init(struct reactor *r, unsigned entries, int mode, char *why, size_t why_len)
{
    struct io_uring_params params;
    int err;

    err = ring_setup(r, entries, mode, &params);
    if (err == -EINVAL && mode != RT_RING_AUTO && entries >= 1 && entries <= 32768) {
        snprintf(why, why_len,
                 "this kernel refused an io_uring in mode \"%s\" (COOP needs Linux 5.19, DEFER "
                 "6.1); fix: ring_mode = RT_RING_AUTO takes the best mode the kernel has",
                 rt__ring_mode_name(mode));
        return err;
    }
    if (err < 0) {
        rt__explain_ring_error(err, rt__io_uring_disabled(), entries, why, why_len);
        return err;
    }
    r->mode = err;
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
    /*
     * The doorbell: an eventfd, whose read io_uring waits for without
     * blocking us. It is left blocking because that works on every kernel:
     * before Linux 5.15 a read of a non-blocking one answered -EAGAIN at once
     * (since then io_uring waits for any file it can poll, O_NONBLOCK or not).
     */
    r->doorbell_fd = eventfd(0, EFD_CLOEXEC);
    if (r->doorbell_fd < 0) {
        err = -errno;
        snprintf(why, why_len, "eventfd (the executor's doorbell): %s", strerror(-err));
        io_uring_queue_exit(&r->ring);
        return err;
    }
    r->doorbell_armed = false;
    list_init(&r->waiting);
    r->in_flight = 0;
    r->parks = 0;
    r->futex_parks = 0;
    memset(&r->stats, 0, sizeof(r->stats));
    return 0;
}

/*
 * Phase 4. One buffer, index 0, covering all the executor's I/O memory. The
 * kernel pins its pages now, so that a READ_FIXED need not look them up; it
 * counts them against RLIMIT_MEMLOCK, and unpins them in io_uring_queue_exit().
 */
int rt__reactor_register_memory(struct reactor *r, void *mem, size_t len)
{
    struct iovec iov = {.iov_base = mem, .iov_len = len};

    return io_uring_register_buffers(&r->ring, &iov, 1);
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
    /* In COOP and DEFER modes, a trip into the kernel is also the moment to collect completions. */
    if (r->mode == RT_RING_PLAIN)
        ret = io_uring_submit(&r->ring);
    else
        ret = io_uring_submit_and_get_events(&r->ring);
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
 * Copy the waiting requests into the ring, oldest first. When the
 * submission queue fills up before the list is empty, submit what it holds
 * (the kernel then empties it) and go on filling it. What is left in the
 * ring is submitted by the caller: by flush(), or by the system call that
 * parks the thread (phase 3), so that submitting and sleeping cost one.
 */
static void fill_ring(struct reactor *r)
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
}

/* Copy the waiting requests into the ring and submit them. */
static void submit_waiting(struct reactor *r)
{
    fill_ring(r);
    flush(r);
}

/* ------------------------------------------------------------- completing */

/*
 * Give a source's block back to the memory it came from. An owned read's
 * buffer goes with it unless its future handed it out: the buffer of a read
 * whose future was dropped (in flight, or done but never polled again) is
 * released here, once the kernel is done writing into it.
 */
static void source_give_back(struct rt_source *s)
{
    if (s->owns_buf)
        rt_buf_release((struct rt_buf *)s->data);
    rt__percore_free(s->mem, s, s->size);
}

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

    /*
     * On kernels before 5.11 (no IORING_FEAT_EXT_ARG), liburing implements a
     * parking deadline as a TIMEOUT request of its own, with this user_data.
     * It is not one of ours.
     */
    if (user_data == LIBURING_UDATA_TIMEOUT || user_data == DOORBELL_CANCEL_TAG)
        return;
    if (user_data == DOORBELL_TAG) {
        r->doorbell_armed = false; /* rung (or cancelled at teardown): read again next time */
        return;
    }
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
    /*
     * In COOP and DEFER modes, finished requests may wait in the kernel as
     * task work until we enter it. IORING_SQ_TASKRUN, set in the shared
     * ring, says so without a system call: only then do we enter to run it.
     */
    if (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN)
        io_uring_get_events(&r->ring);
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

void rt__reactor_reap(struct reactor *r)
{
    reap_completions(r);
}

bool rt__reactor_has_waiting(const struct reactor *r)
{
    return !list_empty(&r->waiting);
}

/* Put a read of the doorbell in the ring, unless one is there already. Returns 1 if it did. */
static unsigned arm_doorbell(struct reactor *r)
{
    struct io_uring_sqe *sqe;

    if (r->doorbell_armed)
        return 0;
    sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {
        flush(r); /* the ring is full of requests; send them, then there is room */
        sqe = io_uring_get_sqe(&r->ring);
        if (!sqe)
            return 0; /* the kernel took nothing: park with the deadline only, arm next time */
    }
    io_uring_prep_read(sqe, r->doorbell_fd, &r->doorbell_count, sizeof(r->doorbell_count), 0);
    io_uring_sqe_set_data64(sqe, DOORBELL_TAG);
    r->doorbell_armed = true;
    return 1;
}

void rt__reactor_ring_doorbell(struct reactor *r)
{
    uint64_t one = 1;

    /* Only a counter overflow (2^64 - 2 unread writes) could make this fail. */
    if (write(r->doorbell_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        rt__die("rt_executor_notify: writing the doorbell eventfd failed");
}

/*
 * Nothing of ours is in the kernel: if there is no deadline either, only
 * another thread's notification can wake us. For that sleep the ring is a
 * detour: its read of the doorbell finds the count at 0, so the kernel arms
 * a poll of the eventfd; the notifier's write fires the poll, which queues
 * task work for the sleeping thread; the thread wakes, runs it, the read is
 * tried again, and only then is the CQE there that ends io_uring_enter().
 * So the executor sleeps on a futex instead (rt__reactor_sleep_on_futex),
 * and the notifier, told by the executor's `sleeping` which way it sleeps,
 * wakes it directly. A read of the doorbell left armed in the ring does not matter
 * then: nobody writes the eventfd while we sleep on the futex.
 */
bool rt__reactor_only_notifications(const struct reactor *r)
{
    return rt__reactor_idle(r) && io_uring_sq_ready(&r->ring) == 0;
}

/*
 * A futex is a word of our memory that the kernel lets a thread sleep on:
 * FUTEX_WAIT sleeps only if the word still holds the value we expect (the
 * kernel looks under its own lock), and FUTEX_WAKE wakes who sleeps on it.
 * PRIVATE: the word is not shared with another process. glibc has no
 * wrapper for the call; this is the whole of ours. Of the ways we tried
 * for one thread to wake another that sleeps, it was the quickest (section
 * 3.4 of the book has the numbers).
 */
static long futex(atomic_uint *word, int op, unsigned val)
{
    return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void rt__reactor_sleep_on_futex(struct reactor *r, atomic_uint *word)
{
    r->parks++;
    r->futex_parks++;
    /*
     * EAGAIN: the word was no longer 0, the notification came first. EINTR:
     * a signal. Either way the nap is over; the loop looks around again.
     */
    if (futex(word, FUTEX_WAIT, 0) < 0 && errno != EAGAIN && errno != EINTR)
        rt__die("sleeping on a futex failed: %s", strerror(errno));
}

void rt__reactor_wake_futex(atomic_uint *word)
{
    if (futex(word, FUTEX_WAKE, 1) < 0)
        rt__die("waking a futex failed: %s", strerror(errno));
}

void rt__reactor_park(struct reactor *r, uint64_t timeout_ns)
{
    struct __kernel_timespec ts = {
        .tv_sec = (long long)(timeout_ns / NSEC_PER_SEC),
        .tv_nsec = (long long)(timeout_ns % NSEC_PER_SEC),
    };
    struct io_uring_cqe *cqe;
    unsigned queued, doorbell, submitted;
    int ret;

    fill_ring(r);
    doorbell = arm_doorbell(r);
    queued = io_uring_sq_ready(&r->ring);
    /*
     * One system call submits what we just queued and sleeps until a CQE is
     * there or the deadline passes (the deadline travels as an argument, not
     * as a TIMEOUT request: IORING_ENTER_EXT_ARG). -ETIME (the deadline) and
     * -EINTR (a signal) simply end the nap; the loop looks around again.
     */
    ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, timeout_ns == UINT64_MAX ? NULL : &ts,
                                           NULL);
    r->stats.submit_calls++;
    r->parks++;
    /*
     * The doorbell's read is not a request of a task's: it is not counted.
     * It went into the ring last, so the kernel, which takes SQEs in order,
     * took the tasks' requests first.
     */
    submitted = queued - io_uring_sq_ready(&r->ring);
    if (submitted > queued - doorbell)
        submitted = queued - doorbell;
    r->stats.submitted += submitted;
    if (queued > doorbell)
        RT_TRACE(rt__trace_submit(queued - doorbell, (int)submitted));
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
        rt__die("io_uring_submit_and_wait_timeout: %s", strerror(-ret));
    reap_completions(r);
}

void rt__reactor_destroy(struct reactor *r)
{
    /*
     * Cancelled requests still own memory the kernel may write into. Wait
     * for every completion before freeing anything; the thread has nothing
     * else to do, so it sleeps in the kernel until one arrives.
     */
    if (r->doorbell_armed) {
        /* Its read writes into `r`: cancel it, and wait for it like any request. */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

        if (!sqe) {
            flush(r);
            sqe = io_uring_get_sqe(&r->ring);
        }
        ASSERT(sqe);
        io_uring_prep_cancel64(sqe, DOORBELL_TAG, 0);
        io_uring_sqe_set_data64(sqe, DOORBELL_CANCEL_TAG);
    }
    while (!rt__reactor_idle(r) || r->doorbell_armed) {
        submit_waiting(r);
        if (io_uring_cq_ready(&r->ring) == 0)
            io_uring_submit_and_wait(&r->ring, 1);
        reap_completions(r);
    }
    io_uring_queue_exit(&r->ring);
    close(r->doorbell_fd);
}

/* ----------------------------------------------------------------- sources */

struct rt_source *rt__source_new(size_t len)
{
    /* From the running executor's memory; a request prepared outside any executor uses malloc. */
    struct rt_executor *ex = rt_executor_current();
    struct rt_percore *mem = ex ? rt__executor_percore(ex) : NULL;
    struct rt_source *s;

    /* io.c asks for at most RT_IO_MAX bytes, a path or an address: never near the limit. */
    ASSERT(len <= SIZE_MAX - sizeof(*s));
    s = rt__percore_alloc(mem, sizeof(*s) + len);
    list_init(&s->link);
    s->reactor = NULL;
    s->state = SOURCE_NEW;
    s->orphaned = false;
    s->owns_buf = false;
    s->mem = mem;
    s->size = sizeof(*s) + len;
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
    case IORING_OP_READ_FIXED:
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
    source_give_back(s);
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
