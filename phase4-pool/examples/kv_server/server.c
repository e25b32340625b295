/*
 * server.c - one shard of kv_server: its connections, its keys, and its
 * conversation with the other shards. See server.h.
 *
 * A shard runs these tasks on its executor, and nothing else touches its
 * memory:
 *
 *   acceptor      accepts connections on the shard's own listening socket
 *   connection    one per client: reads requests, has them applied, replies
 *   receiver      takes messages from the other shards (rt_mesh_recv)
 *   sender        one per peer: moves queued messages into the channel
 *   sweeper       deletes expired keys nobody asks for: a sweep every 100 ms,
 *                 in steps, for as long as its steps keep finding them
 *
 * The life of a request on a connection (the "batch" is the complete
 * requests received so far, up to BATCH_MAX of them):
 *
 *   1. Parse it and check it (commands.c, step 1). Its keys' owners are known.
 *   2. Apply it at once to the keys this shard owns, and ask each other
 *      owner in an APPLY message naming requests of the batch (consecutive
 *      requests for one shard share a message). The owner's receiver applies
 *      them to its keys, writing the results into the requests, and sends
 *      APPLIED back.
 *   3. When every request of the batch has been applied everywhere, write
 *      the replies in request order into the output, which a send takes to
 *      the client while the connection goes on to the next batch.
 *
 * Replies can therefore never come out of order, however the keys are spread:
 * they are written in one pass, in order, after all the work is done.
 *
 * Reading and sending go on side by side: a connection keeps a receive and
 * a send in flight at once, so that a client may write a whole pipeline
 * before it reads a reply (as Redis allows: it buffers the replies). The
 * replies waiting to be sent are bounded by --max-output: past it, the
 * connection writes no more replies and reads no more requests until the
 * client has taken some (the values of the replies not yet written stay in
 * the store, a reference each). So a client that does not read costs at
 * most max_output bytes of output plus one reply (which, for a GET of a
 * 512 MB value, is 512 MB: Redis too copies a value into its output
 * buffers), and its batch's requests, at most BATCH_MAX of them.
 *
 * Who owns what, across shards. The rule of the runtime holds throughout:
 * memory is freed only by the thread that allocated it, and messages are
 * copied by value into the channels.
 *   - A request (and the request bytes its arguments point into) belongs to
 *     the connection's shard. The owner of a key reads it, and writes the
 *     results for its keys into it, between APPLY and APPLIED; the
 *     connection does not touch those results, nor move its input buffer,
 *     until every APPLIED is in. The channel's release/acquire pair orders
 *     the two threads' accesses.
 *   - A value belongs to the shard that owns its key. A GET on another shard
 *     lends it: the owner takes a reference and puts the pointer in the
 *     results; the connection's shard copies the bytes into its reply, then
 *     sends the pointer back in a RELEASE message, and the owner drops the
 *     reference (freeing the value if the key was changed meanwhile). A
 *     value is never written after it is made, so reading it while lent is
 *     safe. SET copies the new value's bytes into memory of the owner's own.
 *
 * Stopping. Each shard stops accepting and shuts its connections down; each
 * connection finishes its batch (the other shards still answer) and ends.
 * Then the shard sends every peer BYE: it will send no more APPLY, and every
 * RELEASE it owes went before (the channel keeps order). When a shard has
 * had BYE from every peer and its outgoing queues are empty, nobody can need
 * anything from it, and its main future returns; the pool closes its
 * channels and joins its thread.
 */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/list.h"
#include "resp.h"
#include "rt.h"
#include "store.h"
#include "util.h"

#define BATCH_MIN   16          /* a connection's first batch array */
#define BATCH_MAX   1024        /* requests in one batch, at most */
#define OUT_CHUNK   (64 * 1024) /* written and no send in flight: start one before writing more */
#define OUT_KEEP    (1 << 20)   /* an output buffer that grew past this is freed once sent */
#define RECV_BURST  64          /* mesh messages taken in a row before letting others run */
#define SWEEP_NS    (100 * 1000 * 1000) /* between sweeps that found little to delete */
#define SWEEP_ROUND 100                 /* samples per step of a sweep, at most (store.h) */
#define ACCEPT_WAIT (100 * 1000 * 1000) /* after a failed accept (no fd left, say) */

