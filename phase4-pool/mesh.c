/*
 * mesh.c - N * (N - 1) channels, and receiving from any of them. New in phase 4.
 *
 * Each channel has two pointers to it: tx[from][to], which only shard
 * `from` reads and clears, and rx[from][to], which only shard `to` does.
 * So no shard ever writes memory another shard reads, here either.
 */
#include "mesh.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fatal.h"

#define SHARDS_MAX 1024

struct rt_mesh {
    unsigned n; /* shards */
    struct rt_channel *
        *tx; /* tx[from * n + to]: the sending end; NULL once closed or if from == to */
    struct rt_channel **rx; /* rx[from * n + to]: the receiving end; NULL once closed ... */
    bool *ended;            /* ended[from * n + to]: the receiver has seen that channel's end */
    struct inbox *inbox;    /* inbox[me]: what shard `me` keeps about its receiving */
};

/* Padded to a cache line: each shard writes its own on every receive, and must not slow the others.
 */
struct inbox {
    unsigned next; /* the peer to look at first: round robin, so no peer starves the others */
    char pad[64 - sizeof(unsigned)];
};

/*
 * The bytes of slots in one channel of `capacity` slots of `msg_size`
 * bytes, rounded as rt_channel_create() rounds them. Call it with sizes the
 * channel took: then it is at most 1 GiB.
 */
static size_t ring_bytes(size_t capacity, size_t msg_size)
{
    size_t slots = 2;

    while (slots < capacity)
        slots *= 2;
    return slots * msg_size;
}

/* The machine's memory in bytes (SIZE_MAX if it cannot be read). */
static size_t machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);

    if (pages <= 0 || page_size <= 0 || (unsigned long)pages > SIZE_MAX / (unsigned long)page_size)
        return SIZE_MAX;
    return (size_t)pages * (size_t)page_size;
}

int rt_mesh_create(unsigned shards, size_t capacity, size_t msg_size, struct rt_mesh **out)
{
    size_t cells = (size_t)shards * shards;
    struct rt_mesh *m;
    struct rt_channel *probe;
    int err;

    ASSERT_ARG(out);
    if (shards == 0 || shards > SHARDS_MAX)
        return -EINVAL;
    /* Check the sizes once, so that a failure cannot leave half a mesh behind. */
    err = rt_channel_create(capacity, msg_size, &probe);
    if (err < 0)
        return err;
    rt_channel_close_tx(probe);
    rt_channel_close_rx(probe);
    /*
     * Each channel fits (at most 1 GiB), but there are N * (N - 1) of them:
     * 1,024 shards of 1 GiB channels would ask for a petabyte, and die out of
     * memory half way. At most 2^20 cells of 2^30 bytes: no overflow.
     */
    if ((cells - shards) * ring_bytes(capacity, msg_size) > machine_memory())
        return -ENOMEM;

    m = rt__calloc(1, sizeof(*m));
    m->n = shards;
    m->tx = rt__calloc(cells, sizeof(*m->tx));
    m->rx = rt__calloc(cells, sizeof(*m->rx));
    m->ended = rt__calloc(cells, sizeof(*m->ended));
    m->inbox = rt__calloc(shards, sizeof(*m->inbox));
    for (unsigned from = 0; from < shards; from++) {
        for (unsigned to = 0; to < shards; to++) {
            if (from == to)
                continue;
            ASSERT(rt_channel_create(capacity, msg_size, &m->tx[from * shards + to]) == 0);
            m->rx[from * shards + to] = m->tx[from * shards + to];
        }
    }
    *out = m;
    return 0;
}

void rt_mesh_destroy(struct rt_mesh *m)
{
    ASSERT_ARG(m);
    /* Cell from * n + to: its sending end is shard `from`'s, its receiving end shard `to`'s. */
    for (size_t i = 0; i < (size_t)m->n * m->n; i++)
        if (m->tx[i] || m->rx[i])
            rt__die("rt_mesh_destroy: shard %zu has not closed its ends",
                    m->tx[i] ? i / m->n : i % m->n);
    rt__free(m->tx);
    rt__free(m->rx);
    rt__free(m->ended);
    rt__free(m->inbox);
    rt__free(m);
}

unsigned rt_mesh_shards(const struct rt_mesh *m)
{
    ASSERT_ARG(m);
    return m->n;
}

void rt_mesh_close_shard(struct rt_mesh *m, unsigned me)
{
    ASSERT_ARG(m);
    ASSERT(me < m->n);
    for (unsigned peer = 0; peer < m->n; peer++) {
        struct rt_channel **out = &m->tx[me * m->n + peer], **in = &m->rx[peer * m->n + me];

        /* Each end is closed once; the second close of a channel, at either end, frees it. */
        if (*out)
            rt_channel_close_tx(*out);
        if (*in)
            rt_channel_close_rx(*in);
        *out = *in = NULL;
    }
}

/* ------------------------------------------------------------------ send */

