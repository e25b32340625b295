/*
 * reactor.h - the reactor: one io_uring per executor, and the sources that
 * are the requests in it (internal). New in phase 2.
 *
 * Phase 3: the reactor can park the thread in the kernel until a completion
 * or a deadline (rt__reactor_park), and the ring is made with the setup
 * flags that suit a thread that parks (COOP_TASKRUN or DEFER_TASKRUN; see
 * rt__reactor_init).
 *
 * Phase 4: a source's block comes from the per-core memory of the executor
 * running when it is made (percore.h), and an owned read's source holds the
 * buffer the kernel reads into until its future hands it out (io.h).
 *
 * A *source* is one request to the kernel: what to do (an SQE, prepared in
 * advance), the memory the kernel will read or write while doing it, the
 * result once the completion (CQE) arrives, and the waker of the task that
 * waits for that result. The SQE's user_data is the source's address, so a
 * completion leads straight back to its source.
 *
 * A source belongs to two parties at once: the future that made it, and the
 * kernel while the request is in flight. It is freed when both are done
 * with it. So a future dropped while its request is in flight (its task was
 * cancelled, or a timeout gave up on it) does not free the source: it marks
 * it orphaned and asks the kernel to cancel the request, and the source, with
 * the buffer the kernel may still be writing into, lives until the kernel has
 * sent every completion that names it: its request's, and its cancel's. That
 * is the whole cancellation-safety story.
 *
 * A request can also *produce* something that someone must release: accept
 * and open make a file descriptor. When the future is gone and nobody will
 * take the result, the reactor releases it by the operation's rule in
 * rt__io_ops[] (io.c), so a cancelled accept never leaves a connection open.
 *
 *   NEW ──poll──▶ WAITING ──end of turn──▶ IN_FLIGHT ──CQE──▶ DONE
 *
 * NEW:       prepared by the future; nothing is queued until the first poll.
 * WAITING:   on the reactor's waiting list, from its first poll until the end
 *            of the turn, when the reactor moves what the ring has room for
 *            into it (so the turn's requests go to the kernel together).
 * IN_FLIGHT: in the ring; the kernel owns its memory until the CQE.
 * DONE:      the CQE arrived; `res` holds the result.
 *
 * One step goes back: a request that the kernel cancelled although nobody
 * asked it to returns from IN_FLIGHT to WAITING, to be sent again.
 */
#ifndef RT_REACTOR_H
#define RT_REACTOR_H

#include <liburing.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "future.h"

enum source_state {
    SOURCE_NEW,
    SOURCE_WAITING,
    SOURCE_IN_FLIGHT,
    SOURCE_DONE,
};

struct reactor;

struct rt_source {
    struct list_node link;   /* on the reactor's waiting list, for its request or its cancel */
    struct reactor *reactor; /* set when first queued */
    enum source_state state; /* see above */
    bool orphaned;           /* its future is gone: free it once the kernel is done with it */
    bool owns_buf;           /* phase 4: data[] is an owned read's struct rt_buf (io.h) */
    unsigned cqes_owed;      /* CQEs still to come that name it: its request's, its cancel's */
    unsigned resubmits;      /* times the kernel cancelled it on its own and it was sent again */
    int res;                 /* cqe->res, once DONE: >= 0, or -errno */
    struct rt_waker waker;   /* the task waiting for the completion */
    unsigned long trace_id;  /* its number in an RT_TRACE trace; 0 when not traced */
    struct rt_percore *mem;  /* phase 4: where its block goes back (percore.h); NULL: malloc */
    size_t size;             /* phase 4: the block's size, this header included */
    struct io_uring_sqe sqe; /* the request, copied into the ring when there is room */
    alignas(max_align_t) unsigned char data[]; /* memory the kernel uses: buffer, path, address */
};

/* Counters that show which paths the reactor took; tests read them. */
struct reactor_stats {
    unsigned long submit_calls; /* io_uring_submit() system calls: fewer than SQEs is batching */
    unsigned long submitted;    /* SQEs the kernel took */
    unsigned long completed;    /* CQEs reaped */
    unsigned long sq_full;      /* times the submission queue was full and was flushed early */
    unsigned long cq_overflow;  /* times the kernel held completions the CQ had no room for */
    unsigned long resubmitted;  /* requests the kernel cancelled on its own, sent again */
    unsigned long released;     /* results nobody took, handed to their release rule (io.c) */
};

