/*
 * bench/echo.c - a TCP echo server on the runtime, next to a plain epoll
 * echo server, both driven by the same client from another process.
 *
 * Run it with `make phase2 bench` (or build/phase2/bench/echo; `echo runtime`
 * or `echo epoll` drives only that server, for a profiler; from phase 4,
 * `echo sharded` too). It prints
 * one `name=value` line per figure; each is the median of ROUNDS rounds,
 * runtime and epoll rounds alternating so that a noisy neighbour touches
 * both alike:
 *
 *   echo_c16_msgs_per_s             round trips per second through the runtime
 *                                   echo server: an accept-loop task, and one task
 *                                   per connection looping rt_io_recv + rt_send_all,
 *                                   run by an executor in this process
 *   echo_c16_epoll_msgs_per_s       the same through a plain epoll server
 *                                   (level-triggered, non-blocking sockets) in a
 *                                   forked process
 *   echo_c16_runtime_vs_epoll_ratio the median of the rounds' ratios, each
 *                                   runtime round divided by the epoll round
 *                                   right after it. On a shared machine the
 *                                   rate can change from one second to the next
 *                                   (on the 2-CPU VM this was written on it
 *                                   jumped between about 160k and 215k, for both
 *                                   servers alike); rounds next to each other
 *                                   most often see the same level
 *   echo_c16_sharded_1_msgs_per_s   phase 4: the same echo tasks in a pool of
 *   echo_c16_sharded_2_msgs_per_s   1 and of 2 shards, each with a listening
 *                                   socket of its own on the one port
 *                                   (SO_REUSEPORT): the kernel spreads the 16
 *                                   connections over the shards, and each
 *                                   shard serves its own from accept to close
 *   echo_c16_sharded_N_vs_epoll_ratio  each next to the epoll round of the
 *                                   same turn, as above
 *
 * A round: the server listens on 127.0.0.1, port 0 (any free port), and a
 * forked client process is told the port. The client opens CONNS
 * connections, sends MSG bytes on each, and on each connection waits for the
 * MSG bytes to come back (checking them) before it sends again: a ping-pong,
 * CONNS of them at once, driven by one epoll loop. It counts the round trips
 * it completes in ROUND_NS, closes its connections, and reports the count and
 * the exact time over a pipe. The runtime server learns that the round is over
 * from that pipe, which it reads with the runtime's own read: it then cancels
 * its accept task and awaits every connection task, each of which has seen
 * its peer close. The epoll server stops when its parent closes a pipe it
 * watches. Every process is waited for; nothing outlives the benchmark.
 *
 * CPUs: with two or more CPUs, every server runs on CPU 0 and the client on
 * CPU 1, so that the runtime server, which spins when it has nothing to do
 * (phase 2 does, by design), never takes CPU time from the client. With one
 * CPU nothing is pinned. A line on stderr says which. The 2-shard server
 * runs on CPUs 0 and 1: on a 2-CPU machine its second shard shares CPU 1
 * with the client, so there it shows what sharding costs more than what it
 * gains; on a bigger machine give the client CPUs of its own.
 *
 * Target (reported, not asserted): the runtime server at least as fast as
 * the epoll server, a ratio of 1.0 or more.
 */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/bench.h"
#include "common/clock.h"

#define ROUNDS    3                  /* rounds per server; the median is printed */
#define ROUND_NS  (1 * NSEC_PER_SEC) /* how long the client drives one round */
#define CONNS     16                 /* client connections */
#define MSG       64                 /* bytes per message */
#define BUF       4096               /* each server's receive buffer, per connection */
#define MAX_CONNS 64                 /* connections a server keeps track of */
#define HOST      "127.0.0.1"

/* Where the servers and the client run: CPU numbers, or RT_CPU_ANY. */
static int server_cpu = RT_CPU_ANY;
static int client_cpu = RT_CPU_ANY;

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "bench/echo: %s\n", what);
    exit(1);
}

