/*
 * tests/test_mesh.c - a full mesh of channels among a pool's shards, and the
 * shard a key belongs to.
 *
 * Cases: four shards each send to every other and receive from all at once
 * (four threads on this 2-CPU machine), and each message arrives once, at
 * the right shard, in order per sender; a shard that finishes early has its
 * ends closed by the pool, so a peer sending to it gets -EPIPE and a peer
 * receiving gets the end once every peer is done, instead of waiting
 * forever, and meanwhile parks instead of polling the closed peer again and
 * again; on one executor, where the order is fixed: receiving takes the
 * peers in turn, so one busy peer cannot starve another, a receive dropped
 * while it waits leaves no waiter behind, and closing and misuse behave as
 * mesh.h says, and a mesh whose channels together would not fit in the
 * machine's memory is refused; rt_shard_of() gives the same shard for a
 * key everywhere (values computed independently of the code) and spreads
 * keys evenly, including keys that differ only in their last characters.
 */
#include "harness.h"

#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

TEST_SINCE_PHASE(4);

/* A mesh message: who sent it to whom, and its number in that sender's stream to that peer. */
struct note {
    uint32_t from, to;
    uint64_t seq;
};

/* ------------------------------------------------------------ all to all */

#define SHARDS    4
#define PER_PEER  2000 /* messages from each shard to each other one */
#define MESH_SLOT 4    /* a small ring: senders wait often */

/* Sends PER_PEER notes to every peer, peers in turn. */
struct spray {
    struct rt_async async;
    unsigned me;
    uint32_t peer;
    struct note note;
    struct rt_mesh_send send;
    intptr_t res;
};

static enum rt_poll spray_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spray *f = (struct spray *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->note.seq = 0; f->note.seq < PER_PEER; f->note.seq++) {
        for (f->peer = 0; f->peer < SHARDS; f->peer++) {
            if (f->peer == f->me)
                continue;
            f->note.from = f->me;
            f->note.to = f->peer;
            rt_mesh_send(&f->send, rt_shard_mesh(), f->me, f->peer, &f->note);
            AWAIT(&f->send.send.async.future, &f->res);
            if (f->res != 0)
                ck_abort_msg("shard %u to %u: %d", f->me, f->peer, (int)f->res);
        }
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable spray_vtable = {spray_poll, rt_async_drop};

/* A shard's main: spawn the spray, receive everything meant for it, then await the spray. */
struct exchange {
    struct rt_async async;
    unsigned me;
    uint64_t next[SHARDS]; /* the seq due next from each peer */
    unsigned got;
    struct note note;
    struct rt_join_handle spray;
    struct rt_mesh_recv recv;
    intptr_t from;
};

static enum rt_poll exchange_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct exchange *f = (struct exchange *)self;

    ASYNC_BEGIN(f, cx, out);
    f->me = (unsigned)rt_shard_id();
    {
        struct spray spray = {.async = RT_ASYNC_INIT(&spray_vtable), .me = f->me};
        f->spray = rt_spawn(&spray.async.future, sizeof(spray));
    }
    for (f->got = 0; f->got < (SHARDS - 1) * PER_PEER; f->got++) {
        rt_mesh_recv(&f->recv, rt_shard_mesh(), f->me, &f->note);
        AWAIT(&f->recv.async.future, &f->from);
        if (f->from < 0 || f->from >= SHARDS || f->from == f->me || f->note.to != f->me ||
            f->note.from != f->from || f->note.seq != f->next[f->from])
            ck_abort_msg("shard %u got from %d: {from %u, to %u, seq %llu}, %llu due", f->me,
                         (int)f->from, f->note.from, f->note.to, (unsigned long long)f->note.seq,
                         (unsigned long long)f->next[f->from < 0 ? 0 : f->from]);
        f->next[f->from]++;
    }
    AWAIT(&f->spray.future, NULL);
    ASYNC_RETURN(f->got);
    ASYNC_END;
}