/* ------------------------------------------------------------- messages */

enum msg_type {
    MSG_APPLY = 1, /* apply these requests to your keys, then answer APPLIED */
    MSG_APPLIED,   /* done: the results for my keys are in the requests */
    MSG_RELEASE,   /* the values you lent me, given back */
    MSG_BYE,       /* I will send no more APPLY, and I owe you nothing */
};

#define RELEASE_MAX 7

struct msg {
    unsigned char type;  /* enum msg_type */
    unsigned char count; /* RELEASE: entries of values[] */
    union {
        struct {
            struct conn *conn;     /* a connection of the sender's, */
            unsigned first, count; /* and requests first .. first + count - 1 of its batch */
        } apply;
        struct kv_value *values[RELEASE_MAX];
    };
};
_Static_assert(sizeof(struct msg) == KV_MSG_SIZE, "a mesh message is one cache line");

/* Messages for one peer, waiting for room in the channel. Grows; only this shard touches it. */
struct outbox {
    struct msg *ring;      /* a power of two of slots */
    size_t cap, head, len; /* slots, the oldest message, messages */
    bool sending;          /* the sender has taken a message and is putting it in the channel */
    struct rt_waker waker; /* the sender, while the outbox is empty */
};

/* ------------------------------------------------------------- the shard */

struct shard {
    unsigned id, n;               /* this shard, and how many there are */
    const struct kv_server *srv;  /* settings and file descriptors, shared and read-only */
    struct rt_mesh *mesh;         /* NULL with one shard */
    struct kv_store store;        /* the keys this shard owns */
    struct outbox *out;           /* [n]: one per peer (out[id] is unused) */
    unsigned *seen;               /* [n]: scratch, to count a request's distinct owners */
    unsigned stamp;               /* ... with this mark */
    struct list_node conns;       /* open connections */
    size_t nconns;                /* their number */
    long long next_client;        /* numbers the connections */
    unsigned byes;                /* peers that said BYE */
    struct rt_waker waiter;       /* main, while it waits for the shutdown to progress */
    struct rt_join_handle *sends; /* [n]: the senders */
};

/* A future ready once ready(arg) holds. Whoever makes it hold wakes the waker kept in *slot. */
struct until {
    struct rt_future future;
    bool (*ready)(void *arg);
    void *arg;
    struct rt_waker *slot;
};

static enum rt_poll until_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct until *u = (struct until *)self;

    if (u->ready(u->arg)) {
        *out = 0;
        return RT_READY;
    }
    rt_waker_register(u->slot, cx);
    return RT_PENDING;
}

static const struct rt_future_vtable until_vtable = {until_poll, NULL};

static void until(struct until *u, bool (*ready)(void *), void *arg, struct rt_waker *slot)
{
    *u = (struct until){{&until_vtable}, ready, arg, slot};
}

/* ------------------------------------------------------------- outboxes */

static void outbox_push(struct outbox *b, const struct msg *m)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct msg *ring = xmalloc(cap * sizeof(*ring));

        for (size_t i = 0; i < b->len; i++)
            ring[i] = b->ring[(b->head + i) & (b->cap - 1)];
        free(b->ring);
        b->ring = ring;
        b->cap = cap;
        b->head = 0;
    }
    b->ring[(b->head + b->len++) & (b->cap - 1)] = *m;
    rt_waker_wake(&b->waker);
}

/* The message last queued for a peer, still waiting to be sent, or NULL. */
static struct msg *last_queued(struct outbox *b)
{
    return b->len > 0 ? &b->ring[(b->head + b->len - 1) & (b->cap - 1)] : NULL;
}

/* Give a value back to the shard that lent it; RELEASEs still queued take up to 7 each. */
static void give_back(struct shard *s, unsigned owner, struct kv_value *v)
{
    struct msg m = {.type = MSG_RELEASE, .count = 1, .values = {v}}, *last;

    if (owner == s->id)
        return kv_value_unref(v);
    last = last_queued(&s->out[owner]);
    if (last && last->type == MSG_RELEASE && last->count < RELEASE_MAX)
        last->values[last->count++] = v;
    else
        outbox_push(&s->out[owner], &m);
}

