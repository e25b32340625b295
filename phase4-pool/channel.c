/*
 * channel.c - a single-producer single-consumer ring between two threads.
 * New in phase 4.
 *
 * The ring is an array of `capacity` slots and two counters that only grow:
 * `tail`, the messages put in (written by the sender only), and `head`, the
 * messages taken out (written by the receiver only). Slot i % capacity holds
 * message i. The ring is empty when head == tail and full when
 * tail - head == capacity. Neither side ever writes what the other writes,
 * so no lock and no compare-and-swap is needed: only the order in which
 * each side's writes become visible to the other matters, and that is what
 * the acquire and release operations below say.
 *
 * Three cache-line tricks keep the cores from fighting over memory:
 *   - what each side writes sits on lines of its own, apart from the
 *     other side's: its working counter and its copy of the other side's
 *     counter (tx_next and head_seen for the sender, rx_next and tail_seen
 *     for the receiver) on one line that never leaves its core, and the
 *     counter it shows the other side (tail, head) on a second line;
 *   - each side rereads the other's counter only when its copy says the
 *     ring is full (sender) or empty (receiver);
 *   - each side *publishes* its counter, copies tx_next to tail (rx_next to
 *     head), only once per PUBLISH cache lines of slots, every quarter
 *     ring, at the end of its turn, and when it closes, not after every
 *     message: the receiver then takes lines the sender has finished,
 *     instead of reading a line the sender is still writing to, and the
 *     line holding tail moves between the cores once per few lines of
 *     messages, not once per message. A message is thus visible to the
 *     receiver at the latest at the end of the sender's turn, which is also
 *     when a waiting receiver is woken for it.
 * And each side prefetches the slots it will use a few lines ahead, so a
 * line's trip between the cores overlaps the work on the lines before it;
 * when it rereads the other's counter and finds lines newly its own, it
 * asks for the first few of them at once, so that their trips overlap.
 * Except the sender on x86-64, which needs no line to write: it writes
 * around its cache, with streaming stores (put_word).
 *
 * Waiting uses phase 3's doorbell: a side that finds the ring full (or
 * empty) raises its `waiting` flag and parks its task in rt_wait_notify;
 * the other side, at the end of each turn in which it sent (or received),
 * and every quarter ring in a long turn, publishes its counter, looks at
 * that flag and, if it is up, takes it down and calls rt_executor_notify().
 * The flag is taken down with an exchange, so of several checks that find
 * it up, only the first rings. The flag and the counter form the same
 * pattern as phase 3's `sleeping` and `notified` (executor.c): each side
 * writes one, then reads the other, with a sequentially consistent fence
 * between, so that at least one side sees the other's write and no wake-up
 * is lost.
 */
#include "channel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/fatal.h"
#include "common/sanitizer.h"
#include "common/trace.h"
#include "deferred.h"

#define CACHE_LINE   64
#define AHEAD        4  /* lines: how far ahead of itself each side prefetches slots */
#define PUBLISH      64 /* lines: how many a side fills (or empties) between publications */
#define CAPACITY_MAX (1u << 24)
#define MSG_SIZE_MAX 65536u
#define RING_MAX     ((size_t)1 << 30) /* bytes of slots: each limit above allows far more */

/* For the compiler: a function to copy into each caller, and one never to. */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE      __attribute__((noinline))

/*
 * The sanitizers check the loads and stores the compiler emits; a store
 * written in assembly (the streaming stores, stream_word) is invisible to them.
 * Their builds use plain stores, so that every slot is still checked.
 */
#if defined(__x86_64__) && !RT_SANITIZED
#define STREAMING 1
#else
#define STREAMING 0
#endif

struct rt_channel {
    /* The sender's own line: only the sender's thread reads or writes it. */
    alignas(CACHE_LINE) size_t tx_next; /* messages put in, published or not */
    size_t head_seen;                   /* the sender's copy of `head` */
    size_t tx_unchecked;     /* messages put in since it last looked for a waiting receiver */
    struct deferred tx_wake; /* at the end of a turn that put some: publish, wake the receiver? */
    bool tx_streaming;       /* streaming stores for now: the receiver is not on our core */

    /* What the sender publishes for the receiver to read. */
    alignas(CACHE_LINE) atomic_size_t tail; /* messages put in and published */

