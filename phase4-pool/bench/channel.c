/*
 * bench/channel.c - messages between two cores: the runtime's channel next
 * to a mutex + condition variable queue, and a round trip between two
 * parked executors next to one between two threads over pipes.
 *
 * Run it with `make phase4 bench` (or build/phase4/bench/channel; `channel
 * SLOTS` gives the channel and the queue SLOTS slots instead of CAPACITY).
 * It prints one `name=value` line per figure, each the median of RUNS
 * samples, the runtime and its baseline alternating so that a noisy
 * neighbour touches both alike:
 *
 *   channel_msgs_per_s              MSGS 8-byte messages from one shard to
 *                                   another through a channel of CAPACITY
 *                                   slots: a task sending them in a loop, a
 *                                   task receiving them in a loop
 *   mutex_condvar_queue_msgs_per_s  the same messages between two plain
 *                                   threads through a bounded queue of as
 *                                   many slots under a pthread mutex,
 *                                   with a condition variable for "not full"
 *                                   and one for "not empty" (the textbook
 *                                   queue: lock, wait while full or empty,
 *                                   move one message, signal, unlock)
 *   channel_vs_mutex_ratio          the first divided by the second
 *   channel_cpu_ns_per_msg          CPU time (user + system, both threads) per
 *   mutex_condvar_queue_cpu_ns_per_msg  message, for the same two runs: the
 *                                   work a message costs, apart from the time
 *                                   a thread spends asleep or waiting for a
 *                                   CPU. On a machine busy with other work the
 *                                   rates above measure mostly how soon the
 *                                   scheduler runs a woken thread; these don't
 *   channel_spin_msgs_per_s         the channel's messages again, with both
 *                                   shards built with spin_before_park_ns =
 *                                   SPIN_NS: a side with nothing to do looks
 *                                   again for that long before it parks. Where
 *                                   waking a parked thread takes longer than
 *                                   the other side needs to fill or drain the
 *                                   ring, the parked channel's two sides take
 *                                   turns, each asleep while the other works;
 *                                   spinning keeps both at work
 *   channel_spin_vs_mutex_ratio     that divided by the mutex queue's rate
 *   channel_spin_cpu_ns_per_msg     its CPU time per message (a spin counts)
 *   channel_try_msgs_per_s          the channel's messages again, parked as in
 *                                   the first run, but each side calls
 *                                   rt_channel_try_send() (try_recv()) first
 *                                   and makes a future only when that finds
 *                                   the ring full (empty): the rate without the
 *                                   futures' cost on every message
 *   channel_try_vs_mutex_ratio      that divided by the mutex queue's rate
 *   channel_local_future_ns_per_msg what a message costs, its send and its
 *   channel_local_try_ns_per_msg    receive, on one executor: LOCAL_MSGS sent
 *                                   and then received, in rounds, through the
 *                                   futures and through try_send/try_recv.
 *                                   Nothing waits and no line leaves the core,
 *                                   so the difference is the futures' own work
 *   channel_pingpong_rtt_us         one message there and one back through
 *                                   two channels, ROUND_TRIPS times; no spinning,
 *                                   so each side parks while it waits (with
 *                                   nothing in its ring, it sleeps on its
 *                                   futex) and is woken by the other's
 *                                   rt_executor_notify()
 *   pipe_pingpong_rtt_us            the same between two threads blocked in
 *                                   read(2) on two pipes
 *   channel_vs_pipe_rtt_ratio       the first divided by the second (lower
 *                                   is better)
 *   channel_pingpong_median_trip_us the median round trip of a sample, for
 *   pipe_pingpong_median_trip_us    each of the two (the figures above are
 *                                   means: the sample's time / ROUND_TRIPS)
 *   channel_pingpong_stalls         how many of a sample's ROUND_TRIPS round
 *   pipe_pingpong_stalls            trips took longer than STALL_US. Beside a
 *                                   program that keeps a CPU busy, a woken
 *                                   thread now and then waits for that
 *                                   program's time slice to end, milliseconds,
 *                                   and those few round trips make nearly
 *                                   half of the mean (BOOK section 4.11);
 *                                   these two pairs of figures tell the path
 *                                   from the waits
 *   ..._unpinned                    the seven round-trip figures again, with
 *                                   neither side pinned: the scheduler places
 *                                   the two threads, and moves them. Where it
 *                                   puts both on one CPU a wake-up does not
 *                                   cross cores and a round trip takes a few
 *                                   us instead of tens; which it does can
 *                                   change from one sample to the next
 *
 * CPUs: with CPUs 0 and 1 both usable, the sending side runs on CPU 0 and
 * the receiving side on CPU 1, for the runtime and the baselines alike (a
 * custom placement, and pthread affinity); otherwise nothing is pinned (and
 * the _unpinned figures repeat the others). A line on stderr says which. The
 * one-executor figures run on the main thread, unpinned.
 *
 * Targets (reported, not asserted): the channel at least 10 times the mutex
 * queue, with the executors' defaults (no spinning); the parked round trip no
 * slower than the pipe's. The spinning channel has no target: it shows what a
 * builder field buys where parking is what costs (BOOK section 4.11). Nor have
 * the try_ figures: they show what the futures cost, which the targets include.
 *
 * The capacity. A parked side is woken when the other has moved a quarter of
 * the ring (channel.c), and until it is back the other side can go on only
 * while the ring has room (or messages) left: three quarters of it. So the
 * ring must hold what one side moves while the other wakes up, the rate
 * times the wake-up's latency, as a network link's buffer must hold its
 * bandwidth times its delay. CAPACITY is sized for 90 million messages a
 * second and wake-ups of up to about 130 us; `channel 1024` shows what
 * happens on a machine whose wake-ups outlast three quarters of a smaller
 * ring: the two sides take turns, one asleep while the other works. A
 * larger ring paid too, on a machine with 1 MiB of L2 a core, while the
 * sender wrote through its cache: `channel 131072` (a 1 MiB ring) moved
 * about 1.4 times what the default did (BOOK section 4.11, "A third
 * machine"). With the sender's streaming stores (BOOK section 4.5,
 * "Writing around the cache") the size matters much less there; the target
 * stays with the default either way.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np and the CPU_* macros are GNU extensions */