static void set_nodelay(int fd)
{
    int one = 1;

    /* Every message is one small segment: send it now, whatever Nagle would wait for. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Pin the calling process to `cpu`, unless it is RT_CPU_ANY. */
static void pin(int cpu)
{
    if (cpu != RT_CPU_ANY && rt_pin_current_thread(cpu) < 0)
        fail("cannot pin to a CPU that was usable a moment ago");
}

/* ------------------------------------------------------------------ client */

/* What the client sends back over its pipe at the end of a round. */
struct report {
    uint64_t round_trips; /* completed in the round */
    uint64_t elapsed_ns;  /* from the first send to the last count */
    int64_t error;        /* 0, or the -errno that stopped the client early */
};

struct client_conn {
    int fd;
    unsigned got;    /* bytes of the current reply received so far */
    char msg[MSG];   /* what this connection sends, and must get back */
    char reply[MSG]; /* what came back */
};

static int client_send(struct client_conn *c)
{
    /* MSG bytes into an empty send buffer: a non-blocking send takes them all or fails. */
    ssize_t n = send(c->fd, c->msg, MSG, MSG_NOSIGNAL);

    return n == MSG ? 0 : n < 0 ? -errno : -EIO;
}

/* Open the connections; each gets its own message, so a mixed-up reply is caught. */
static int client_connect(struct client_conn *conns, int ep, uint16_t port)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;

    if (rt_sockaddr(HOST, port, &addr, &addr_len) < 0)
        return -EINVAL;
    for (int i = 0; i < CONNS; i++) {
        struct client_conn *c = &conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        memset(c->msg, 'a' + i, MSG);
        c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            return -errno;
        if (connect(c->fd, (struct sockaddr *)&addr, addr_len) < 0)
            return -errno;
        set_nodelay(c->fd);
        if (set_nonblocking(c->fd) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

/* One connection is readable: take what came, and when the whole reply is in, count and resend. */
static int client_on_readable(struct client_conn *c, uint64_t *round_trips)
{
    ssize_t n = recv(c->fd, c->reply + c->got, MSG - c->got, 0);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -ECONNRESET; /* the server closed on us */
    if (memcmp(c->reply + c->got, c->msg + c->got, (size_t)n) != 0)
        return -EBADMSG;
    c->got += (unsigned)n;
    if (c->got < MSG)
        return 0;
    c->got = 0;
    (*round_trips)++;
    return client_send(c);
}

/* Ping-pong on every connection for ROUND_NS. */
static void client_drive(struct client_conn *conns, int ep, struct report *rep)
{
    struct epoll_event events[CONNS];
    uint64_t start = now_ns(), now = start;

    for (int i = 0; i < CONNS && rep->error == 0; i++)
        rep->error = client_send(&conns[i]);
    while (rep->error == 0 && now - start < ROUND_NS) {
        /* A timeout, so that a server that stops answering cannot make the round last forever. */
        int n = epoll_wait(ep, events, CONNS, 100);

        if (n < 0 && errno != EINTR)
            rep->error = -errno;
        for (int i = 0; i < n && rep->error == 0; i++)
            rep->error = client_on_readable(&conns[events[i].data.u32], &rep->round_trips);
        now = now_ns();
    }
    rep->elapsed_ns = now - start;
}

/* The client process: run one round against the server at `port`, report it on `report_fd`. */
static _Noreturn void client_main(uint16_t port, int report_fd)
{
    struct client_conn conns[CONNS];
    struct report rep = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    pin(client_cpu);
    for (int i = 0; i < CONNS; i++)
        conns[i] = (struct client_conn){.fd = -1};
    rep.error = ep < 0 ? -errno : client_connect(conns, ep, port);
    if (rep.error == 0)
        client_drive(conns, ep, &rep);
    /* Close first: once the runtime server has the report, it awaits its connection tasks. */
    for (int i = 0; i < CONNS; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    if (ep >= 0)
        close(ep);
    if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
        _exit(1);
    close(report_fd);
    _exit(0); /* not exit(): the stdio buffers copied from the parent are the parent's to flush */
}

/* Fork the client. The child closes `close_fd` (the parent's end of something) if it is >= 0. */
static pid_t start_client(uint16_t port, const int report_pipe[2], int close_fd)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        fail("fork failed");
    if (pid == 0) {
        close(report_pipe[0]);
        if (close_fd >= 0)
            close(close_fd);
        client_main(port, report_pipe[1]);
    }
    close(report_pipe[1]);
    return pid;
}

/* Wait for a child, and fail unless it exited with status 0. */
static void wait_child(pid_t pid, const char *who)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid failed");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench/echo: the %s process failed\n", who);
        exit(1);
    }
}