    /* The receiver's own line. */
    alignas(CACHE_LINE) size_t rx_next; /* messages taken out, published or not */
    size_t tail_seen;                   /* the receiver's copy of `tail` */
    size_t rx_unchecked;     /* messages taken since it last looked for a waiting sender */
    struct deferred rx_wake; /* at the end of a turn that took some: publish, wake the sender? */

    /* What the receiver publishes for the sender to read. */
    alignas(CACHE_LINE) atomic_size_t head; /* messages taken out and published */

    /* Written rarely: when a side waits, attaches or closes. */
    alignas(CACHE_LINE) atomic_bool rx_waiting; /* the receiver waits for a message */
    atomic_bool tx_waiting;                     /* the sender waits for room */
    atomic_bool tx_closed;                      /* the sender has closed its end */
    atomic_bool rx_closed;                      /* the receiver has closed its end */
    _Atomic(struct rt_executor *) rx_ex;        /* the receiver's executor, once it received */
    _Atomic(struct rt_executor *) tx_ex;        /* the sender's executor, once it sent */
    atomic_int open_ends;                       /* 2, 1, then 0: freed */

    /* Set at creation, read-only after. */
    alignas(CACHE_LINE) size_t mask; /* capacity - 1: capacity is a power of two */
    size_t batch;     /* look for a waiting peer at least every `batch` messages: capacity / 4 */
    size_t line_msgs; /* messages in a cache line of slots (publish every PUBLISH lines) */
    size_t msg_size;  /* bytes per slot */
    bool prefetchw;   /* the CPU has x86's PREFETCHW (see prefetch_to_write) */
    bool streaming;   /* the sender may write slots with streaming stores (see put_word) */
    unsigned long trace_id; /* its number in an RT_TRACE trace; 0 when not traced */
    unsigned char *slots;   /* capacity * msg_size bytes, from a cache line's start */
};

static void rx_wake_sender(struct deferred *d);
static void tx_wake_receiver(struct deferred *d);

/* Asked of the CPU once, by the first channel made (CPUID is slow in a virtual machine). */
static bool cpu_has_prefetchw(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static atomic_int known = -1; /* -1: not asked yet; then 0 or 1 */
    int has = atomic_load_explicit(&known, memory_order_relaxed);
    unsigned eax, ebx, ecx, edx;

    if (has < 0) {
        has = __get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & bit_PRFCHW);
        atomic_store_explicit(&known, has, memory_order_relaxed);
    }
    return has;
#else
    return false;
#endif
}

/*
 * A channel is freed by whichever thread closes last, which is often not
 * the thread that made it. So it comes from plain malloc, not from the
 * per-thread counted rt__malloc (common/alloc.h), whose counts would go up
 * on one thread and down on another; AddressSanitizer still checks it.
 */
int rt_channel_create(size_t capacity, size_t msg_size, struct rt_channel **out)
{
    struct rt_channel *ch;
    size_t cap = 2;

    ASSERT_ARG(out);
    if (capacity == 0 || capacity > CAPACITY_MAX || msg_size == 0 || msg_size > MSG_SIZE_MAX)
        return -EINVAL;
    while (cap < capacity)
        cap *= 2;
    if (cap * msg_size > RING_MAX) /* at most 2^24 * 2^16: no overflow in 64 bits */
        return -EINVAL;
    ch = aligned_alloc(CACHE_LINE, sizeof(*ch));
    if (!ch)
        rt__die("out of memory allocating a channel");
    memset(ch, 0, sizeof(*ch));
    /* At most RING_MAX bytes, rounded up to whole lines. */
    ch->slots =
        aligned_alloc(CACHE_LINE, (cap * msg_size + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1));
    if (!ch->slots)
        rt__die("out of memory allocating a channel of %zu slots of %zu bytes", cap, msg_size);
    atomic_init(&ch->head, 0);
    atomic_init(&ch->tail, 0);
    atomic_init(&ch->rx_waiting, false);
    atomic_init(&ch->tx_waiting, false);
    atomic_init(&ch->tx_closed, false);
    atomic_init(&ch->rx_closed, false);
    atomic_init(&ch->rx_ex, NULL);
    atomic_init(&ch->tx_ex, NULL);
    atomic_init(&ch->open_ends, 2);
    rt__deferred_init(&ch->rx_wake, rx_wake_sender);
    rt__deferred_init(&ch->tx_wake, tx_wake_receiver);
    ch->trace_id = 0;
    rt__trace_init(); /* a pool makes its channels before its executors: RT_TRACE is read here too
                       */
    RT_TRACE(ch->trace_id = rt__trace_channel_new(cap, msg_size));
    ch->mask = cap - 1;
    ch->batch = cap / 4 ? cap / 4 : 1;
    ch->line_msgs = 1; /* the most messages that fit in a line, a power of two */
    while (ch->line_msgs * 2 * msg_size <= CACHE_LINE)
        ch->line_msgs *= 2;
    ch->msg_size = msg_size;
    ch->prefetchw = cpu_has_prefetchw();
    /* Not a ring smaller than a publication: see put_word(). */
    ch->streaming = STREAMING && msg_size % sizeof(uint64_t) == 0 && cap >= PUBLISH * ch->line_msgs;
    *out = ch;
    return 0;
}