static bool outbox_has_mail(void *arg)
{
    return ((struct outbox *)arg)->len > 0;
}

/* Moves one peer's messages into the mesh. Runs until cancelled. */
struct sender {
    struct rt_async async;
    struct shard *s;
    unsigned peer;
    struct until wait;
    struct msg msg; /* the message being sent, out of the outbox (which may grow and move) */
    struct rt_mesh_send send;
    intptr_t res;
};

static enum rt_poll sender_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sender *f = (struct sender *)self;
    struct outbox *b = &f->s->out[f->peer];

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        until(&f->wait, outbox_has_mail, b, &b->waker);
        AWAIT(&f->wait.future, NULL);
        f->msg = b->ring[b->head];
        b->head = (b->head + 1) & (b->cap - 1);
        b->len--;
        b->sending = true;
        /* Waits only while the channel is full; the peer's receiver never waits on us. */
        rt_mesh_send(&f->send, f->s->mesh, f->s->id, f->peer, &f->msg);
        AWAIT(&f->send.send.async.future, &f->res);
        b->sending = false;
        if (f->res < 0)
            die("shard %u: shard %u left while we still had something to tell it", f->s->id,
                f->peer);
        rt_waker_wake(&f->s->waiter); /* a stopping shard waits for its outboxes to empty */
    }
    ASYNC_END;
}

static const struct rt_future_vtable sender_vtable = {sender_poll, rt_async_drop};

/* ------------------------------------------------------------- connections */

struct conn {
    struct list_node link;    /* in the shard's list */
    struct shard *s;          /* the shard it belongs to */
    int fd;                   /* the socket; closed when the connection's task ends */
    struct kv_client client;  /* what the commands know of it */
    struct resp_parser in;    /* bytes received, and the requests in them */
    struct resp_out out;      /* replies: [sent, out.len) not yet sent */
    size_t sent;              /* bytes at the front of out that the client has been sent */
    struct kv_request *batch; /* the requests being served */
    size_t nbatch, batch_cap; /* how many; room for */
    size_t replied;           /* requests of the batch whose reply is written */
    unsigned remote;          /* APPLY messages for the batch that other shards have not answered */
    struct rt_waker waker;    /* the connection's task, while it waits for them */
    bool stop_reading;        /* QUIT or a protocol error: reply, then close */
    bool eof;                 /* the client sends nothing more (closed, reset, or shut down) */
    bool drop;                /* close without replying (see looks_like_http in commands.c) */
    bool gone;                /* a send failed: the client is not listening any more */
};

/*
 * Ask shard `to` to apply request k of c's batch. Requests of a pipeline
 * often go to the same shard one after another: if the last message queued
 * for it is an APPLY for this batch, it grows to take this request in too
 * (with the requests in between, for which that shard, owning none of their
 * keys, does nothing), and one message carries them all.
 */
static void ask(struct shard *s, unsigned to, struct conn *c, size_t k)
{
    struct msg m = {.type = MSG_APPLY, .apply = {c, (unsigned)k, 1}};
    struct msg *last = last_queued(&s->out[to]);

    if (last && last->type == MSG_APPLY && last->apply.conn == c) {
        last->apply.count = (unsigned)k + 1 - last->apply.first;
        return;
    }
    outbox_push(&s->out[to], &m);
    c->remote++;
}

/* Route checked request k of the batch: apply it here to our keys, and ask the other owners. */
static void dispatch(struct conn *c, size_t k, int64_t now)
{
    struct kv_request *r = &c->batch[k];
    struct shard *s = c->s;
    bool local = false;

    if (++s->stamp == 0) { /* after 2^32 requests: start the marks afresh */
        memset(s->seen, 0, s->n * sizeof(*s->seen));
        s->stamp = 1;
    }
    for (size_t i = 0; i < r->nres; i++) {
        unsigned owner = r->res[i].owner;

        if (owner == s->id) {
            local = true;
        } else if (s->seen[owner] != s->stamp) {
            s->seen[owner] = s->stamp; /* once per owner, whatever its number of keys */
            ask(s, owner, c, k);
        }
    }
    if (local)
        cmd_apply(r, s->id, &s->store, now);
}