static const struct rt_future_vtable exchange_vtable = {exchange_poll, rt_async_drop};

static size_t make_exchange(unsigned shard, void *arg, void *buf)
{
    struct exchange f = {.async = RT_ASYNC_INIT(&exchange_vtable)};

    (void)shard;
    (void)arg;
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

START_TEST(four_shards_exchange_all_to_all)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_pool *p;
    intptr_t out[SHARDS];

    b.shards = SHARDS;
    b.mesh_capacity = MESH_SLOT;
    b.mesh_msg_size = sizeof(struct note);
    ck_assert_int_eq(rt_pool_start(&b, make_exchange, NULL, &p), 0);
    rt_pool_join(p, out);
    for (int k = 0; k < SHARDS; k++)
        ck_assert_int_eq(out[k], (SHARDS - 1) * PER_PEER);
}
END_TEST

/* ------------------------------------------------------------ finishing early */

/*
 * Three shards. Shard 0 returns at once. Shard 1 sends 5 notes to shard 2,
 * then sends to shard 0 until that is -EPIPE (shard 0 never receives, so at
 * most a ring's worth gets in). Shard 2 receives until the end, which comes
 * once shards 0 and 1 have both finished. Nobody waits forever.
 */
struct early {
    struct rt_async async;
    unsigned me;
    intptr_t count, res;
    struct note note;
    struct rt_mesh_send send;
    struct rt_mesh_recv recv;
};

static enum rt_poll early_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct early *f = (struct early *)self;

    ASYNC_BEGIN(f, cx, out);
    f->me = (unsigned)rt_shard_id();
    if (f->me == 0)
        ASYNC_RETURN(0);
    if (f->me == 1) {
        for (f->count = 0; f->count < 5; f->count++) {
            rt_mesh_send(&f->send, rt_shard_mesh(), 1, 2, &f->note);
            AWAIT(&f->send.send.async.future, &f->res);
            ck_assert_int_eq(f->res, 0);
        }
        for (f->count = 0;; f->count++) {
            rt_mesh_send(&f->send, rt_shard_mesh(), 1, 0, &f->note);
            AWAIT(&f->send.send.async.future, &f->res);
            if (f->res == -EPIPE)
                break;
            ck_assert_int_eq(f->res, 0);
        }
        ASYNC_RETURN(f->count); /* how many got into shard 0's ring before it closed */
    }
    for (f->count = 0;; f->count++) {
        rt_mesh_recv(&f->recv, rt_shard_mesh(), 2, &f->note);
        AWAIT(&f->recv.async.future, &f->res);
        if (f->res == -EPIPE)
            break;
        ck_assert_int_eq(f->res, 1);
    }
    ASYNC_RETURN(f->count);
    ASYNC_END;
}

static const struct rt_future_vtable early_vtable = {early_poll, rt_async_drop};