static unsigned char *slot(const struct rt_channel *ch, size_t i)
{
    return ch->slots + (i & ch->mask) * ch->msg_size;
}

/*
 * Copy one message into a slot or out of one. The size is known only at run
 * time, so memcpy() is a call into the C library, which on some machines
 * costs about a fifth of a message's time (BOOK section 4.11). A message of
 * one word (a number, a pointer: the common kind) is copied with a constant
 * size instead, which the compiler turns into one load and one store.
 */
static void copy_msg(const struct rt_channel *ch, void *to, const void *from)
{
    if (ch->msg_size == sizeof(uint64_t))
        memcpy(to, from, sizeof(uint64_t));
    else
        memcpy(to, from, ch->msg_size);
}

/*
 * The sender's copy into a slot. On x86-64, while the receiver is on
 * another core, it writes around its own cache, with streaming
 * (non-temporal) stores: MOVNTI.
 *
 * An ordinary store needs its line in the writer's cache, and owned. A
 * line of the ring was last read by the receiver, a lap ago, and a copy of
 * it is still in the receiver's cache; so each new line costs the sender a
 * request for ownership, a trip to the other core and back, and its stores
 * wait for it in the store buffer. PREFETCHW asks for the line early, but
 * did not hide the trip (BOOK section 4.5, "Writing around the cache"). A
 * streaming store needs no line: it collects the line's bytes in a
 * write-combining buffer and sends the whole line to memory, removing the
 * copies in every cache on the way. The receiver then reads the line from
 * memory (its prefetches ask ahead as before), and the sender never waits.
 *
 * Two costs. Streaming stores are weakly ordered: they may become visible
 * after a later ordinary store, the release store of `tail` included, so
 * publish_tail() first waits for them with SFENCE. The fence holds back
 * the sender's later stores until its streamed lines have gone, which is
 * one more reason to publish only every PUBLISH lines. And a receiver on the
 * sender's own executor would read each message back from memory instead
 * of from its own cache: so the sender chooses once per batch, in
 * try_send(), and streams only while the receiver's executor is another.
 * Nor does a ring of fewer than PUBLISH lines stream: its messages are
 * read as soon as they are published, from the sender's cache, where a
 * streamed line would have to come from memory (a parked round trip
 * through two 2-slot rings took 2 to 3% longer). Messages whose size is
 * not a multiple of 8 bytes are copied as before.
 */
#if STREAMING
/*
 * Written out as instructions, as PREFETCHW is: clang compiles
 * _mm_stream_si64() to an ordinary store with a "non-temporal" hint, and
 * then merged it with the plain store of put_word()'s other branch, hint
 * lost, so its builds never streamed at all.
 */
static ALWAYS_INLINE void stream_word(unsigned char *to, uint64_t w)
{
    __asm__ volatile("movnti %1, %0" : "=m"(*(uint64_t *)(void *)to) : "r"(w));
}

static ALWAYS_INLINE void stream_fence(void)
{
    __asm__ volatile("sfence" : : : "memory");
}
#else /* elsewhere ch->streaming is false, and these are never called */
static ALWAYS_INLINE void stream_word(unsigned char *to, uint64_t w)
{
    memcpy(to, &w, sizeof(w));
}

static ALWAYS_INLINE void stream_fence(void)
{
}
#endif

static ALWAYS_INLINE void put_word(const struct rt_channel *ch, unsigned char *to, const void *from)
{
    uint64_t w;

    memcpy(&w, from, sizeof(w));
    if (ch->tx_streaming)
        stream_word(to, w);
    else
        memcpy(to, &w, sizeof(w));
}