/*
 * Parse, check and dispatch the requests already received, up to a batch.
 * True when there is a batch to finish.
 */
static bool take_batch(struct conn *c)
{
    int64_t now = now_ms();

    while (!c->stop_reading && c->nbatch < c->batch_cap) {
        struct kv_request *r = &c->batch[c->nbatch];
        struct resp_arg *argv;
        size_t argc;
        int got = resp_next(&c->in, &argc, &argv);

        if (got == 0)
            break;
        c->nbatch++;
        if (got < 0) {
            cmd_error(r, c->in.error); /* Redis replies, then closes */
            c->stop_reading = true;
            break;
        }
        switch (cmd_prepare(r, argc, argv, c->s->n, now)) {
        case ROUTE_KEYS:
            dispatch(c, c->nbatch - 1, now);
            break;
        case ROUTE_NONE:
            break;
        case ROUTE_QUIT:
            c->stop_reading = true;
            break;
        case ROUTE_CLOSE:
            c->drop = c->stop_reading = true;
            break;
        }
    }
    return c->nbatch > 0;
}

/* The next request's reply, in order (none if the client is not to get one), and give back
 * what was lent for it. */
static void reply_next(struct conn *c)
{
    struct kv_request *r = &c->batch[c->replied++];

    if (!c->drop && !c->gone)
        cmd_reply(r, &c->client, &c->out);
    for (size_t i = 0; i < r->nres; i++)
        if (r->res[i].value)
            give_back(c->s, r->res[i].owner, r->res[i].value);
    cmd_done(r);
}

static void end_batch(struct conn *c)
{
    /* A full batch says the client pipelines deeply: the next one may be longer. */
    if (c->nbatch == c->batch_cap && c->batch_cap < BATCH_MAX) {
        c->batch_cap *= 2;
        c->batch = xrealloc(c->batch, c->batch_cap * sizeof(*c->batch));
    }
    c->nbatch = c->replied = 0;
}

/* Someone reads the replies: false once the client has gone, or is to get none. */
static bool listening(const struct conn *c)
{
    return !c->drop && !c->gone;
}

/* Bytes of replies written and not yet sent. */
static size_t pending(const struct conn *c)
{
    return c->out.len - c->sent;
}

/* Room to write replies: under --max-output, or nobody to send them to. */
static bool writable(const struct conn *c)
{
    return !listening(c) || pending(c) < c->client.cfg->max_output;
}

struct conn_task;

/* A future ready when the connection can go on: see wait_poll(). */
struct conn_wait {
    struct rt_future future;
    struct conn_task *f;
};

struct conn_task {
    struct rt_async async;
    struct conn *c; /* owned: freed by conn_drop() */
    struct conn_wait wait;
    struct rt_yield yield;
    struct rt_io recv, send; /* in flight while receiving, sending */
    bool receiving, sending;
    bool received, sent; /* finished, and recv_n or send_n not yet looked at */
    bool progress;       /* serve() can go on at once */
    intptr_t recv_n, send_n;
};

/*
 * One step of serving: take a batch if there is none (and bytes for one
 * have arrived), or write the replies of the batch in hand, as far as
 * --max-output lets us. True if the next step can be taken at once.
 */
static bool serve(struct conn_task *f)
{
    struct conn *c = f->c;

    if (c->nbatch == 0 && (f->receiving || !take_batch(c)))
        return false; /* nothing to serve until more bytes arrive */
    if (c->remote > 0)
        return false; /* other shards are applying requests of the batch */
    while (c->replied < c->nbatch && writable(c)) {
        reply_next(c);
        if (!f->sending && listening(c) && pending(c) >= OUT_CHUNK)
            return true; /* send this much before writing more */
    }
    if (c->replied < c->nbatch)
        return false; /* over --max-output: wait until the client takes some */
    end_batch(c);
    return true; /* the next batch may be in the buffer already */
}