struct reactor {
    struct io_uring ring;       /* the submission and completion queues shared with the kernel */
    struct list_node waiting;   /* sources whose request (or cancel) is not yet in the ring */
    unsigned in_flight;         /* SQEs put in the ring and not completed: each owes one CQE */
    struct reactor_stats stats; /* see above */
    /* Phase 3 */
    int mode;                  /* the RT_RING_* the ring was made with (executor.h) */
    int doorbell_fd;           /* an eventfd: a write wakes the thread parked on this ring */
    bool doorbell_armed;       /* a read of it is in the ring (not counted in in_flight) */
    uint64_t doorbell_count;   /* where that read puts the eventfd's count (not used) */
    unsigned long parks;       /* times the thread slept, in the ring or on a futex */
    unsigned long futex_parks; /* of those, the sleeps on a futex (rt__reactor_sleep_on_futex) */
};

/*
 * Make the ring, with `entries` submission slots, in the RT_RING_* `mode`
 * (executor.h); RT_RING_AUTO takes the best the kernel has. Returns 0, or
 * -errno with a sentence in `why` naming the cause and the fix.
 */
int rt__reactor_init(struct reactor *r, unsigned entries, int mode, char *why, size_t why_len);

/* The name of an RT_RING_* mode, for messages and benchmarks. */
const char *rt__ring_mode_name(int mode);

/*
 * Phase 4: register `len` bytes at `mem` with the ring, as its buffer 0, for
 * READ_FIXED requests (percore.h's I/O memory). Returns 0 or -errno.
 */
int rt__reactor_register_memory(struct reactor *r, void *mem, size_t len);

/* Wait until the kernel is done with every request, then free the ring (and the doorbell). */
void rt__reactor_destroy(struct reactor *r);

/* One turn: hand the kernel the requests that wait, then complete those it has finished. */
void rt__reactor_poll(struct reactor *r);

/* Nothing waiting and nothing in flight: no completion can ever wake a task. */
bool rt__reactor_idle(const struct reactor *r);

/* Complete what the kernel has finished, without submitting anything. New in phase 3. */
void rt__reactor_reap(struct reactor *r);

/* Requests wait to be handed to the kernel: the thread must not sleep before submitting them. */
bool rt__reactor_has_waiting(const struct reactor *r);

/*
 * Submit what waits, then sleep in the kernel until at least one completion
 * arrives, a write to doorbell_fd, or `timeout_ns` nanoseconds pass
 * (UINT64_MAX: no limit); then reap what arrived. New in phase 3.
 */
void rt__reactor_park(struct reactor *r, uint64_t timeout_ns);

/* Wake the thread parked on `r`, from any thread. New in phase 3. */
void rt__reactor_ring_doorbell(struct reactor *r);

/*
 * Nothing of ours is in the kernel, in flight or queued: no completion can
 * wake the thread, so it need not sleep in the ring. New in phase 3.
 */
bool rt__reactor_only_notifications(const struct reactor *r);

/*
 * Sleep on the futex `word` while it is 0, outside the ring; counted as a
 * park of `r`. rt__reactor_wake_futex() on another thread, after it made
 * `word` non-zero, ends the sleep. New in phase 3.
 */
void rt__reactor_sleep_on_futex(struct reactor *r, atomic_uint *word);
void rt__reactor_wake_futex(atomic_uint *word);

/* A source with `len` bytes of memory for the kernel; NEW, not yet queued. */
struct rt_source *rt__source_new(size_t len);

/* Queue a NEW source's request on the reactor `r`. */
void rt__source_submit(struct reactor *r, struct rt_source *s);

/*
 * Free a DONE source (its future has taken the result) or a NEW one (never
 * submitted), and an owned buffer it did not hand out.
 */
void rt__source_free(struct rt_source *s);

/*
 * The future is gone. Free the source now if it is not in flight (releasing a
 * result nobody took, such as an accepted descriptor), else cancel and orphan it.
 */
void rt__source_abandon(struct rt_source *s);

/*
 * What the reactor must know about each operation, by opcode (provided by
 * io.c, beside the operations themselves). An opcode without a name is one
 * this runtime does not use.
 */
struct io_op {
    const char *name; /* for the startup check that the kernel has it: "READ" */
    int means_done;   /* a -errno that means success for this operation (given as 0), or 0 */
    /* Release what the request made, when its future is gone and nobody will take `res`. */
    void (*release)(const struct io_uring_sqe *sqe, int res);
};
extern const struct io_op rt__io_ops[IORING_OP_LAST];

/* The reactor of an executor (provided by executor.c). */
struct rt_executor;
struct reactor *rt__executor_reactor(struct rt_executor *ex);

/* The value of sysctl kernel.io_uring_disabled; 0 on kernels before 6.6, which lack it. */
int rt__io_uring_disabled(void);

/*
 * Write into `buf` why io_uring_setup failed with `err`, and how to fix it.
 * `disabled` is the value of the sysctl kernel.io_uring_disabled (0 if it
 * does not exist). Split out of rt__reactor_init so tests can feed it every case.
 */
void rt__explain_ring_error(int err, int disabled, unsigned entries, char *buf, size_t len);

#endif /* RT_REACTOR_H */