static void put_msg(const struct rt_channel *ch, unsigned char *to, const void *from)
{
    if (!ch->tx_streaming) {
        copy_msg(ch, to, from);
        return;
    }
    for (size_t i = 0; i < ch->msg_size; i += sizeof(uint64_t))
        put_word(ch, to + i, (const unsigned char *)from + i);
}

/*
 * Prefetching: each side asks for the slots it will use AHEAD lines from
 * now, so that the line's trip from the other core overlaps the work on the
 * lines before it. Only for slots already theirs: the sender prefetches
 * slots it knows are free, the receiver slots it knows are published. A
 * prefetch is a hint; the program means the same without it.
 *
 * The sender will write its slot, so it wants the line exclusively, and x86
 * has an instruction for that, PREFETCHW. But gcc and clang emit it for
 * __builtin_prefetch(p, 1) only when told the CPU has it (-mprfchw, or a
 * -march that has it); otherwise they emit a plain read prefetch, which
 * brings the line in shared, and the write must then take it from the
 * receiver anyway. So on x86 we ask CPUID and write the instruction out.
 *
 * Both functions are inlined by force. Left to itself, gcc 12 at -O2 sees
 * that prefetch_to_read() reads memory and changes none, files it as a
 * "pure" function, and then deletes every call to it, since a pure call
 * whose result nobody uses does nothing: gcc builds had no receiver
 * prefetch at all until a look at the disassembly showed it (clang's kept
 * it). Inlined first, the prefetch is part of the receive itself and
 * stays. prefetch_to_write() escaped on x86 only because gcc counts its asm
 * as a side effect; elsewhere it would have gone the same way.
 */
static ALWAYS_INLINE void prefetch_to_write(const struct rt_channel *ch, size_t i)
{
    if (ch->tx_streaming)
        return; /* its stores go around the cache: a line fetched for them is wasted */
    if (i - ch->head_seen > ch->mask)
        return; /* not known to be free: the receiver may still be reading it */
#if defined(__x86_64__) || defined(__i386__)
    if (ch->prefetchw) {
        __asm__ volatile("prefetchw %0" : : "m"(*slot(ch, i)));
        return;
    }
#endif
    __builtin_prefetch(slot(ch, i), 1);
}

static ALWAYS_INLINE void prefetch_to_read(const struct rt_channel *ch, size_t i)
{
    if (i - ch->rx_next < ch->tail_seen - ch->rx_next) /* published, as far as we know */
        __builtin_prefetch(slot(ch, i), 0);
}

/* One end is closed; the second close frees the channel. */
static void release_end(struct rt_channel *ch)
{
    /* acq_rel: the last closer sees everything the other side did before it closed. */
    if (atomic_fetch_sub_explicit(&ch->open_ends, 1, memory_order_acq_rel) == 1) {
        free(ch->slots);
        free(ch);
    }
}

/*
 * This end now belongs to the running executor; another executor using it
 * is a bug, and so is using it after it was closed (the other side's close
 * may free the channel at any moment). A send calls this only when
 * tx_unchecked is 0 (a receive, when rx_unchecked is): on the first use of
 * an end, on the first use after each end-of-turn check, and on the first
 * use after its close. Every turn of the owner ends with that check, so an
 * executor that uses the end after the owner's turn, on this thread or
 * another, is caught. Per message it would cost a call to
 * rt_executor_current() on each side: bench/channel moves about a fifth
 * more messages a second without those calls. Two
 * threads using one end at the same moment race on everything here, and
 * were never caught reliably (both can find `end` empty).
 */
static void attach(_Atomic(struct rt_executor *) *end, atomic_bool *closed, const char *which)
{
    struct rt_executor *ex = rt_executor_current(), *had;

    /* First: with no executor running, an end nobody has used yet would look "ours". */
    if (!ex)
        rt__die("a channel's %s end was used outside an executor", which);
    if (atomic_load_explicit(closed, memory_order_relaxed))
        rt__die("a channel's %s end was used after it was closed", which);
    had = atomic_load_explicit(end, memory_order_relaxed);
    if (had == ex)
        return;
    if (had)
        rt__die("a channel's %s end was used from two executors: a channel has one sender and one "
                "receiver",
                which);
    /* Release: the executor is whole before the other side can read this pointer. */
    atomic_store_explicit(end, ex, memory_order_release);
}

