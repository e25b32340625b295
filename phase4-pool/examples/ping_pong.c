/*
 * ping_pong.c - two shards of a pool pass a number back and forth over two
 * channels, and the round trip is timed.
 *
 * Shard 0 sends i on one channel and waits for it to come back on the other;
 * shard 1 sends back whatever arrives. Each round trip is timed on its own
 * (the clock is read twice per round trip, which costs a few tens of
 * nanoseconds), and the median and the 99th percentile are printed.
 *
 * Between messages each shard has nothing to do, so it parks: it sleeps in
 * the kernel, and the other side's send wakes it through its doorbell (a
 * futex wake, as nothing of its own is in the ring: phase 3's
 * rt_executor_notify). That is most of a round
 * trip. With --spin NS each executor first looks for work for up to NS
 * nanoseconds before it parks (the builder's spin_before_park_ns): when the
 * answer comes within that time, nobody sleeps, and the round trip drops to
 * what the cores need to pass a cache line back and forth, at the price of
 * two CPUs kept busy.
 *
 * With two usable CPUs the shards are spread over two (one per core); with
 * one, they share it, and every round trip needs the kernel to switch.
 *
 * Run: make phase4 && build/phase4/examples/ping_pong [--rounds 10000] [--spin NS]
 */
#define _GNU_SOURCE /* sched_getaffinity() and CPU_COUNT() are GNU extensions */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/bench.h"
#include "common/clock.h"
#include "rt.h"

/*
 * The most round trips: a hundred times the default. Their times take 8 MB,
 * and at 10 us or more per parked round trip they last 10 s or more.
 */
#define MAX_ROUNDS  1000000
/* The longest --spin: the pool refuses a spin_before_park_ns over a second (executor.c). */
#define MAX_SPIN_NS ((long)NSEC_PER_SEC)

/* What both shards share; main() owns it and outlives the pool. */
struct game {
    struct rt_channel *there, *back;
    long rounds;
    double *rtt_ns; /* rounds of them, written by shard 0 */
};

/* Shard 0: send i, wait for it to come back, write down how long that took. */
struct ping {
    struct rt_async async;
    struct game *g;
    long i;
    uint64_t msg, start;
    struct rt_channel_send send;
    struct rt_channel_recv recv;
    intptr_t res;
};

static enum rt_poll ping_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct ping *f = (struct ping *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->i = 0; f->i < f->g->rounds; f->i++) {
        f->start = now_ns();
        f->msg = (uint64_t)f->i;
        rt_channel_send(&f->send, f->g->there, &f->msg);
        AWAIT(&f->send.async.future, &f->res);
        rt_channel_recv(&f->recv, f->g->back, &f->msg);
        AWAIT(&f->recv.async.future, &f->res);
        if (f->res != 1 || f->msg != (uint64_t)f->i)
            ASYNC_RETURN(-EPROTO);
        f->g->rtt_ns[f->i] = (double)(now_ns() - f->start);
    }
    /* Closing our sending end is how shard 1 learns that the game is over. */
    rt_channel_close_tx(f->g->there);
    rt_channel_close_rx(f->g->back);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable ping_vtable = {ping_poll, rt_async_drop};

/* Shard 1: send back whatever comes, until the other end closes. */
struct pong {
    struct rt_async async;
    struct game *g;
    uint64_t msg;
    struct rt_channel_send send;
    struct rt_channel_recv recv;
    intptr_t res;
};

static enum rt_poll pong_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct pong *f = (struct pong *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_channel_recv(&f->recv, f->g->there, &f->msg);
        AWAIT(&f->recv.async.future, &f->res);
        if (f->res == 0)
            break; /* the end: shard 0 closed */
        rt_channel_send(&f->send, f->g->back, &f->msg);
        AWAIT(&f->send.async.future, &f->res);
    }
    rt_channel_close_rx(f->g->there);
    rt_channel_close_tx(f->g->back);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable pong_vtable = {pong_poll, rt_async_drop};

/* The pool calls this on each shard's thread: shard 0 pings, shard 1 pongs. */
static size_t make_player(unsigned shard, void *arg, void *buf)
{
    struct ping ping = {.async = RT_ASYNC_INIT(&ping_vtable), .g = arg};
    struct pong pong = {.async = RT_ASYNC_INIT(&pong_vtable), .g = arg};

    if (shard == 0) {
        memcpy(buf, &ping, sizeof(ping));
        return sizeof(ping);
    }
    memcpy(buf, &pong, sizeof(pong));
    return sizeof(pong);
}

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status), "usage: %s [--rounds N] [--spin NS]\n", prog);
    return status;
}

/* Free what main() made, on a way out before the game was played: both channels and the times. */
static void game_free(struct game *g)
{
    /* A channel is freed with the last of its two ends (channel.h). */
    if (g->there) {
        rt_channel_close_tx(g->there);
        rt_channel_close_rx(g->there);
    }
    if (g->back) {
        rt_channel_close_tx(g->back);
        rt_channel_close_rx(g->back);
    }
    free(g->rtt_ns);
}

int main(int argc, char **argv)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct game g = {.rounds = 10000};
    struct rt_pool *pool;
    intptr_t out[2];
    cpu_set_t mask;
    long spin = 0;
    double median;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage(argv[0], 2);
        if (strcmp(argv[i], "--rounds") == 0) {
            if (!args_number("ping_pong", argv[i], argv[i + 1], 1, MAX_ROUNDS, &g.rounds))
                return usage(argv[0], 2);
        } else if (strcmp(argv[i], "--spin") == 0) {
            if (!args_number("ping_pong", argv[i], argv[i + 1], 0, MAX_SPIN_NS, &spin))
                return usage(argv[0], 2);
        } else {
            return usage(argv[0], 2);
        }
    }
    g.rtt_ns = calloc((size_t)g.rounds, sizeof(double));
    if (!g.rtt_ns || rt_channel_create(2, sizeof(uint64_t), &g.there) < 0 ||
        rt_channel_create(2, sizeof(uint64_t), &g.back) < 0) {
        fprintf(stderr, "ping_pong: out of memory\n");
        game_free(&g);
        return 1;
    }

    b.shards = 2;
    b.executor.spin_before_park_ns = (uint64_t)spin;
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_COUNT(&mask) >= 2)
        b.placement.kind = RT_PLACEMENT_SPREAD;
    if (rt_pool_start(&b, make_player, &g, &pool) < 0) {
        /* No shard ever ran (rt_pool_start is all or nothing): every end is still main()'s. */
        fprintf(stderr, "ping_pong: %s\n", rt_last_error());
        game_free(&g);
        return 1;
    }
    printf("ping_pong: shard 0 on CPU %d, shard 1 on CPU %d (-1: unbound), %ld round trips, "
           "%s\n",
           rt_pool_shard_cpu(pool, 0), rt_pool_shard_cpu(pool, 1), g.rounds,
           spin ? "spinning before parking" : "parking while waiting");
    rt_pool_join(pool, out);
    if (out[0] < 0) {
        fprintf(stderr, "ping_pong: a round trip brought back the wrong number\n");
        free(g.rtt_ns);
        return 1;
    }
    median = bench_median(g.rtt_ns, (size_t)g.rounds); /* sorts them: the p99 is an index */
    printf("ping_pong: round trip median %.1f us, p99 %.1f us, min %.1f us, max %.1f us\n",
           median / 1000, g.rtt_ns[(size_t)(g.rounds * 99 / 100)] / 1000, g.rtt_ns[0] / 1000,
           g.rtt_ns[g.rounds - 1] / 1000);
    free(g.rtt_ns);
    return 0;
}