#include "rt.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/args.h"
#include "common/bench.h"
#include "common/clock.h"

#define RUNS        5           /* samples per figure; the median is printed */
#define MSGS        2000000     /* messages per throughput sample */
#define CAPACITY    16384       /* slots, in the channel and in the mutex queue alike (see above) */
#define MAX_SLOTS   (1ul << 24) /* the most a channel has (channel.h) */
#define ROUND_TRIPS 10000       /* per round-trip sample */
#define STALL_US    1000        /* a round trip longer than this is a stall: a wait for a CPU */
#define SPIN_NS     50000       /* the spinning channel's spin_before_park_ns: 50 us */

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "bench/channel: %s\n", what);
    exit(1);
}

/* The slots of the throughput runs' channel and queue: CAPACITY, or the command line's. */
static size_t slots = CAPACITY;

/* CPU time this process has used so far, user and system, in ns. */
static uint64_t cpu_used_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NSEC_PER_SEC +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NSEC_PER_USEC;
}

/* A throughput sample: messages per second, and CPU ns per message. */
struct rate {
    double per_s, cpu_ns;
};

/* The sender's CPU and the receiver's, or RT_CPU_ANY for both. */
static int cpus[2] = {RT_CPU_ANY, RT_CPU_ANY};

/* Neither side pinned: where the unpinned round trips run. */
static const int anywhere[2] = {RT_CPU_ANY, RT_CPU_ANY};

static void choose_cpus(void)
{
    cpu_set_t mask;

    if (sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_ISSET(0, &mask) &&
        CPU_ISSET(1, &mask)) {
        cpus[0] = 0;
        cpus[1] = 1;
        fprintf(stderr, "bench/channel: senders on CPU 0, receivers on CPU 1\n");
    } else {
        fprintf(stderr, "bench/channel: nothing pinned (CPUs 0 and 1 are not both usable)\n");
    }
}

/* ------------------------------------------------------------ two shards */