/*
 * Publishing: a side lets the other see how far it got. Release: for the
 * sender, the bytes of every message before tx_next are in their slots for
 * a receiver that sees the new tail; for the receiver, it has finished
 * reading every slot before rx_next when the sender sees the new head.
 */
static void publish_tail(struct rt_channel *ch)
{
    if (ch->streaming)
        stream_fence(); /* the streaming stores before it are visible before `tail` */
    atomic_store_explicit(&ch->tail, ch->tx_next, memory_order_release);
}

static void publish_head(struct rt_channel *ch)
{
    atomic_store_explicit(&ch->head, ch->rx_next, memory_order_release);
}

/*
 * Both ends on this one executor: then the other side's unpublished counter
 * is this thread's own to publish, and a receive right after a send (or a
 * send right after a receive) sees it, as it would with no batching at all.
 */
static bool one_thread(struct rt_channel *ch)
{
    return atomic_load_explicit(&ch->tx_ex, memory_order_relaxed) ==
           atomic_load_explicit(&ch->rx_ex, memory_order_relaxed);
}

/*
 * After our writes of a counter (or of a closed flag): if the other side is
 * waiting, take its flag down and ring its executor. The fence orders our
 * writes before our read of the flag; the waiting side orders its flag
 * before its read of our counter the same way (rt__channel_rx_ready below).
 */
static void wake_other(atomic_bool *waiting, _Atomic(struct rt_executor *) *other)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(waiting, memory_order_relaxed))
        return; /* the common case: nobody waits, and this cost no write at all */
    /* Acquire: pairs with the release that raised the flag, so `other` is there to read. */
    if (atomic_exchange_explicit(waiting, false, memory_order_acquire))
        rt_executor_notify(atomic_load_explicit(other, memory_order_acquire));
}

/*
 * The deferred checks (deferred.h): a send or a receive does not look for a
 * waiting peer itself; it asks its executor to look once, at the end of the
 * turn, for all the messages of the turn. The fence in wake_other() then
 * orders every counter store of the turn before the one read of the flag,
 * which is all the argument above needs: one fence per batch, not one per
 * message, and the peer is woken at most once per batch.
 */
static void tx_wake_receiver(struct deferred *d)
{
    struct rt_channel *ch = container_of(d, struct rt_channel, tx_wake);

    ch->tx_unchecked = 0;
    publish_tail(ch);
    wake_other(&ch->rx_waiting, &ch->rx_ex);
}

static void rx_wake_sender(struct deferred *d)
{
    struct rt_channel *ch = container_of(d, struct rt_channel, rx_wake);

    ch->rx_unchecked = 0;
    publish_head(ch);
    wake_other(&ch->tx_waiting, &ch->tx_ex);
}

/*
 * An end closed twice would count as both ends and free the channel under
 * the other side's feet. Caught here while the other end is still open;
 * after that the channel is gone, and only AddressSanitizer can tell.
 */
void rt_channel_close_tx(struct rt_channel *ch)
{
    ASSERT_ARG(ch);
    publish_tail(ch); /* before the flag: a receiver that sees it closed sees every message */
    if (atomic_exchange_explicit(&ch->tx_closed, true, memory_order_release))
        rt__die("a channel's sending end was closed twice");
    rt__deferred_cancel(&ch->tx_wake); /* the channel may be gone after release_end() */
    ch->tx_unchecked = 0;              /* so a send after the close is caught (attach) */
    RT_TRACE(rt__trace_channel_close(ch->trace_id, "sending"));
    wake_other(&ch->rx_waiting, &ch->rx_ex);
    release_end(ch);
}

void rt_channel_close_rx(struct rt_channel *ch)
{
    ASSERT_ARG(ch);
    if (atomic_exchange_explicit(&ch->rx_closed, true, memory_order_release))
        rt__die("a channel's receiving end was closed twice");
    rt__deferred_cancel(&ch->rx_wake); /* the channel may be gone after release_end() */
    ch->rx_unchecked = 0;              /* so a receive after the close is caught (attach) */
    RT_TRACE(rt__trace_channel_close(ch->trace_id, "receiving"));
    wake_other(&ch->tx_waiting, &ch->tx_ex);
    release_end(ch);
}

/* ------------------------------------------------------------- sending */

/*
 * After message tail - 1: if it was the last of a line of slots, ask for
 * the line AHEAD of us; and every PUBLISH lines, show them to the receiver.
 */