/* Nothing more will happen on this connection: it can close. */
static bool finished(const struct conn_task *f)
{
    const struct conn *c = f->c;

    if (c->nbatch > 0)
        return false; /* a batch is finished in every case: other shards may hold its requests */
    return !listening(c) || ((c->eof || c->stop_reading) && pending(c) == 0);
}

/* Send what is written, if no send is in flight. rt_io_send copies the bytes (1 MiB at most). */
static void start_send(struct conn_task *f)
{
    struct conn *c = f->c;

    if (f->sending || f->sent || !listening(c) || pending(c) == 0)
        return;
    rt_io_send(&f->send, c->fd, c->out.buf + c->sent, pending(c));
    f->sending = true;
}

/*
 * Receive, if the client may still send and the replies are under
 * --max-output. Only between batches, when serve() found nothing to take:
 * resp_space() may move the buffer, and no argument of a batch (which other
 * shards may be reading) may point into it.
 */
static void start_recv(struct conn_task *f)
{
    struct conn *c = f->c;
    size_t room;
    char *buf;

    if (c->nbatch > 0 || f->receiving || f->received || c->eof || c->stop_reading ||
        !listening(c) || pending(c) >= c->client.cfg->max_output)
        return;
    buf = resp_space(&c->in, &room);
    rt_io_recv(&f->recv, c->fd, buf, room);
    f->receiving = true;
}

/* Poll the receive and the send in flight (the first poll submits them). True if one finished. */
static bool poll_io(struct conn_task *f, struct rt_context *cx)
{
    bool done = false;

    if (f->receiving && rt_future_poll(&f->recv.future, cx, &f->recv_n) == RT_READY) {
        f->receiving = false;
        done = f->received = true;
    }
    if (f->sending && rt_future_poll(&f->send.future, cx, &f->send_n) == RT_READY) {
        f->sending = false;
        done = f->sent = true;
    }
    return done;
}

/* What the send that finished did to the output buffer. */
static void output_sent(struct conn *c, intptr_t n)
{
    if (n == -EINTR || n == -EAGAIN)
        return; /* nothing sent: the next start_send() sends it again */
    if (n <= 0) {
        c->gone = true; /* the client is not listening any more: finish without replies */
        return;
    }
    c->sent += (size_t)n;
    if (c->sent == c->out.len) {
        c->out.len = c->sent = 0;
        if (c->out.cap > OUT_KEEP)
            resp_out_free(&c->out); /* a huge reply has gone: do not keep its memory */
    } else if (c->sent >= c->out.len / 2) {
        /* Move the rest to the front, at most as many bytes as were sent since the last move. */
        memmove(c->out.buf, c->out.buf + c->sent, c->out.len - c->sent);
        c->out.len -= c->sent;
        c->sent = 0;
    }
}

/* Take in what a finished receive and a finished send did. */
static void finish_io(struct conn_task *f)
{
    struct conn *c = f->c;

    if (f->received) {
        f->received = false;
        if (f->recv_n <= 0)
            c->eof = true; /* the client closed (or reset) its end, or we are shutting down */
        else
            resp_received(&c->in, (size_t)f->recv_n);
    }
    if (f->sent) {
        f->sent = false;
        output_sent(c, f->send_n);
    }
}

/*
 * Ready when a receive or a send has finished, or when the batch in hand can
 * have its replies written (every other shard has answered, and there is
 * room under --max-output). The async macros await one future at a time;
 * this one is the connection's three sources of progress in one.
 */
static enum rt_poll wait_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct conn_task *f = ((struct conn_wait *)self)->f;
    struct conn *c = f->c;
    bool ready = poll_io(f, cx);

    if (c->replied < c->nbatch) {
        if (c->remote > 0)
            rt_waker_register(&c->waker, cx); /* the last APPLIED wakes us */
        else
            ready = ready || writable(c);
    }
    *out = 0;
    return ready ? RT_READY : RT_PENDING;
}

static const struct rt_future_vtable wait_vtable = {wait_poll, NULL};