static size_t make_early(unsigned shard, void *arg, void *buf)
{
    struct early f = {.async = RT_ASYNC_INIT(&early_vtable)};

    (void)shard;
    (void)arg;
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

START_TEST(a_shard_that_finishes_early_leaves_nobody_waiting)
{
    for (int round = 0; round < 20; round++) { /* shard 0 ends at a different moment each time */
        struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
        struct rt_pool *p;
        intptr_t out[3];

        b.shards = 3;
        b.mesh_capacity = 4;
        b.mesh_msg_size = sizeof(struct note);
        ck_assert_int_eq(rt_pool_start(&b, make_early, NULL, &p), 0);
        rt_pool_join(p, out);
        ck_assert_int_eq(out[0], 0);
        ck_assert_int_ge(out[1], 0);
        ck_assert_int_le(out[1], 4);
        ck_assert_int_eq(out[2], 5);
    }
}
END_TEST

/*
 * A peer that has closed, its channel drained, is done with: a receive that
 * still waits for the other peers must park, not find the closed channel
 * ready again and again inside one poll, which would keep every other task
 * of its shard from running. Three shards; shard 1 returns at once. Shard 0
 * sends to shard 1 until -EPIPE, so shard 1 has closed by then (it closes
 * its sending end to shard 0 first); then it spawns a second task, which
 * sends a note to shard 2, and receives. Shard 2 answers that note: shard
 * 0's receive gets something only if its second task ran while it waited.
 */
struct ask {
    struct rt_async async;
    struct note note;
    struct rt_mesh_send send;
    intptr_t res;
};

static enum rt_poll ask_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct ask *f = (struct ask *)self;

    ASYNC_BEGIN(f, cx, out);
    f->note = (struct note){.from = 0, .to = 2};
    rt_mesh_send(&f->send, rt_shard_mesh(), 0, 2, &f->note);
    AWAIT(&f->send.send.async.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable ask_vtable = {ask_poll, rt_async_drop};

struct answered {
    struct rt_async async;
    unsigned me;
    struct note note;
    struct rt_mesh_send send;
    struct rt_mesh_recv recv;
    struct rt_join_handle ask;
    intptr_t from, res;
};

static enum rt_poll answered_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct answered *f = (struct answered *)self;

    ASYNC_BEGIN(f, cx, out);
    f->me = (unsigned)rt_shard_id();
    if (f->me == 1)
        ASYNC_RETURN(1);
    if (f->me == 2) {
        rt_mesh_recv(&f->recv, rt_shard_mesh(), 2, &f->note);
        AWAIT(&f->recv.async.future, &f->from);
        ck_assert_int_eq(f->from, 0);
        f->note = (struct note){.from = 2, .to = 0};
        rt_mesh_send(&f->send, rt_shard_mesh(), 2, 0, &f->note);
        AWAIT(&f->send.send.async.future, &f->res);
        ck_assert_int_eq(f->res, 0);
        ASYNC_RETURN(f->from);
    }
    do {
        rt_mesh_send(&f->send, rt_shard_mesh(), 0, 1, &f->note);
        AWAIT(&f->send.send.async.future, &f->res);
    } while (f->res == 0);
    ck_assert_int_eq(f->res, -EPIPE);
    {
        struct ask ask = {.async = RT_ASYNC_INIT(&ask_vtable)};
        f->ask = rt_spawn(&ask.async.future, sizeof(ask));
    }
    rt_mesh_recv(&f->recv, rt_shard_mesh(), 0, &f->note);
    AWAIT(&f->recv.async.future, &f->from);
    ck_assert_int_eq(f->note.from, 2);
    AWAIT(&f->ask.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    ASYNC_RETURN(f->from);
    ASYNC_END;
}

static const struct rt_future_vtable answered_vtable = {answered_poll, rt_async_drop};

static size_t make_answered(unsigned shard, void *arg, void *buf)
{
    struct answered f = {.async = RT_ASYNC_INIT(&answered_vtable)};

    (void)shard;
    (void)arg;
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

START_TEST(a_closed_peer_does_not_keep_a_receive_polling)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_pool *p;
    intptr_t out[3];

    b.shards = 3;
    b.mesh_capacity = 4;
    b.mesh_msg_size = sizeof(struct note);
    ck_assert_int_eq(rt_pool_start(&b, make_answered, NULL, &p), 0);
    rt_pool_join(p, out);
    ck_assert_int_eq(out[0], 2); /* shard 0 heard from shard 2 */
    ck_assert_int_eq(out[1], 1);
    ck_assert_int_eq(out[2], 0); /* and shard 2 from shard 0's second task */
}
END_TEST

/* ------------------------------------------------------------ on one executor */

/*
 * All three shards' ends used from one executor, one step at a time.
 * Shards 1 and 2 fill their rings to shard 0 (4 notes each); shard 0's
 * receives then alternate between them, 1 first (the peer after shard 0
 * itself). Then shard 0 is done: a send to it is -EPIPE, while shard 1 can
 * still send to shard 2. Then shard 1 is done: shard 2 gets its last note,
 * then the end, since no peer is left.
 */
struct turns {
    struct rt_async async;
    struct rt_mesh *m;
    intptr_t *order; /* the test's: the sender of each of shard 0's 8 receives */
    int i;
    unsigned from;
    struct note note;
    struct rt_mesh_send send;
    struct rt_mesh_recv recv;
    intptr_t res;
};

static enum rt_poll turns_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct turns *f = (struct turns *)self;

    ASYNC_BEGIN(f, cx, out);
    for (f->from = 1; f->from <= 2; f->from++) {
        for (f->i = 0; f->i < 4; f->i++) {
            f->note = (struct note){.from = f->from, .to = 0, .seq = (uint64_t)f->i};
            rt_mesh_send(&f->send, f->m, f->from, 0, &f->note);
            AWAIT(&f->send.send.async.future, &f->res);
            ck_assert_int_eq(f->res, 0);
        }
    }
    for (f->i = 0; f->i < 8; f->i++) {
        rt_mesh_recv(&f->recv, f->m, 0, &f->note);
        AWAIT(&f->recv.async.future, &f->res);
        f->order[f->i] = f->res;
        ck_assert_int_eq(f->note.from, f->res);
        ck_assert_int_eq(f->note.seq, f->i / 2);
    }
    /* Shard 0 is done: shard 1's next send to it fails, its sends to shard 2 do not. */
    rt_mesh_close_shard(f->m, 0);
    rt_mesh_send(&f->send, f->m, 1, 0, &f->note);
    AWAIT(&f->send.send.async.future, &f->res);
    ck_assert_int_eq(f->res, -EPIPE);
    rt_mesh_send(&f->send, f->m, 1, 2, &f->note);
    AWAIT(&f->send.send.async.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    /* Shard 1 is done too: shard 2 gets shard 1's note, then the end. */
    rt_mesh_close_shard(f->m, 1);
    rt_mesh_recv(&f->recv, f->m, 2, &f->note);
    AWAIT(&f->recv.async.future, &f->res);
    ck_assert_int_eq(f->res, 1);
    rt_mesh_recv(&f->recv, f->m, 2, &f->note);
    AWAIT(&f->recv.async.future, &f->res);
    ck_assert_int_eq(f->res, -EPIPE);
    rt_mesh_close_shard(f->m, 2);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable turns_vtable = {turns_poll, rt_async_drop};

START_TEST(receiving_takes_the_peers_in_turn)
{
    intptr_t order[8];
    struct turns f = {.async = RT_ASYNC_INIT(&turns_vtable), .order = order};

    ck_assert_int_eq(rt_mesh_create(3, 4, sizeof(struct note), &f.m), 0);
    ck_assert_uint_eq(rt_mesh_shards(f.m), 3);
    test_run(&f.async.future, sizeof(f));
    rt_mesh_destroy(f.m);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(order[i], i % 2 ? 2 : 1);
}
END_TEST

/*
 * A receive that waits holds a wait on its executor's list, and with it a
 * waker that keeps its task's block. Dropped while it waits (its task
 * cancelled), it must take the wait off the list at once: mesh.c gives a
 * receive a drop function only when it starts to wait, and one that never
 * switched would leave the wait, and the task's block, until a
 * notification came. Shards 0 and 1 of a mesh on one executor: a task
 * waits to receive on shard 1, main cancels it, the executor's blocks must
 * be back to where they were; then a note from shard 0 rings the flag the
 * dropped receive raised, and a new receive gets it.
 */
struct dropped_receive {
    struct rt_async async;
    struct rt_mesh *m;
    intptr_t *got; /* the test's: the sender the receiving task heard from; -1 until then */
    unsigned long outstanding;
    int i;
    struct note note;
    struct rt_mesh_send send;
    struct rt_join_handle receiving;
    struct rt_yield yield;
    intptr_t res;
};

/* Receives one note on shard 1 and records its sender in *got. */
struct receive_one {
    struct rt_async async;
    struct rt_mesh *m;
    intptr_t *got;
    struct note note;
    struct rt_mesh_recv recv;
    intptr_t from;
};

static enum rt_poll receive_one_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct receive_one *f = (struct receive_one *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_mesh_recv(&f->recv, f->m, 1, &f->note);
    AWAIT(&f->recv.async.future, &f->from);
    *f->got = f->from;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable receive_one_vtable = {receive_one_poll, rt_async_drop};

static unsigned long blocks_outstanding(void)
{
    struct rt_memory_stats st;

    rt_executor_memory_stats(rt_executor_current(), &st);
    return st.outstanding;
}

static struct rt_join_handle spawn_receive_one(struct dropped_receive *f)
{
    struct receive_one r = {.async = RT_ASYNC_INIT(&receive_one_vtable), .m = f->m, .got = f->got};

    return rt_spawn(&r.async.future, sizeof(r));
}

static enum rt_poll dropped_receive_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct dropped_receive *f = (struct dropped_receive *)self;

    ASYNC_BEGIN(f, cx, out);
    f->outstanding = blocks_outstanding();
    f->receiving = spawn_receive_one(f);
    for (f->i = 0; f->i < 10; f->i++) {
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ck_assert_int_eq(*f->got, -1); /* it waits */
    ck_assert(rt_join_cancel(&f->receiving));
    rt_join_detach(&f->receiving);
    ck_assert_uint_eq(blocks_outstanding(), f->outstanding); /* nothing holds the task */

    /* A note for shard 1: the flag the dropped receive raised rings the doorbell. */
    f->note = (struct note){.from = 0, .to = 1, .seq = 5};
    rt_mesh_send(&f->send, f->m, 0, 1, &f->note);
    AWAIT(&f->send.send.async.future, &f->res);
    ck_assert_int_eq(f->res, 0);
    for (f->i = 0; f->i < 10; f->i++) {
        rt_yield_now(&f->yield);
        AWAIT(&f->yield.future, NULL);
    }
    ck_assert_int_eq(*f->got, -1); /* nobody took it */

    /* A new receive gets it. */
    f->receiving = spawn_receive_one(f);
    AWAIT(&f->receiving.future, NULL);
    ck_assert_int_eq(*f->got, 0); /* from shard 0 */
    rt_mesh_close_shard(f->m, 0);
    rt_mesh_close_shard(f->m, 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable dropped_receive_vtable = {dropped_receive_poll, rt_async_drop};

START_TEST(a_receive_dropped_while_it_waits_leaves_no_waiter_behind)
{
    intptr_t got = -1;
    struct dropped_receive f = {.async = RT_ASYNC_INIT(&dropped_receive_vtable), .got = &got};

    ck_assert_int_eq(rt_mesh_create(2, 4, sizeof(struct note), &f.m), 0);
    test_run(&f.async.future, sizeof(f));
    rt_mesh_destroy(f.m);
    ck_assert_int_eq(got, 0);
}
END_TEST

START_TEST(sizes_out_of_range_are_refused)
{
    struct rt_mesh *m = NULL;

    ck_assert_int_eq(rt_mesh_create(0, 4, 8, &m), -EINVAL);
    ck_assert_int_eq(rt_mesh_create(1025, 4, 8, &m), -EINVAL);
    ck_assert_int_eq(rt_mesh_create(2, 0, 8, &m), -EINVAL);
    ck_assert_int_eq(rt_mesh_create(2, 4, 0, &m), -EINVAL);
    ck_assert_int_eq(rt_mesh_create(2, 4, 65537, &m), -EINVAL);
    ck_assert_ptr_null(m);
    /* One shard: a mesh without channels. */
    ck_assert_int_eq(rt_mesh_create(1, 4, 8, &m), 0);
    rt_mesh_close_shard(m, 0);
    rt_mesh_destroy(m);
}
END_TEST

/*
 * Each channel within its limit (1 GiB of slots), but 1024 * 1023 of them:
 * about a petabyte. Refused before anything is allocated, where making them
 * one by one would die out of memory on the way.
 */
START_TEST(a_mesh_larger_than_the_machine_is_refused)
{
    struct rt_mesh *m = NULL;
    long live = rt__alloc_live();

    ck_assert_int_eq(rt_mesh_create(1024, 1u << 24, 64, &m), -ENOMEM);
    /*
     * The fewest shards whose N * (N - 1) channels of 1 GiB do not fit in
     * this machine, though N of them would (24 GiB of memory: 6 shards, 30
     * channels): every channel counts, not one per shard.
     */
    {
        double memory = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        double gib = (double)(1u << 30);
        unsigned n = 2;

        while ((double)n * (n - 1) * gib <= memory)
            n++;
        ck_assert_uint_le(n, 1024);
        ck_assert_int_eq(rt_mesh_create(n, 1u << 24, 64, &m), -ENOMEM);
    }
    ck_assert_int_eq(rt_mesh_create(2, 1u << 24, 64 << 10, &m), -EINVAL); /* one channel too big */
    ck_assert_ptr_null(m);
    ck_assert_int_eq(rt__alloc_live(), live);
}
END_TEST

/* A lone shard has no peer: its receive reports the end at once. */
struct lone {
    struct rt_async async;
    struct rt_mesh *m;
    struct note note;
    struct rt_mesh_recv recv;
    intptr_t res;
};

static enum rt_poll lone_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct lone *f = (struct lone *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_mesh_recv(&f->recv, f->m, 0, &f->note);
    AWAIT(&f->recv.async.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable lone_vtable = {lone_poll, rt_async_drop};

START_TEST(a_lone_shard_receives_the_end)
{
    struct lone f = {.async = RT_ASYNC_INIT(&lone_vtable)};

    ck_assert_int_eq(rt_mesh_create(1, 4, 8, &f.m), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -EPIPE);
    rt_mesh_close_shard(f.m, 0);
    rt_mesh_destroy(f.m);
}
END_TEST

static struct rt_mesh *misused;

static void destroy_with_shard_1_open(void *arg)
{
    (void)arg;
    ck_assert_int_eq(rt_mesh_create(3, 4, 8, &misused), 0);
    rt_mesh_close_shard(misused, 0);
    rt_mesh_close_shard(misused, 2);
    rt_mesh_destroy(misused);
}

static void send_to_oneself(void *arg)
{
    (void)arg;
    struct rt_mesh_send f;
    struct note note;

    ck_assert_int_eq(rt_mesh_create(2, 4, 8, &misused), 0);
    rt_mesh_send(&f, misused, 1, 1, &note);
}

static void send_from_a_closed_shard(void *arg)
{
    (void)arg;
    struct rt_mesh_send f;
    struct note note;

    ck_assert_int_eq(rt_mesh_create(2, 4, 8, &misused), 0);
    rt_mesh_close_shard(misused, 0);
    rt_mesh_send(&f, misused, 0, 1, &note);
}

static void receive_as_no_shard(void *arg)
{
    (void)arg;
    struct rt_mesh_recv f;
    struct note note;

    ck_assert_int_eq(rt_mesh_create(2, 4, 8, &misused), 0);
    rt_mesh_recv(&f, misused, 2, &note);
}

static void shard_of_no_shards(void *arg)
{
    (void)arg;
    rt_shard_of("k", 1, 0);
}

static void shard_of_no_key(void *arg)
{
    (void)arg;
    rt_shard_of(NULL, 1, 4);
}

START_TEST(misuse_stops_the_program_naming_the_shard)
{
    test_expect_die(destroy_with_shard_1_open, NULL, "shard 1 has not closed its ends");
    test_expect_die(send_to_oneself, NULL, "from shard 1 to shard 1 in a mesh of 2");
    test_expect_die(send_from_a_closed_shard, NULL, "shard 0 has closed its ends");
    test_expect_die(receive_as_no_shard, NULL, "shard 2 in a mesh of 2");
    test_expect_die(shard_of_no_shards, NULL, "rt_shard_of: 0 shards");
    test_expect_die(shard_of_no_key, NULL, "rt_shard_of: key is NULL");
}
END_TEST

/* ------------------------------------------------------------ rt_shard_of */

/*
 * Known values, computed outside this code (a few lines of Python): FNV-1a
 * 64 of the key, MurmurHash3's fmix64 on that, top 32 bits times the shard
 * count, shifted right by 32. A change here moves keys between shards of
 * every deployed program: it must be deliberate.
 */
START_TEST(shard_of_is_stable)
{
    static const struct {
        const char *key;
        size_t len;
        unsigned shards[7];
    } known[] = {
        /* shard counts:            1  2  3  4  7  16  1024 */
        {"", 0, {0, 1, 2, 3, 6, 14, 959}},         {"a", 1, {0, 1, 1, 2, 3, 8, 522}},
        {"foobar", 6, {0, 0, 0, 0, 1, 2, 176}},    {"key:42", 6, {0, 0, 1, 1, 2, 5, 359}},
        {"user:1000", 9, {0, 0, 1, 1, 3, 7, 455}}, {"\x00\xff", 2, {0, 1, 2, 2, 4, 10, 690}},
    };
    static const unsigned counts[7] = {1, 2, 3, 4, 7, 16, 1024};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        for (int j = 0; j < 7; j++)
            ck_assert_msg(rt_shard_of(known[i].key, known[i].len, counts[j]) == known[i].shards[j],
                          "key %zu over %u shards: %u, not %u", i, counts[j],
                          rt_shard_of(known[i].key, known[i].len, counts[j]), known[i].shards[j]);
}
END_TEST

/*
 * 100,000 keys in each of three families over 2 to 16 shards: every shard
 * gets its share within 5%. Keys that differ only in their last characters
 * ("key:0" ... "key:99999", and redis-benchmark's "key:000000012345") are
 * the hard case for a hash's high bits, which the multiply-shift reads.
 */
START_TEST(shard_of_spreads_keys_evenly)
{
    static const char *const formats[] = {"key:%u", "key:%012u", "%u:session"};
    static const unsigned counts[] = {2, 3, 4, 7, 16};
    enum { KEYS = 100000 };

    for (int fam = 0; fam < 3; fam++) {
        for (int c = 0; c < 5; c++) {
            unsigned n = counts[c], per[16] = {0};
            double share = (double)KEYS / n;

            for (unsigned i = 0; i < KEYS; i++) {
                char key[32];
                int len = snprintf(key, sizeof(key), formats[fam], i);

                per[rt_shard_of(key, (size_t)len, n)]++;
            }
            for (unsigned s = 0; s < n; s++)
                ck_assert_msg(per[s] > share * 0.95 && per[s] < share * 1.05,
                              "keys \"%s\" over %u shards: shard %u got %u, a fair share is %.0f",
                              formats[fam], n, s, per[s], share);
        }
    }
}
END_TEST

Suite *suite_mesh(void)
{
    Suite *s = suite_create("mesh");
    TCase *tc = test_case("mesh");

    tcase_add_test(tc, four_shards_exchange_all_to_all);
    tcase_add_test(tc, a_shard_that_finishes_early_leaves_nobody_waiting);
    tcase_add_test(tc, a_closed_peer_does_not_keep_a_receive_polling);
    tcase_add_test(tc, receiving_takes_the_peers_in_turn);
    tcase_add_test(tc, a_receive_dropped_while_it_waits_leaves_no_waiter_behind);
    tcase_add_test(tc, sizes_out_of_range_are_refused);
    tcase_add_test(tc, a_mesh_larger_than_the_machine_is_refused);
    tcase_add_test(tc, a_lone_shard_receives_the_end);
    tcase_add_test(tc, misuse_stops_the_program_naming_the_shard);
    tcase_add_test(tc, shard_of_is_stable);
    tcase_add_test(tc, shard_of_spreads_keys_evenly);
    suite_add_tcase(s, tc);
    return s;
}