static ALWAYS_INLINE void tx_line_end(struct rt_channel *ch, size_t tail)
{
    if ((tail & (ch->line_msgs - 1)) == 0) {
        if ((tail & (PUBLISH * ch->line_msgs - 1)) == 0)
            publish_tail(ch);
        prefetch_to_write(ch, tail + AHEAD * ch->line_msgs);
    }
}

/*
 * The send itself: rt_channel_try_send(), and a send future's poll, when
 * send_quick() below cannot do it. Its arguments are checked by its
 * callers: rt_channel_try_send() below, and rt_channel_send() when it makes
 * the future.
 */
static NOINLINE int try_send(struct rt_channel *ch, const void *msg)
{
    size_t tail = ch->tx_next;

    if (ch->tx_unchecked == 0) {
        attach(&ch->tx_ex, &ch->tx_closed, "sending"); /* once per batch: see attach() */
        ch->tx_streaming = ch->streaming && !one_thread(ch);
    }
    if (atomic_load_explicit(&ch->rx_closed, memory_order_relaxed))
        return -EPIPE;
    if (tail - ch->head_seen > ch->mask) {
        /* Full as far as we knew. Acquire: the receiver has finished reading a slot it freed. */
        if (one_thread(ch))
            publish_head(ch);
        ch->head_seen = atomic_load_explicit(&ch->head, memory_order_acquire);
        if (tail - ch->head_seen > ch->mask)
            return 0;
        for (size_t k = 1; k <= AHEAD; k++) /* lines just freed: their trips overlap */
            prefetch_to_write(ch, tail + k * ch->line_msgs);
    }
    put_msg(ch, slot(ch, tail), msg);
    ch->tx_next = ++tail;
    RT_TRACE(rt__trace_msg_send(ch->trace_id, tail - 1));
    tx_line_end(ch, tail);
    /*
     * Look for a waiting receiver at the end of the turn (publishing the
     * rest); and, in a long turn, every quarter of the ring already, so
     * that the receiver drains while we fill instead of after. The check
     * is queued exactly while tx_unchecked > 0, so only the first send
     * after a check queues it.
     */
    if (++ch->tx_unchecked >= ch->batch) {
        rt__deferred_cancel(&ch->tx_wake);
        tx_wake_receiver(&ch->tx_wake);
    } else if (ch->tx_unchecked == 1) {
        rt__defer_to_turn_end(&ch->tx_wake);
    }
    return 1;
}

/*
 * The same send in the common case, where it calls no function at all: the
 * end was used already in this batch (no attach(), no check to queue), the
 * message does not end a batch (no check to run), a message is one word (no
 * memcpy() call) and no trace is being written. For anything else,
 * including a full ring and a closed receiver, it returns false, having
 * sent nothing, and try_send() takes over.
 *
 * Why a second copy of the steps pays: a function that makes a call
 * anywhere keeps what it needs after the call in the registers a callee
 * must preserve, so it saves those registers on entry and restores them on
 * return, on every path, the paths without a call included. With
 * try_send() inlined, a send future's poll pushed and popped six registers
 * per message for calls that one message in thousands makes. With this,
 * the poll's only call is a tail call (a jump) to the full path, and it
 * saves nothing (BOOK section 4.5, "What a future costs a message").
 */
static ALWAYS_INLINE bool send_quick(struct rt_channel *ch, const void *msg)
{
    size_t tail = ch->tx_next, unchecked = ch->tx_unchecked;

    if (unchecked == 0 || unchecked + 1 >= ch->batch || ch->msg_size != sizeof(uint64_t) ||
        atomic_load_explicit(&rt__trace_on, memory_order_relaxed) ||
        atomic_load_explicit(&ch->rx_closed, memory_order_relaxed) ||
        tail - ch->head_seen > ch->mask)
        return false;
    put_word(ch, slot(ch, tail), msg);
    ch->tx_next = ++tail;
    tx_line_end(ch, tail);
    ch->tx_unchecked = unchecked + 1;
    return true;
}

int rt_channel_try_send(struct rt_channel *ch, const void *msg)
{
    ASSERT_ARG(ch);
    ASSERT_ARG(msg);
    return send_quick(ch, msg) ? 1 : try_send(ch, msg);
}