static enum rt_poll conn_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct conn_task *f = (struct conn_task *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        f->progress = serve(f);
        if (!f->progress && finished(f))
            break;
        start_send(f);
        if (f->progress) {
            /* Submit the send now, so that it goes while we write; let others run if it is time. */
            poll_io(f, cx);
            finish_io(f);
            rt_yield_if_needed(&f->yield);
            AWAIT(&f->yield.future, NULL);
            continue;
        }
        start_recv(f);
        f->wait = (struct conn_wait){{&wait_vtable}, f};
        AWAIT(&f->wait.future, NULL);
        finish_io(f);
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

/* However the task ends, the connection goes: socket, buffers, its place in the shard. */
static void conn_drop(struct rt_future *self)
{
    struct conn_task *f = (struct conn_task *)self;
    struct conn *c = f->c;
    struct shard *s = c->s;

    rt_async_drop(self);
    if (f->receiving)
        rt_future_drop(&f->recv.future); /* cancelled; the runtime keeps its memory meanwhile */
    if (f->sending)
        rt_future_drop(&f->send.future);
    if (c->remote)
        die("a connection was dropped while other shards worked on its requests");
    c->gone = true;
    while (c->replied < c->nbatch)
        reply_next(c); /* no reply: only what was lent goes back */
    close(c->fd);
    list_remove(&c->link);
    s->nconns--;
    rt_waker_drop(&c->waker);
    resp_parser_free(&c->in);
    resp_out_free(&c->out);
    free(c->client.name);
    free(c->batch);
    free(c);
    rt_waker_wake(&s->waiter); /* a stopping shard waits for its last connection */
}

static const struct rt_future_vtable conn_vtable = {conn_poll, conn_drop};

static void start_connection(struct shard *s, int fd)
{
    struct conn *c = xmalloc(sizeof(*c));
    struct conn_task f = {.async = RT_ASYNC_INIT(&conn_vtable), .c = c};
    struct rt_join_handle h;
    int one = 1;

    *c = (struct conn){.s = s, .fd = fd, .batch_cap = BATCH_MIN};
    c->client = (struct kv_client){.cfg = &s->srv->cfg, .id = s->next_client++ * s->n + s->id + 1};
    c->batch = xmalloc(c->batch_cap * sizeof(*c->batch));
    resp_parser_init(&c->in, s->srv->cfg.max_bulk, s->srv->cfg.max_query);
    list_push_back(&s->conns, &c->link);
    s->nconns++;
    /* Replies are small and the client waits for them: send each at once, as Redis does. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h = rt_spawn(&f.async.future, sizeof(f));
    rt_join_detach(&h); /* it ends by itself; stopping the shard makes it end (shutdown(2)) */
}

/* ------------------------------------------------------------- the other tasks */

/* A message from shard `from`. */
static void handle(struct shard *s, unsigned from, struct msg *m)
{
    switch (m->type) {
    case MSG_APPLY:
        for (unsigned k = 0; k < m->apply.count; k++)
            cmd_apply(&m->apply.conn->batch[m->apply.first + k], s->id, &s->store, now_ms());
        m->type = MSG_APPLIED;
        outbox_push(&s->out[from], m);
        break;
    case MSG_APPLIED:
        if (--m->apply.conn->remote == 0)
            rt_waker_wake(&m->apply.conn->waker);
        break;
    case MSG_RELEASE:
        for (unsigned i = 0; i < m->count; i++)
            kv_value_unref(m->values[i]);
        break;
    case MSG_BYE:
        s->byes++;
        rt_waker_wake(&s->waiter);
        break;
    default:
        die("shard %u: a message of unknown type %d", s->id, m->type);
    }
}

struct receiver {
    struct rt_async async;
    struct shard *s;
    struct rt_mesh_recv recv;
    struct rt_yield yield;
    struct msg msg;
    unsigned burst; /* messages since we last let the other tasks run */
    intptr_t from;
};

static enum rt_poll receiver_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct receiver *f = (struct receiver *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_mesh_recv(&f->recv, f->s->mesh, f->s->id, &f->msg);
        AWAIT(&f->recv.async.future, &f->from);
        if (f->from < 0)
            ASYNC_RETURN(0); /* every peer has gone (only after BYE, so we are done too) */
        handle(f->s, (unsigned)f->from, &f->msg);
        /* Busy peers could keep this loop going forever: let the connections run too. */
        if (++f->burst == RECV_BURST) {
            f->burst = 0;
            rt_yield_now(&f->yield);
            AWAIT(&f->yield.future, NULL);
        }
    }
    ASYNC_END;
}