/*
 * Run two futures as the two shards of a pool, shard k on on[k] (unbound if
 * that is RT_CPU_ANY), each executor spinning `spin_ns` before it parks.
 */
struct pair {
    const void *f[2];
    size_t size[2];
};

static size_t pair_make(unsigned shard, void *arg, void *buf)
{
    struct pair *p = arg;

    memcpy(buf, p->f[shard], p->size[shard]);
    return p->size[shard];
}

static void run_pair(const void *f0, size_t size0, const void *f1, size_t size1, uint64_t spin_ns,
                     const int on[2])
{
    struct pair pair = {{f0, f1}, {size0, size1}};
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_pool *p;

    b.shards = 2;
    b.executor.spin_before_park_ns = spin_ns;
    if (on[0] != RT_CPU_ANY)
        b.placement = (struct rt_placement){.kind = RT_PLACEMENT_CUSTOM, .cpus = on, .ncpus = 2};
    if (rt_pool_start(&b, pair_make, &pair, &p) < 0) {
        fprintf(stderr, "bench/channel: %s\n", rt_last_error());
        exit(1);
    }
    rt_pool_join(p, NULL);
}

/* ------------------------------------------------------------ throughput */

/* What both sides of a throughput run write down; read after the join. */
struct stream {
    struct rt_channel *ch;
    bool try_first;            /* try_send/try_recv first, a future only when they find no room */
    uint64_t start_ns, end_ns; /* the sender's first send, the receiver's last receive */
    uint64_t received;
};

/* Sends 0 .. MSGS - 1, then closes. */
struct sender {
    struct rt_async async;
    struct stream *s;
    uint64_t i;
    struct rt_channel_send send;
    intptr_t res;
};

static enum rt_poll sender_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sender *f = (struct sender *)self;

    ASYNC_BEGIN(f, cx, out);
    f->s->start_ns = now_ns();
    for (f->i = 0; f->i < MSGS; f->i++) {
        if (f->s->try_first && rt_channel_try_send(f->s->ch, &f->i) == 1)
            continue; /* there was room: sent without a future */
        rt_channel_send(&f->send, f->s->ch, &f->i);
        AWAIT(&f->send.async.future, &f->res);
    }
    rt_channel_close_tx(f->s->ch);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable sender_vtable = {sender_poll, rt_async_drop};

/* Receives until the end, checking the order. */
struct receiver {
    struct rt_async async;
    struct stream *s;
    uint64_t msg, next;
    struct rt_channel_recv recv;
    intptr_t got;
};

static enum rt_poll receiver_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct receiver *f = (struct receiver *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        /* try_recv: 1, 0 (empty for now) or -ENODATA (the end); the future: 1 or 0 (the end). */
        if (!f->s->try_first || (f->got = rt_channel_try_recv(f->s->ch, &f->msg)) == 0) {
            rt_channel_recv(&f->recv, f->s->ch, &f->msg);
            AWAIT(&f->recv.async.future, &f->got);
        }
        if (f->got <= 0)
            break;
        if (f->msg != f->next++)
            fail("a message arrived out of order");
    }
    f->s->end_ns = now_ns();
    f->s->received = f->next;
    rt_channel_close_rx(f->s->ch);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable receiver_vtable = {receiver_poll, rt_async_drop};

static struct rate channel_sample(uint64_t spin_ns, bool try_first)
{
    struct stream s = {.try_first = try_first};
    struct sender tx = {.async = RT_ASYNC_INIT(&sender_vtable), .s = &s};
    struct receiver rx = {.async = RT_ASYNC_INIT(&receiver_vtable), .s = &s};
    uint64_t cpu = cpu_used_ns();

    if (rt_channel_create(slots, sizeof(uint64_t), &s.ch) < 0)
        fail("rt_channel_create failed");
    run_pair(&tx, sizeof(tx), &rx, sizeof(rx), spin_ns, cpus);
    if (s.received != MSGS)
        fail("messages went missing");
    return (struct rate){MSGS / ((double)(s.end_ns - s.start_ns) / NSEC_PER_SEC),
                         (double)(cpu_used_ns() - cpu) / MSGS};
}