bool rt__channel_tx_ready(struct rt_channel *ch)
{
    size_t tail = ch->tx_next;

    /* Raise the flag (release: our executor pointer is visible with it), then look again. */
    atomic_store_explicit(&ch->tx_waiting, true, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (tail - atomic_load_explicit(&ch->head, memory_order_acquire) > ch->mask &&
        !atomic_load_explicit(&ch->rx_closed, memory_order_relaxed))
        return false; /* still full: wait; the receiver will see the flag */
    atomic_store_explicit(&ch->tx_waiting, false, memory_order_relaxed);
    return true;
}

/* ------------------------------------------------------------- receiving */

/* After message head - 1: the receiver's side of tx_line_end(). */
static ALWAYS_INLINE void rx_line_end(struct rt_channel *ch, size_t head)
{
    if ((head & (ch->line_msgs - 1)) == 0) {
        if ((head & (PUBLISH * ch->line_msgs - 1)) == 0)
            publish_head(ch);
        prefetch_to_read(ch, head + AHEAD * ch->line_msgs);
    }
}

/* The receive itself, as try_send(). */
static NOINLINE int try_recv(struct rt_channel *ch, void *msg_out)
{
    size_t head = ch->rx_next;

    if (ch->rx_unchecked == 0)
        attach(&ch->rx_ex, &ch->rx_closed, "receiving"); /* once per batch: see attach() */
    if (head == ch->tail_seen) {
        /* Empty as far as we knew. Acquire: the bytes of the messages we now see are there. */
        if (one_thread(ch))
            publish_tail(ch);
        ch->tail_seen = atomic_load_explicit(&ch->tail, memory_order_acquire);
        for (size_t k = 1; k <= AHEAD; k++) /* lines just published: their trips overlap */
            prefetch_to_read(ch, head + k * ch->line_msgs);
        if (head == ch->tail_seen) {
            if (!atomic_load_explicit(&ch->tx_closed, memory_order_acquire))
                return 0;
            /* Closed: its last messages were published before the close; look once more. */
            ch->tail_seen = atomic_load_explicit(&ch->tail, memory_order_acquire);
            if (head == ch->tail_seen)
                return -ENODATA;
        }
    }
    copy_msg(ch, msg_out, slot(ch, head));
    ch->rx_next = ++head;
    RT_TRACE(rt__trace_msg_recv(ch->trace_id, head - 1));
    rx_line_end(ch, head);
    /* As for sending: at the end of the turn, and every quarter ring. */
    if (++ch->rx_unchecked >= ch->batch) {
        rt__deferred_cancel(&ch->rx_wake);
        rx_wake_sender(&ch->rx_wake);
    } else if (ch->rx_unchecked == 1) {
        rt__defer_to_turn_end(&ch->rx_wake);
    }
    return 1;
}

/* The same receive in the common case, calling nothing, as send_quick(). */
static ALWAYS_INLINE bool recv_quick(struct rt_channel *ch, void *msg_out)
{
    size_t head = ch->rx_next, unchecked = ch->rx_unchecked;

    if (unchecked == 0 || unchecked + 1 >= ch->batch || ch->msg_size != sizeof(uint64_t) ||
        atomic_load_explicit(&rt__trace_on, memory_order_relaxed) || head == ch->tail_seen)
        return false;
    memcpy(msg_out, slot(ch, head), sizeof(uint64_t));
    ch->rx_next = ++head;
    rx_line_end(ch, head);
    ch->rx_unchecked = unchecked + 1;
    return true;
}

int rt_channel_try_recv(struct rt_channel *ch, void *msg_out)
{
    ASSERT_ARG(ch);
    ASSERT_ARG(msg_out);
    return recv_quick(ch, msg_out) ? 1 : try_recv(ch, msg_out);
}

bool rt__channel_rx_ready(struct rt_channel *ch)
{
    size_t head = ch->rx_next;

    atomic_store_explicit(&ch->rx_waiting, true, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (head == atomic_load_explicit(&ch->tail, memory_order_acquire) &&
        !atomic_load_explicit(&ch->tx_closed, memory_order_relaxed))
        return false; /* still empty: wait; the sender will see the flag */
    atomic_store_explicit(&ch->rx_waiting, false, memory_order_relaxed);
    return true;
}

/* ------------------------------------------------------------- the futures */

static bool tx_ready(void *ch)
{
    return rt__channel_tx_ready(ch);
}

static bool rx_ready(void *ch)
{
    return rt__channel_rx_ready(ch);
}

/*
 * Nearly every send finds room, and nearly every receive a message, so a
 * future's first poll tries the quick way at once (send_quick(),
 * recv_quick()) and is done. Everything else goes on to the state machine
 * that waits, a function of its own (NOINLINE), which starts with the full
 * try_send() (try_recv()). So the first poll's only call is a tail call,
 * a jump, and the poll saves no registers and sets up no stack for the
 * calls and the AWAIT that only the rare paths make.
 *
 * And a future that never waited holds nothing, so its vtable has no drop
 * function, and AWAIT's drop of it is a test instead of a call. A future
 * that starts to wait takes on a vtable with rt_async_drop(), since
 * dropping it then must take its wait off the executor's list.
 *
 * With the two, a message's send and receive on one executor take about
 * half the time they did with neither (bench/channel's
 * channel_local_future_ns_per_msg; BOOK section 4.5, "What a future costs
 * a message", has the numbers).
 */
static enum rt_poll send_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out);
static const struct rt_future_vtable send_vtable = {send_poll, NULL};
static const struct rt_future_vtable send_waiting_vtable = {send_poll, rt_async_drop};

/* From the top: the full send (attach, a full ring, the batch's check), then the wait. */
static NOINLINE enum rt_poll send_wait_poll(struct rt_channel_send *f, struct rt_context *cx,
                                            intptr_t *out)
{
    ASYNC_BEGIN(f, cx, out);
    while ((f->res = try_send(f->ch, f->msg)) == 0) {
        f->async.future.vtable = &send_waiting_vtable;
        rt_wait_notify(&f->wait, tx_ready, f->ch);
        AWAIT(&f->wait.future, NULL);
    }
    ASYNC_RETURN(f->res < 0 ? f->res : 0);
    ASYNC_END;
}

static enum rt_poll send_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_channel_send *f = (struct rt_channel_send *)self;

    if (f->async.line == 0 && send_quick(f->ch, f->msg)) {
        f->async.line = -1; /* finished, as ASYNC_RETURN leaves it */
        *out = 0;
        return RT_READY;
    }
    return send_wait_poll(f, cx, out);
}