static const struct rt_future_vtable receiver_vtable = {receiver_poll, rt_async_drop};

struct acceptor {
    struct rt_async async;
    struct shard *s;
    struct rt_io io;
    struct rt_sleep pause;
    intptr_t fd;
};

static enum rt_poll acceptor_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct acceptor *f = (struct acceptor *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_accept(&f->io, f->s->srv->listen_fds[f->s->id]);
        AWAIT(&f->io.future, &f->fd);
        if (f->fd >= 0) {
            start_connection(f->s, (int)f->fd);
            continue;
        }
        /* No fd left (-EMFILE), no memory, a client that gave up: none stops the server. */
        fprintf(stderr, "kv_server: shard %u: accept: %s; trying again in 100 ms\n", f->s->id,
                strerror((int)-f->fd));
        rt_sleep(&f->pause, ACCEPT_WAIT);
        AWAIT(&f->pause.future, NULL);
    }
    ASYNC_END;
}

static const struct rt_future_vtable acceptor_vtable = {acceptor_poll, rt_async_drop};

/*
 * Every SWEEP_NS, a sweep: steps of at most SWEEP_ROUND samples of 20 keys,
 * with a yield between two steps, so that the connections and the mesh run
 * in between (a step takes a fraction of a millisecond). The sweep goes on
 * for as long as its samples find over a quarter of their keys expired, and
 * ends there, or after one pass over the whole table. A fixed number of
 * samples per 100 ms, as it was, deleted at most 20,000 keys a second, and
 * a client writing keys that expire faster than that made the table grow
 * without bound; now the sweep takes its turn among the tasks for as long as
 * there is much to delete, which keeps up with any rate of writes the shard
 * can serve (writers get slower, the table does not grow). Before each sweep
 * the table gives back the buckets it no longer needs (store_shrink()).
 */
struct sweeper {
    struct rt_async async;
    struct shard *s;
    struct rt_sleep sleep;
    struct rt_yield yield;
    uint64_t first; /* store.swept when this sweep began */
};

/* One step of the sweep. Whether the sweep should take another. */
static bool sweep_step(struct sweeper *f)
{
    struct kv_store *st = &f->s->store;
    bool more;

    store_expire_cycle(st, now_ms(), SWEEP_ROUND, &more);
    return more && st->swept - f->first <= st->mask;
}

static enum rt_poll sweeper_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sweeper *f = (struct sweeper *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_sleep(&f->sleep, SWEEP_NS);
        AWAIT(&f->sleep.future, NULL);
        store_shrink(&f->s->store); /* between two sweeps: a sweep walks the buckets */
        f->first = f->s->store.swept;
        while (sweep_step(f)) {
            rt_yield_now(&f->yield);
            AWAIT(&f->yield.future, NULL);
        }
    }
    ASYNC_END;
}

static const struct rt_future_vtable sweeper_vtable = {sweeper_poll, rt_async_drop};

/* ------------------------------------------------------------- the shard's main future */

struct shard_main {
    struct rt_async async;
    struct shard *s; /* owned: freed by shard_drop() */
    struct rt_join_handle acceptor, receiver, sweeper;
    struct rt_io io;
    uint64_t stop; /* what the stop eventfd's read brings */
    struct until wait;
    unsigned k;
    intptr_t n;
};

static void spawn_tasks(struct shard_main *f)
{
    struct shard *s = f->s;
    struct acceptor a = {.async = RT_ASYNC_INIT(&acceptor_vtable), .s = s};
    struct sweeper w = {.async = RT_ASYNC_INIT(&sweeper_vtable), .s = s};
    struct receiver r = {.async = RT_ASYNC_INIT(&receiver_vtable), .s = s};

    f->acceptor = rt_spawn(&a.async.future, sizeof(a));
    f->sweeper = rt_spawn(&w.async.future, sizeof(w));
    if (!s->mesh)
        return;
    f->receiver = rt_spawn(&r.async.future, sizeof(r));
    for (unsigned k = 0; k < s->n; k++) {
        struct sender snd = {.async = RT_ASYNC_INIT(&sender_vtable), .s = s, .peer = k};

        if (k != s->id)
            s->sends[k] = rt_spawn(&snd.async.future, sizeof(snd));
    }
}