/* Messages per second from a client's report, or fail with what went wrong. */
static double report_rate(const struct report *rep, intptr_t len, const char *server)
{
    if (len != (intptr_t)sizeof(*rep)) {
        fprintf(stderr, "bench/echo: no report from the client (%s server)\n", server);
        exit(1);
    }
    if (rep->error != 0 || rep->round_trips == 0) {
        fprintf(stderr, "bench/echo: the client failed against the %s server: %s\n", server,
                rep->error ? strerror((int)-rep->error) : "no round trip completed");
        exit(1);
    }
    return (double)rep->round_trips / ((double)rep->elapsed_ns / NSEC_PER_SEC);
}

/* --------------------------------------------------------- runtime server */

/* What the accept loop and the main future share; lives in runtime_round()'s frame. */
struct echo_server {
    struct rt_join_handle conns[MAX_CONNS]; /* one per connection task, awaited by main */
    int n_conns;                            /* handles in use */
};

/* One connection: echo what comes until the peer closes. Owns `fd`. */
struct echo_conn {
    struct rt_async async;
    int fd;
    struct rt_io io;
    struct rt_send_all send;
    intptr_t n;
    char buf[BUF];
};

static enum rt_poll echo_conn_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_conn *f = (struct echo_conn *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_recv(&f->io, f->fd, f->buf, sizeof(f->buf));
        AWAIT(&f->io.future, &f->n);
        if (f->n == -EINTR)
            continue;
        if (f->n <= 0)
            break; /* 0: the peer closed; < 0: it reset the connection, or worse */
        rt_send_all(&f->send, f->fd, f->buf, (size_t)f->n);
        AWAIT(&f->send.async.future, &f->n);
        if (f->n < 0)
            break;
    }
    close(f->fd);
    f->fd = -1;
    ASYNC_RETURN(0);
    ASYNC_END;
}

/* Dropped before the peer closed (the executor was destroyed early): close the socket still. */
static void echo_conn_drop(struct rt_future *self)
{
    struct echo_conn *f = (struct echo_conn *)self;

    rt_async_drop(self);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static const struct rt_future_vtable echo_conn_vtable = {echo_conn_poll, echo_conn_drop};

/* Accept connections until cancelled; a task for each. */
struct acceptor {
    struct rt_async async;
    int listen_fd;
    struct echo_server *srv;
    struct rt_io io;
    intptr_t fd; /* the accepted connection, or -errno */
};

static enum rt_poll acceptor_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct acceptor *f = (struct acceptor *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_accept(&f->io, f->listen_fd);
        AWAIT(&f->io.future, &f->fd);
        if (f->fd == -EINTR || f->fd == -ECONNABORTED)
            continue; /* nothing accepted; the next one may be fine */
        if (f->fd < 0)
            ASYNC_RETURN(f->fd);
        set_nodelay((int)f->fd);
        if (f->srv->n_conns == MAX_CONNS) {
            close((int)f->fd); /* more than the benchmark ever opens: not ours */
            continue;
        }
        {
            struct echo_conn c = {.async = RT_ASYNC_INIT(&echo_conn_vtable), .fd = (int)f->fd};
            f->srv->conns[f->srv->n_conns++] = rt_spawn(&c.async.future, sizeof(c));
        }
    }
    ASYNC_END;
}

static const struct rt_future_vtable acceptor_vtable = {acceptor_poll, rt_async_drop};

/* Serve until the client reports, then stop accepting and wait for every connection to end. */
struct echo_main {
    struct rt_async async;
    int listen_fd;
    int report_fd; /* the client's report arrives here */
    struct echo_server *srv;
    struct report *rep; /* where the report goes (the caller's) */
    struct rt_join_handle acceptor;
    struct rt_read_exact read;
    intptr_t n; /* bytes of report read */
    int i;
};

static enum rt_poll echo_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_main *f = (struct echo_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct acceptor a = {
            .async = RT_ASYNC_INIT(&acceptor_vtable), .listen_fd = f->listen_fd, .srv = f->srv};
        f->acceptor = rt_spawn(&a.async.future, sizeof(a));
    }
    rt_read_exact(&f->read, f->report_fd, f->rep, sizeof(*f->rep), RT_OFFSET_CURRENT);
    AWAIT(&f->read.async.future, &f->n);
    /* The client has closed its connections: stop accepting (its request is cancelled). */
    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    /* Each connection task sees its peer close, closes its socket and finishes. */
    for (f->i = 0; f->i < f->srv->n_conns; f->i++)
        AWAIT(&f->srv->conns[f->i].future, NULL);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable echo_main_vtable = {echo_main_poll, rt_async_drop};