void rt_channel_send(struct rt_channel_send *f, struct rt_channel *ch, const void *msg)
{
    /*
     * Field by field, not `*f = (struct rt_channel_send){...}`: a send is
     * made once per message, and the compound literal would zero the whole
     * struct, the wait included, which is set up only if the send has to
     * wait. And one plain store per field: the first poll reads `line` at
     * once, and a load the CPU cannot take from one earlier store (from a
     * 16-byte store of the header, say) waits for the store to reach the
     * cache, which profiling showed to be most of a send's time.
     */
    ASSERT_ARG(f);
    ASSERT_ARG(ch);
    ASSERT_ARG(msg);
    f->async.future.vtable = &send_vtable;
    f->async.line = 0;
    f->async.awaiting = NULL;
    f->ch = ch;
    f->msg = msg;
}

static enum rt_poll recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out);
static const struct rt_future_vtable recv_vtable = {recv_poll, NULL};
static const struct rt_future_vtable recv_waiting_vtable = {recv_poll, rt_async_drop};

static NOINLINE enum rt_poll recv_wait_poll(struct rt_channel_recv *f, struct rt_context *cx,
                                            intptr_t *out)
{
    ASYNC_BEGIN(f, cx, out);
    while ((f->res = try_recv(f->ch, f->msg_out)) == 0) {
        f->async.future.vtable = &recv_waiting_vtable;
        rt_wait_notify(&f->wait, rx_ready, f->ch);
        AWAIT(&f->wait.future, NULL);
    }
    ASYNC_RETURN(f->res < 0 ? 0 : 1);
    ASYNC_END;
}

static enum rt_poll recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_channel_recv *f = (struct rt_channel_recv *)self;

    if (f->async.line == 0 && recv_quick(f->ch, f->msg_out)) {
        f->async.line = -1;
        *out = 1;
        return RT_READY;
    }
    return recv_wait_poll(f, cx, out);
}

void rt_channel_recv(struct rt_channel_recv *f, struct rt_channel *ch, void *msg_out)
{
    /* Field by field, as rt_channel_send() does. */
    ASSERT_ARG(f);
    ASSERT_ARG(ch);
    ASSERT_ARG(msg_out);
    f->async.future.vtable = &recv_vtable;
    f->async.line = 0;
    f->async.awaiting = NULL;
    f->ch = ch;
    f->msg_out = msg_out;
}