/* Shut every connection down: its pending receive ends (0), its send fails, and it ends. */
static void shut_connections(struct shard *s)
{
    for (struct list_node *l = s->conns.next; l != &s->conns; l = l->next)
        shutdown(container_of(l, struct conn, link)->fd, SHUT_RDWR);
}

static bool no_connections(void *arg)
{
    return ((struct shard *)arg)->nconns == 0;
}

/* Every peer has said BYE, and everything we had to tell them is in the channels. */
static bool peers_done(void *arg)
{
    struct shard *s = arg;

    for (unsigned k = 0; k < s->n; k++)
        if (k != s->id && (s->out[k].len > 0 || s->out[k].sending))
            return false;
    return s->byes == s->n - 1;
}

static enum rt_poll shard_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct shard_main *f = (struct shard_main *)self;
    struct shard *s = f->s;

    ASYNC_BEGIN(f, cx, out);
    spawn_tasks(f);
    /* main() writes the shard count to the eventfd; in semaphore mode each shard reads one. */
    rt_io_read(&f->io, s->srv->stop_fd, &f->stop, sizeof(f->stop), RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, &f->n);

    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    shut_connections(s);
    until(&f->wait, no_connections, s, &s->waiter);
    AWAIT(&f->wait.future, NULL);

    if (s->mesh) {
        for (unsigned k = 0; k < s->n; k++)
            if (k != s->id)
                outbox_push(&s->out[k], &(struct msg){.type = MSG_BYE});
        until(&f->wait, peers_done, s, &s->waiter);
        AWAIT(&f->wait.future, NULL);
        rt_join_cancel(&f->receiver);
        AWAIT(&f->receiver.future, NULL);
        for (f->k = 0; f->k < s->n; f->k++) {
            if (f->k == s->id)
                continue;
            rt_join_cancel(&s->sends[f->k]);
            AWAIT(&s->sends[f->k].future, NULL);
        }
    }
    rt_join_cancel(&f->sweeper);
    AWAIT(&f->sweeper.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static void shard_drop(struct rt_future *self)
{
    struct shard_main *f = (struct shard_main *)self;
    struct shard *s = f->s;

    rt_async_drop(self);
    rt_join_detach(&f->acceptor); /* empty once awaited */
    rt_join_detach(&f->receiver);
    rt_join_detach(&f->sweeper);
    for (unsigned k = 0; k < s->n; k++) {
        rt_join_detach(&s->sends[k]);
        rt_waker_drop(&s->out[k].waker);
        free(s->out[k].ring);
    }
    rt_waker_drop(&s->waiter);
    store_free(&s->store); /* checks that no value in the table is still lent out */
    free(s->out);
    free(s->seen);
    free(s->sends);
    free(s);
}

static const struct rt_future_vtable shard_vtable = {shard_poll, shard_drop};

size_t kv_shard_main(unsigned shard, void *arg, void *buf)
{
    const struct kv_server *srv = arg;
    struct shard *s = xmalloc(sizeof(*s));
    struct shard_main f = {.async = RT_ASYNC_INIT(&shard_vtable), .s = s};

    *s = (struct shard){.id = shard, .n = srv->cfg.shards, .srv = srv, .mesh = rt_shard_mesh()};
    store_init(&s->store);
    list_init(&s->conns);
    s->out = calloc(s->n, sizeof(*s->out));
    s->seen = calloc(s->n, sizeof(*s->seen));
    s->sends = calloc(s->n, sizeof(*s->sends));
    if (!s->out || !s->seen || !s->sends)
        die("out of memory starting shard %u", shard);
    _Static_assert(sizeof(f) <= RT_SHARD_FUTURE_MAX, "the shard's main future must fit the pool");
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}