static double runtime_round(void)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct echo_server srv = {.n_conns = 0};
    struct report rep = {0};
    struct rt_executor *ex;
    int report_pipe[2], listen_fd = rt_tcp_listen(HOST, 0, 128);
    pid_t client;
    intptr_t len;

    if (listen_fd < 0 || pipe(report_pipe) < 0)
        fail("cannot listen, or make a pipe");
    /* Fork before the executor exists, so the client inherits no ring. */
    client = start_client((uint16_t)rt_tcp_port(listen_fd), report_pipe, listen_fd);
    b.cpu = server_cpu;
    if (rt_executor_create(&b, &ex) < 0) {
        fprintf(stderr, "bench/echo: %s\n", rt_last_error());
        exit(1);
    }
    {
        struct echo_main m = {.async = RT_ASYNC_INIT(&echo_main_vtable),
                              .listen_fd = listen_fd,
                              .report_fd = report_pipe[0],
                              .srv = &srv,
                              .rep = &rep};
        len = rt_executor_run(ex, &m.async.future, sizeof(m));
    }
    if (rt_executor_task_count(ex) != 0)
        fail("the runtime server left tasks behind");
    rt_executor_destroy(ex);
    close(listen_fd);
    close(report_pipe[0]);
    wait_child(client, "client");
    return report_rate(&rep, len, "runtime");
}

/* ------------------------------------------------- sharded server (phase 4) */

#define MAX_SHARDS 2

/* A pool's worth of the runtime server: one listening socket and one echo_server per shard. */
struct sharded {
    int listen_fds[MAX_SHARDS];
    struct echo_server srv[MAX_SHARDS]; /* srv[k] is touched by shard k only */
    int report_fd;                      /* read by shard 0 */
    struct report *rep;
};

/*
 * A shard's main: accept on its own socket. Shard 0 waits for the client's
 * report and then tells every other shard through the mesh that the round
 * is over; the others wait for that message. Then, like echo_main, stop
 * accepting and await every connection. Output: shard 0, the report's length.
 */
struct shard_main {
    struct rt_async async;
    struct sharded *sh;
    unsigned me, peer;
    int stop; /* the mesh message */
    struct rt_join_handle acceptor;
    struct rt_read_exact read;
    struct rt_mesh_send send;
    struct rt_mesh_recv recv;
    intptr_t n;
    int i;
};

static enum rt_poll shard_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct shard_main *f = (struct shard_main *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct acceptor a = {.async = RT_ASYNC_INIT(&acceptor_vtable),
                             .listen_fd = f->sh->listen_fds[f->me],
                             .srv = &f->sh->srv[f->me]};
        f->acceptor = rt_spawn(&a.async.future, sizeof(a));
    }
    if (f->me == 0) {
        rt_read_exact(&f->read, f->sh->report_fd, f->sh->rep, sizeof(*f->sh->rep),
                      RT_OFFSET_CURRENT);
        AWAIT(&f->read.async.future, &f->n);
        for (f->peer = 1; f->peer < rt_shard_count(); f->peer++) {
            rt_mesh_send(&f->send, rt_shard_mesh(), 0, f->peer, &f->stop);
            AWAIT(&f->send.send.async.future, NULL);
        }
    } else {
        rt_mesh_recv(&f->recv, rt_shard_mesh(), f->me, &f->stop);
        AWAIT(&f->recv.async.future, NULL);
        f->n = 0;
    }
    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    for (f->i = 0; f->i < f->sh->srv[f->me].n_conns; f->i++)
        AWAIT(&f->sh->srv[f->me].conns[f->i].future, NULL);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable shard_main_vtable = {shard_main_poll, rt_async_drop};

static size_t make_shard_main(unsigned shard, void *arg, void *buf)
{
    struct shard_main m = {.async = RT_ASYNC_INIT(&shard_main_vtable), .sh = arg, .me = shard};

    memcpy(buf, &m, sizeof(m));
    return sizeof(m);
}