/* The baseline: the textbook bounded queue. */
struct mutex_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    uint64_t *slot;      /* `slots` of them */
    uint64_t head, tail; /* taken out, put in */
    bool closed;
    uint64_t start_ns, end_ns, received;
};

/* Pin the calling thread to `cpu`, unless it is RT_CPU_ANY. */
static void pin(int cpu)
{
    if (cpu != RT_CPU_ANY && rt_pin_current_thread(cpu) < 0)
        fail("cannot pin to a CPU that was usable a moment ago");
}

static void *mutex_sender(void *arg)
{
    struct mutex_queue *q = arg;

    pin(cpus[0]);
    q->start_ns = now_ns();
    for (uint64_t i = 0; i < MSGS; i++) {
        pthread_mutex_lock(&q->lock);
        while (q->tail - q->head == slots)
            pthread_cond_wait(&q->not_full, &q->lock);
        q->slot[q->tail++ % slots] = i;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void *mutex_receiver(void *arg)
{
    struct mutex_queue *q = arg;
    uint64_t next = 0;

    pin(cpus[1]);
    for (;;) {
        uint64_t msg;

        pthread_mutex_lock(&q->lock);
        while (q->tail == q->head && !q->closed)
            pthread_cond_wait(&q->not_empty, &q->lock);
        if (q->tail == q->head) {
            pthread_mutex_unlock(&q->lock);
            break;
        }
        msg = q->slot[q->head++ % slots];
        pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->lock);
        if (msg != next++)
            fail("a message arrived out of order (mutex queue)");
    }
    q->end_ns = now_ns();
    q->received = next;
    return NULL;
}

static struct rate mutex_sample(void)
{
    struct mutex_queue q = {.slot = calloc(slots, sizeof(uint64_t))};
    pthread_t tx, rx;
    uint64_t cpu = cpu_used_ns();

    if (!q.slot)
        fail("out of memory");
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.not_full, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    if (pthread_create(&rx, NULL, mutex_receiver, &q) != 0 ||
        pthread_create(&tx, NULL, mutex_sender, &q) != 0)
        fail("pthread_create failed");
    pthread_join(tx, NULL);
    pthread_join(rx, NULL);
    pthread_cond_destroy(&q.not_empty);
    pthread_cond_destroy(&q.not_full);
    pthread_mutex_destroy(&q.lock);
    free(q.slot);
    if (q.received != MSGS)
        fail("messages went missing (mutex queue)");
    return (struct rate){MSGS / ((double)(q.end_ns - q.start_ns) / NSEC_PER_SEC),
                         (double)(cpu_used_ns() - cpu) / MSGS};
}

/* ------------------------------------------------------------ one executor */

/*
 * What the futures cost a message: on one executor, LOCAL_MSGS messages go
 * into a channel of twice as many slots and then come out, LOCAL_ROUNDS
 * times, once through the send and receive futures and once through
 * rt_channel_try_send() and rt_channel_try_recv(). Nothing waits and no
 * line leaves the core, so the difference is the futures' own work: making
 * one, AWAIT's poll of it through its vtable, and its drop.
 */
#define LOCAL_MSGS   8192
#define LOCAL_ROUNDS 200

struct local {
    struct rt_async async;
    struct rt_channel *ch;
    bool futures;
    uint64_t *elapsed_ns; /* the caller's */
    uint64_t i, msg, start;
    int round;
    struct rt_channel_send send;
    struct rt_channel_recv recv;
    intptr_t res;
};

static enum rt_poll local_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct local *f = (struct local *)self;

    ASYNC_BEGIN(f, cx, out);
    f->start = now_ns();
    for (f->round = 0; f->round < LOCAL_ROUNDS; f->round++) {
        for (f->i = 0; f->i < LOCAL_MSGS; f->i++) {
            if (f->futures) {
                rt_channel_send(&f->send, f->ch, &f->i);
                AWAIT(&f->send.async.future, &f->res);
            } else if (rt_channel_try_send(f->ch, &f->i) != 1) {
                fail("a send on one executor found no room");
            }
        }
        for (f->i = 0; f->i < LOCAL_MSGS; f->i++) {
            if (f->futures) {
                rt_channel_recv(&f->recv, f->ch, &f->msg);
                AWAIT(&f->recv.async.future, &f->res);
            } else {
                f->res = rt_channel_try_recv(f->ch, &f->msg);
            }
            if (f->res != 1 || f->msg != f->i)
                fail("a receive on one executor brought something else");
        }
    }
    *f->elapsed_ns = now_ns() - f->start;
    rt_channel_close_tx(f->ch);
    rt_channel_close_rx(f->ch);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable local_vtable = {local_poll, rt_async_drop};

/* ns per message, its send and its receive, on one unpinned executor. */
static double local_sample(bool futures)
{
    uint64_t elapsed = 0;
    struct local f = {
        .async = RT_ASYNC_INIT(&local_vtable), .futures = futures, .elapsed_ns = &elapsed};
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_executor *ex;

    if (rt_channel_create(2 * LOCAL_MSGS, sizeof(uint64_t), &f.ch) < 0)
        fail("rt_channel_create failed");
    if (rt_executor_create(&b, &ex) < 0)
        fail(rt_last_error());
    rt_executor_run(ex, &f.async.future, sizeof(f));
    rt_executor_destroy(ex);
    return (double)elapsed / ((double)LOCAL_ROUNDS * LOCAL_MSGS);
}

/* ------------------------------------------------------------ round trips */

/* The round trips of the sample being run, in us: the pinger writes, main reads after the join. */
static double trip_us[ROUND_TRIPS];

/* The last sample's round trips: their median, and how many were stalls. */
struct trips {
    double median_us, stalls;
};

static struct trips last_trips(void)
{
    struct trips t = {0, 0};

    for (size_t i = 0; i < ROUND_TRIPS; i++)
        t.stalls += trip_us[i] > STALL_US;
    t.median_us = bench_median(trip_us, ROUND_TRIPS); /* sorts them: after the count */
    return t;
}

/* Shard 0: ROUND_TRIPS times, send a number and wait for it to come back. */
struct pinger {
    struct rt_async async;
    struct rt_channel *there, *back;
    uint64_t *elapsed_ns; /* the caller's */
    uint64_t i, msg, start, last, now;
    struct rt_channel_send send;
    struct rt_channel_recv recv;
    intptr_t res;
};

static enum rt_poll pinger_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct pinger *f = (struct pinger *)self;

    ASYNC_BEGIN(f, cx, out);
    f->start = f->last = now_ns();
    for (f->i = 0; f->i < ROUND_TRIPS; f->i++) {
        rt_channel_send(&f->send, f->there, &f->i);
        AWAIT(&f->send.async.future, &f->res);
        rt_channel_recv(&f->recv, f->back, &f->msg);
        AWAIT(&f->recv.async.future, &f->res);
        if (f->res != 1 || f->msg != f->i)
            fail("the round trip brought back something else");
        f->now = now_ns();
        trip_us[f->i] = (double)(f->now - f->last) / NSEC_PER_USEC;
        f->last = f->now;
    }
    *f->elapsed_ns = now_ns() - f->start;
    rt_channel_close_tx(f->there);
    rt_channel_close_rx(f->back);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable pinger_vtable = {pinger_poll, rt_async_drop};

/* Shard 1: send back whatever comes, until the end. */
struct ponger {
    struct rt_async async;
    struct rt_channel *there, *back;
    uint64_t msg;
    struct rt_channel_send send;
    struct rt_channel_recv recv;
    intptr_t res;
};

static enum rt_poll ponger_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct ponger *f = (struct ponger *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_channel_recv(&f->recv, f->there, &f->msg);
        AWAIT(&f->recv.async.future, &f->res);
        if (!f->res)
            break;
        rt_channel_send(&f->send, f->back, &f->msg);
        AWAIT(&f->send.async.future, &f->res);
    }
    rt_channel_close_rx(f->there);
    rt_channel_close_tx(f->back);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable ponger_vtable = {ponger_poll, rt_async_drop};

/* A round trip sample with the pinger on on[0] and the ponger on on[1]. */
static double channel_rtt_sample(const int on[2])
{
    uint64_t elapsed = 0;
    struct pinger ping = {.async = RT_ASYNC_INIT(&pinger_vtable), .elapsed_ns = &elapsed};
    struct ponger pong = {.async = RT_ASYNC_INIT(&ponger_vtable)};

    if (rt_channel_create(2, sizeof(uint64_t), &ping.there) < 0 ||
        rt_channel_create(2, sizeof(uint64_t), &ping.back) < 0)
        fail("rt_channel_create failed");
    pong.there = ping.there;
    pong.back = ping.back;
    run_pair(&ping, sizeof(ping), &pong, sizeof(pong), 0, on);
    return (double)elapsed / ROUND_TRIPS / NSEC_PER_USEC;
}

/* The baseline: two threads, two pipes, each blocked in read(2) while it waits. */
struct pipes {
    int there[2], back[2];
    const int *on; /* the pinger's CPU and the ponger's */
    uint64_t elapsed_ns;
};

/* Eight bytes through a pipe, all or fail: a pipe moves up to PIPE_BUF bytes in one piece. */
static void put8(int fd, uint64_t v)
{
    if (write(fd, &v, 8) != 8)
        fail("a pipe write came up short");
}

static uint64_t get8(int fd)
{
    uint64_t v;

    if (read(fd, &v, 8) != 8)
        fail("a pipe read came up short");
    return v;
}

static void *pipe_ponger(void *arg)
{
    struct pipes *p = arg;

    pin(p->on[1]);
    for (int i = 0; i < ROUND_TRIPS; i++)
        put8(p->back[1], get8(p->there[0]));
    return NULL;
}

static void *pipe_pinger(void *arg)
{
    struct pipes *p = arg;
    uint64_t start, last, now;

    pin(p->on[0]);
    start = last = now_ns();
    for (uint64_t i = 0; i < ROUND_TRIPS; i++) {
        put8(p->there[1], i);
        if (get8(p->back[0]) != i)
            fail("the pipe round trip brought back something else");
        now = now_ns();
        trip_us[i] = (double)(now - last) / NSEC_PER_USEC;
        last = now;
    }
    p->elapsed_ns = now_ns() - start;
    return NULL;
}

static double pipe_rtt_sample(const int on[2])
{
    struct pipes p = {.on = on};
    pthread_t a, b;

    if (pipe(p.there) < 0 || pipe(p.back) < 0)
        fail("pipe failed");
    if (pthread_create(&b, NULL, pipe_ponger, &p) != 0 ||
        pthread_create(&a, NULL, pipe_pinger, &p) != 0)
        fail("pthread_create failed");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    for (int i = 0; i < 2; i++) {
        close(p.there[i]);
        close(p.back[i]);
    }
    return (double)p.elapsed_ns / ROUND_TRIPS / NSEC_PER_USEC;
}

/* The round-trip figures of RUNS rounds, placed one way. */
struct rtt_figures {
    double ch[RUNS], pipe[RUNS], ratio[RUNS], ch_trip[RUNS], pipe_trip[RUNS], ch_stalls[RUNS],
        pipe_stalls[RUNS];
};

/* Round r: a channel sample, then a pipe sample, both with the sides on on[]. */
static void rtt_round(struct rtt_figures *f, int r, const int on[2])
{
    struct trips t;

    f->ch[r] = channel_rtt_sample(on);
    t = last_trips();
    f->ch_trip[r] = t.median_us;
    f->ch_stalls[r] = t.stalls;
    f->pipe[r] = pipe_rtt_sample(on);
    t = last_trips();
    f->pipe_trip[r] = t.median_us;
    f->pipe_stalls[r] = t.stalls;
    f->ratio[r] = f->ch[r] / f->pipe[r];
}

static void rtt_print(struct rtt_figures *f, const char *suffix)
{
    printf("channel_pingpong_rtt_us%s=%.2f\n", suffix, bench_median(f->ch, RUNS));
    printf("pipe_pingpong_rtt_us%s=%.2f\n", suffix, bench_median(f->pipe, RUNS));
    printf("channel_vs_pipe_rtt_ratio%s=%.2f\n", suffix, bench_median(f->ratio, RUNS));
    printf("channel_pingpong_median_trip_us%s=%.2f\n", suffix, bench_median(f->ch_trip, RUNS));
    printf("pipe_pingpong_median_trip_us%s=%.2f\n", suffix, bench_median(f->pipe_trip, RUNS));
    printf("channel_pingpong_stalls%s=%.0f\n", suffix, bench_median(f->ch_stalls, RUNS));
    printf("pipe_pingpong_stalls%s=%.0f\n", suffix, bench_median(f->pipe_stalls, RUNS));
}

/* ---------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    double ch[RUNS], mq[RUNS], tput_ratio[RUNS], ch_cpu[RUNS], mq_cpu[RUNS];
    static struct rtt_figures pinned, unpinned;
    double spin[RUNS], spin_ratio[RUNS], spin_cpu[RUNS];
    double try_first[RUNS], try_ratio[RUNS], local_future[RUNS], local_try[RUNS];

    if (argc > 1) {
        char *end;
        unsigned long n;

        /* A digit first: strtoul() would skip blanks and take a sign (" -1" wraps around). */
        errno = 0;
        n = strtoul(argv[1], &end, 10);
        if (argc > 2 || errno != 0 || !isdigit((unsigned char)argv[1][0]) || *end != '\0' ||
            n < 2 || n > MAX_SLOTS || (n & (n - 1)) != 0) {
            int status = args_help(argc, argv) ? 0 : 2;

            /* A power of two, as the channel rounds its capacity up to one (channel.h). */
            fprintf(args_usage_to(status),
                    "usage: %s [SLOTS]  (SLOTS a power of two from 2 to %lu; default %lu)\n",
                    argv[0], MAX_SLOTS, (unsigned long)CAPACITY);
            return status;
        }
        slots = n;
    }
    fprintf(stderr, "bench/channel: %zu slots in the channel and the queue\n", slots);
    choose_cpus();
    for (int r = 0; r < RUNS; r++) {
        struct rate c = channel_sample(0, false), m = mutex_sample(),
                    cs = channel_sample(SPIN_NS, false), ct = channel_sample(0, true);

        ch[r] = c.per_s;
        mq[r] = m.per_s;
        tput_ratio[r] = c.per_s / m.per_s;
        ch_cpu[r] = c.cpu_ns;
        mq_cpu[r] = m.cpu_ns;
        spin[r] = cs.per_s;
        spin_ratio[r] = cs.per_s / m.per_s;
        spin_cpu[r] = cs.cpu_ns;
        try_first[r] = ct.per_s;
        try_ratio[r] = ct.per_s / m.per_s;
        local_future[r] = local_sample(true);
        local_try[r] = local_sample(false);
        rtt_round(&pinned, r, cpus);
        rtt_round(&unpinned, r, anywhere);
    }
    printf("channel_msgs_per_s=%.0f\n", bench_median(ch, RUNS));
    printf("mutex_condvar_queue_msgs_per_s=%.0f\n", bench_median(mq, RUNS));
    printf("channel_vs_mutex_ratio=%.2f\n", bench_median(tput_ratio, RUNS));
    printf("channel_cpu_ns_per_msg=%.1f\n", bench_median(ch_cpu, RUNS));
    printf("mutex_condvar_queue_cpu_ns_per_msg=%.1f\n", bench_median(mq_cpu, RUNS));
    printf("channel_spin_msgs_per_s=%.0f\n", bench_median(spin, RUNS));
    printf("channel_spin_vs_mutex_ratio=%.2f\n", bench_median(spin_ratio, RUNS));
    printf("channel_spin_cpu_ns_per_msg=%.1f\n", bench_median(spin_cpu, RUNS));
    printf("channel_try_msgs_per_s=%.0f\n", bench_median(try_first, RUNS));
    printf("channel_try_vs_mutex_ratio=%.2f\n", bench_median(try_ratio, RUNS));
    printf("channel_local_future_ns_per_msg=%.2f\n", bench_median(local_future, RUNS));
    printf("channel_local_try_ns_per_msg=%.2f\n", bench_median(local_try, RUNS));
    rtt_print(&pinned, "");
    rtt_print(&unpinned, "_unpinned");
    return 0;
}