void rt_mesh_send(struct rt_mesh_send *f, struct rt_mesh *m, unsigned from, unsigned to,
                  const void *msg)
{
    ASSERT_ARG(f);
    ASSERT_ARG(m);
    ASSERT_ARG(msg);
    if (from >= m->n || to >= m->n || from == to)
        rt__die("rt_mesh_send: from shard %u to shard %u in a mesh of %u", from, to, m->n);
    if (!m->tx[from * m->n + to])
        rt__die("rt_mesh_send: shard %u has closed its ends", from);
    rt_channel_send(&f->send, m->tx[from * m->n + to], msg);
}

/* ------------------------------------------------------------------ receive */

/*
 * Take one message from any peer, looking first at the peer after the one
 * that gave the last message. Returns the sender, -EAGAIN when every open
 * channel is empty, or -EPIPE when every peer has closed and nothing is left.
 */
static unsigned next_peer(const struct rt_mesh *m, unsigned peer)
{
    return peer + 1 == m->n ? 0 : peer + 1; /* (peer + 1) % n, without a division per message */
}

static int try_recv_any(struct rt_mesh *m, unsigned me, void *msg_out)
{
    unsigned open = 0, peer = m->inbox[me].next;

    for (unsigned k = 0; k < m->n; k++, peer = next_peer(m, peer)) {
        size_t cell = (size_t)peer * m->n + me;
        int r;

        if (peer == me || m->ended[cell] || !m->rx[cell])
            continue;
        r = rt_channel_try_recv(m->rx[cell], msg_out);
        if (r == 1) {
            m->inbox[me].next = next_peer(m, peer);
            return (int)peer;
        }
        if (r == -ENODATA)
            m->ended[cell] = true; /* that peer has closed and its messages are all taken */
        else
            open++;
    }
    return open ? -EAGAIN : -EPIPE;
}

/* Raise the waiting flag of every open incoming channel; true if one has something after all. */
static bool any_ready(void *arg)
{
    struct rt_mesh_recv *f = arg;
    struct rt_mesh *m = f->m;
    bool ready = false;

    for (unsigned peer = 0; peer < m->n; peer++) {
        size_t cell = (size_t)peer * m->n + f->me;

        if (peer != f->me && !m->ended[cell] && m->rx[cell] && rt__channel_rx_ready(m->rx[cell]))
            ready = true;
    }
    return ready;
}

/*
 * As the channel's futures (channel.c): a receive that never waited holds
 * nothing and has no drop function; one that starts to wait takes on a
 * vtable with rt_async_drop(), since dropping it then must take its wait
 * off the executor's list.
 */
static enum rt_poll recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out);
static const struct rt_future_vtable recv_vtable = {recv_poll, NULL};
static const struct rt_future_vtable recv_waiting_vtable = {recv_poll, rt_async_drop};

static enum rt_poll recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_mesh_recv *f = (struct rt_mesh_recv *)self;

    ASYNC_BEGIN(f, cx, out);
    while ((f->res = try_recv_any(f->m, f->me, f->msg_out)) == -EAGAIN) {
        f->async.future.vtable = &recv_waiting_vtable;
        rt_wait_notify(&f->wait, any_ready, f);
        AWAIT(&f->wait.future, NULL);
    }
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

void rt_mesh_recv(struct rt_mesh_recv *f, struct rt_mesh *m, unsigned me, void *msg_out)
{
    ASSERT_ARG(f);
    ASSERT_ARG(m);
    ASSERT_ARG(msg_out);
    if (me >= m->n)
        rt__die("rt_mesh_recv: shard %u in a mesh of %u", me, m->n);
    /* Field by field, as rt_channel_recv() does (see there): the wait is set up only if needed. */
    f->async.future.vtable = &recv_vtable;
    f->async.line = 0;
    f->async.awaiting = NULL;
    f->m = m;
    f->me = me;
    f->msg_out = msg_out;
}

/* ------------------------------------------------------------------ sharding */

/*
 * FNV-1a mixes poorly into its high bits: its last step multiplies by a
 * prime with few bits set, so keys that differ only at the end ("key:17",
 * "key:18", the usual case) get hashes whose top bits barely differ, and
 * the multiply-shift below reads exactly those. This finalizer (the one
 * MurmurHash3 ends with: xor-shifts and two odd multipliers) makes every
 * bit of the hash depend on every bit of its input. Without it, the keys
 * "key:0" to "key:99999" gave one of 16 shards 25% more than its share
 * (one of 64, 70% more); with it, all 16 shares are within 3%.
 */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

unsigned rt_shard_of(const void *key, size_t len, unsigned shards)
{
    const unsigned char *p = key;
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a's offset basis */

    if (shards == 0)
        rt__die("rt_shard_of: 0 shards: there is no shard to give the key to");
    if (len > 0)
        ASSERT_ARG(key);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211); /* FNV-1a's prime */
    }
    h = mix(h);
    /* The top 32 bits, scaled to [0, shards): (x * shards) >> 32 for x < 2^32. */
    return (unsigned)(((h >> 32) * shards) >> 32);
}