static double sharded_round(unsigned shards)
{
    static struct sharded sh; /* static: the connection handles add up */
    static const int cpus[MAX_SHARDS] = {0, 1};
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct report rep = {0};
    struct rt_pool *pool;
    intptr_t len[MAX_SHARDS];
    int report_pipe[2], port = 0;
    pid_t client;

    memset(&sh, 0, sizeof(sh));
    for (unsigned k = 0; k < shards; k++) {
        sh.listen_fds[k] = rt_tcp_listen_shared(HOST, (uint16_t)port, 128);
        if (sh.listen_fds[k] < 0)
            fail("cannot listen on a shared port");
        port = rt_tcp_port(sh.listen_fds[k]);
    }
    if (pipe(report_pipe) < 0)
        fail("cannot make a pipe");
    /* Fork before the pool exists, so the client inherits no thread and no ring. */
    client = start_client((uint16_t)port, report_pipe, sh.listen_fds[0]);
    sh.report_fd = report_pipe[0];
    sh.rep = &rep;
    b.shards = shards;
    b.mesh_capacity = 1;
    b.mesh_msg_size = sizeof(int);
    /*
     * `allowed` too: runtime_round() pinned this thread to CPU 0, and without
     * it the placement would read this thread's mask, which says CPU 0 only.
     */
    if (server_cpu != RT_CPU_ANY)
        b.placement = (struct rt_placement){.kind = RT_PLACEMENT_CUSTOM,
                                            .cpus = cpus,
                                            .ncpus = shards,
                                            .allowed = cpus,
                                            .nallowed = MAX_SHARDS};
    if (rt_pool_start(&b, make_shard_main, &sh, &pool) < 0) {
        fprintf(stderr, "bench/echo: %s\n", rt_last_error());
        exit(1);
    }
    rt_pool_join(pool, len);
    for (unsigned k = 0; k < shards; k++)
        close(sh.listen_fds[k]);
    close(report_pipe[0]);
    wait_child(client, "client");
    return report_rate(&rep, len[0], "sharded");
}

/* ------------------------------------------------------------ epoll server */

/* Send all `len` bytes on a non-blocking socket. Returns 0, or -errno. */
static int send_all_nonblocking(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EAGAIN) {
            /*
             * The send buffer is full. With MSG-byte messages it never is; a
             * short wait keeps this server correct without a write queue.
             */
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, -1);
            continue;
        }
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

struct epoll_server {
    int ep;
    int listen_fd;
    int stop_fd;          /* readable (at end of file) once the parent wants us gone */
    int conns[MAX_CONNS]; /* open connections, -1 in free slots */
    char buf[BUF];        /* one buffer serves every connection: a recv is echoed at once */
};

static void epoll_accept(struct epoll_server *s)
{
    int fd;

    /* Level-triggered, non-blocking: take every connection that is waiting. */
    while ((fd = accept(s->listen_fd, NULL, NULL)) >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        int slot = 0;

        while (slot < MAX_CONNS && s->conns[slot] >= 0)
            slot++;
        if (slot == MAX_CONNS || set_nonblocking(fd) < 0 ||
            epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        set_nodelay(fd);
        s->conns[slot] = fd;
    }
}

static void epoll_close(struct epoll_server *s, int fd)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i] == fd)
            s->conns[i] = -1;
    close(fd); /* also takes it out of the epoll set: nothing else holds it */
}

static void epoll_echo(struct epoll_server *s, int fd)
{
    ssize_t n = recv(fd, s->buf, sizeof(s->buf), 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || send_all_nonblocking(fd, s->buf, (size_t)n) < 0)
        epoll_close(s, fd);
}

/* The epoll server process: serve until `stop_fd` becomes readable. */
static _Noreturn void epoll_server_main(int listen_fd, int stop_fd)
{
    static struct epoll_server s; /* static: its buffer would crowd the stack */
    struct epoll_event ev = {.events = EPOLLIN}, events[MAX_CONNS];
    bool running = true;

    pin(server_cpu);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.listen_fd = listen_fd;
    s.stop_fd = stop_fd;
    for (int i = 0; i < MAX_CONNS; i++)
        s.conns[i] = -1;
    ev.data.fd = listen_fd;
    if (s.ep < 0 || set_nonblocking(listen_fd) < 0 ||
        epoll_ctl(s.ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        _exit(1);
    ev.data.fd = stop_fd;
    if (epoll_ctl(s.ep, EPOLL_CTL_ADD, stop_fd, &ev) < 0)
        _exit(1);
    while (running) {
        int n = epoll_wait(s.ep, events, MAX_CONNS, -1);

        if (n < 0 && errno != EINTR)
            _exit(1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == stop_fd)
                running = false;
            else if (fd == listen_fd)
                epoll_accept(&s);
            else
                epoll_echo(&s, fd);
        }
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (s.conns[i] >= 0)
            close(s.conns[i]);
    close(s.ep);
    close(listen_fd);
    close(stop_fd);
    _exit(0);
}

static double epoll_round(void)
{
    struct report rep = {0};
    int stop_pipe[2], report_pipe[2], listen_fd = rt_tcp_listen(HOST, 0, 128);
    uint16_t port;
    pid_t server, client;
    ssize_t len = 0, n;

    if (listen_fd < 0 || pipe(stop_pipe) < 0 || pipe(report_pipe) < 0)
        fail("cannot listen, or make a pipe");
    port = (uint16_t)rt_tcp_port(listen_fd);
    fflush(stdout);
    server = fork();
    if (server < 0)
        fail("fork failed");
    if (server == 0) {
        close(stop_pipe[1]); /* so that the parent's close is the end of file */
        close(report_pipe[0]);
        close(report_pipe[1]);
        epoll_server_main(listen_fd, stop_pipe[0]);
    }
    close(listen_fd);
    close(stop_pipe[0]);
    client = start_client(port, report_pipe, stop_pipe[1]);

    while (len < (ssize_t)sizeof(rep)) {
        n = read(report_pipe[0], (char *)&rep + len, sizeof(rep) - (size_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += n;
    }
    close(report_pipe[0]);
    close(stop_pipe[1]); /* the server sees end of file and exits */
    wait_child(client, "client");
    wait_child(server, "epoll server");
    return report_rate(&rep, len, "epoll");
}

/* ---------------------------------------------------------------------- main */

/*
 * Pin servers to CPU 0 and clients to CPU 1 when both exist and may be used.
 * A throwaway child tries both, so that a failed try cannot leave this
 * process pinned to one CPU that every later process would inherit.
 */
static void choose_cpus(void)
{
    pid_t probe;
    int status;

    fflush(stdout);
    probe = fork();
    if (probe < 0)
        fail("fork failed");
    if (probe == 0)
        _exit(rt_pin_current_thread(1) == 0 && rt_pin_current_thread(0) == 0 ? 0 : 1);
    while (waitpid(probe, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid failed");
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        server_cpu = 0;
        client_cpu = 1;
        fprintf(stderr, "bench/echo: servers on CPU 0, client on CPU 1\n");
    } else {
        fprintf(stderr, "bench/echo: nothing pinned (CPUs 0 and 1 are not both usable)\n");
    }
}

int main(int argc, char **argv)
{
    double rt[ROUNDS], ep[ROUNDS], ratio[ROUNDS];
    double sharded[MAX_SHARDS][ROUNDS], sharded_ratio[MAX_SHARDS][ROUNDS];
    /* `echo runtime`, `echo epoll` or `echo sharded` drives only that server, for a profiler. */
    bool run_rt = argc < 2 || strcmp(argv[1], "runtime") == 0;
    bool run_ep = argc < 2 || strcmp(argv[1], "epoll") == 0;
    bool run_sh = argc < 2 || strcmp(argv[1], "sharded") == 0;

    if (!run_rt && !run_ep && !run_sh)
        fail("the one argument, if any, is runtime, epoll or sharded");
    choose_cpus();
    for (int r = 0; r < ROUNDS; r++) {
        if (run_rt)
            rt[r] = runtime_round();
        if (run_ep)
            ep[r] = epoll_round();
        if (run_rt && run_ep)
            ratio[r] = rt[r] / ep[r];
        for (unsigned k = 0; run_sh && k < MAX_SHARDS; k++) {
            sharded[k][r] = sharded_round(k + 1);
            if (run_ep)
                sharded_ratio[k][r] = sharded[k][r] / ep[r];
        }
    }
    /* Every task and source of the runtime server was freed. */
    if (rt__alloc_live() != 0)
        fail("the runtime server left memory allocated");
    if (run_rt)
        printf("echo_c16_msgs_per_s=%.0f\n", bench_median(rt, ROUNDS));
    if (run_ep)
        printf("echo_c16_epoll_msgs_per_s=%.0f\n", bench_median(ep, ROUNDS));
    if (run_rt && run_ep)
        printf("echo_c16_runtime_vs_epoll_ratio=%.3f\n", bench_median(ratio, ROUNDS));
    for (unsigned k = 0; run_sh && k < MAX_SHARDS; k++) {
        printf("echo_c16_sharded_%u_msgs_per_s=%.0f\n", k + 1, bench_median(sharded[k], ROUNDS));
        if (run_ep)
            printf("echo_c16_sharded_%u_vs_epoll_ratio=%.3f\n", k + 1,
                   bench_median(sharded_ratio[k], ROUNDS));
    }
    return 0;
}
