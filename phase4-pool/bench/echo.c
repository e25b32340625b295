/*
 * bench/echo.c - a TCP echo server on the runtime, next to a plain epoll
 * echo server, each in a process of its own, driven by the same client.
 *
 * Run it with `make bench` (`make phaseN bench`: one phase only), or
 * build/phaseN/bench/echo [WORD...], where each WORD narrows or changes the run:
 *
 *   quick                    one round of 300 ms instead of ROUNDS rounds of a second
 *   verbose                  a line per run on stderr: its rate, its server's CPU time
 *                            (user and system) and context switches (getrusage)
 *   pinned, unpinned, hog    only these settings (below)
 *   runtime, epoll           only these servers (for a profiler: `echo runtime unpinned`)
 *   plain, coop, defer,      (phase 3) only these servers; see below
 *   spin50us
 *   sharded_1, sharded_2     (phase 4) only these servers; see below
 *
 * Every server runs in every setting, and a figure's name ends with its
 * setting's suffix:
 *
 *   pinned    (no suffix)   servers on CPU 0, the client on CPU 1, so that the
 *                           two never compete for a CPU (needs two CPUs; skipped,
 *                           with a line on stderr, when CPUs 0 and 1 are not both usable)
 *   unpinned  _unpinned     nothing pinned: the kernel places server and client,
 *                           as it does for a user who just starts them
 *   hog       _with_hog     nothing pinned, and a third process spinning in a busy
 *                           loop beside them for the whole run, as another busy
 *                           program on the machine would
 *
 * The figures of each setting; each is the median of ROUNDS rounds, and in
 * each round every server of every setting runs once, one after the other,
 * so that a noisy neighbour touches them all alike:
 *
 *   echo_c16_msgs_per_s                  round trips per second through the runtime
 *                                        echo server: an accept-loop task, and one task
 *                                        per connection looping rt_io_recv + rt_send_all
 *   echo_c16_epoll_msgs_per_s            the same through a plain epoll server
 *                                        (level-triggered, non-blocking sockets)
 *   echo_c16_runtime_vs_epoll_ratio      the median of the rounds' ratios, each runtime
 *                                        run divided by the epoll run of the same round
 *                                        and setting. On a shared machine the rate can
 *                                        change from one second to the next; runs close
 *                                        together most often see the same level
 *   echo_c16_server_cpu_us_per_msg       CPU time (user + system, all its threads) the
 *                                        runtime server's process used while the client
 *                                        drove it, per round trip
 *   echo_c16_epoll_server_cpu_us_per_msg the same for the epoll server
 *
 * So `echo_c16_msgs_per_s_unpinned` is the runtime server's rate with nothing
 * pinned, and `echo_c16_runtime_vs_epoll_ratio_with_hog` its ratio to epoll
 * beside the hog.
 *
 * A run: the bench process listens on 127.0.0.1, port 0 (any free port),
 * and forks the server, which takes over the listening socket, then the
 * client. The client opens CONNS connections, sends MSG bytes on each, and
 * on each connection waits for the MSG bytes to come back (checking them)
 * before it sends again: a ping-pong, CONNS of them at once, driven by one
 * epoll loop. It counts the round trips it completes in a round, reads the
 * server's CPU clock (clock_getcpuclockid) when it starts and when it stops,
 * closes its connections, and reports over a pipe. The bench process then
 * closes a pipe the server watches: the epoll server exits; the runtime
 * server cancels its accept task, awaits every connection task (each has
 * seen its peer close), checks that it freed everything, and exits. Every
 * process is waited for; nothing outlives the benchmark (the hog is killed,
 * and dies with the bench process if that dies first).
 *
 * Why CPU time per message: on two CPUs the client saturates first, so a
 * server that wastes CPU shows less in the rate than in its CPU time. The
 * server's clock is read by the client, so it covers exactly the round
 * trips counted, not the server's start and end.
 *
 * Phase 2's runtime server spins when it has nothing to do (by design), so
 * its CPU time per message includes that spin, and unpinned it takes CPU
 * time from the client; chapter 3 is about that.
 *
 * Phase 3: the runtime server parks when it has nothing to do. The same
 * server runs again with one builder field changed, so that the choices
 * the runtime makes can be weighed with numbers. Each has the three
 * figures above, in every setting, named after it (`plain` below stands
 * for each of them):
 *
 *   echo_c16_plain_msgs_per_s              the ring made with ring_mode RT_RING_PLAIN:
 *   echo_c16_plain_vs_epoll_ratio          socket completions interrupt the thread
 *   echo_c16_plain_server_cpu_us_per_msg   (reactor.c explains the modes)
 *   echo_c16_coop_...                      RT_RING_COOP: they wait for its next entry
 *   echo_c16_defer_...                     RT_RING_DEFER: they wait until it asks
 *   echo_c16_spin50us_...                  the default ring, and spin_before_park_ns
 *                                          = 50 us: look for work that long before parking
 *
 * The default server (the unnamed figures) uses RT_RING_AUTO, which is
 * DEFER on kernels that have it (6.1 and later), so there its figures and
 * the defer ones measure the same thing twice: their difference is noise.
 *
 * Phase 4: the same echo tasks in a pool of 1 and of 2 shards, each shard
 * with a listening socket of its own on the one port (rt_tcp_listen_shared,
 * SO_REUSEPORT): the kernel spreads the 16 connections over the shards by a
 * hash of their addresses (not always 8 and 8), and each shard serves its
 * own from accept to close. Each shard reads the stop pipe itself: both see
 * its end of file. The three figures again, in every setting:
 *
 *   echo_c16_sharded_1_msgs_per_s, _vs_epoll_ratio, _server_cpu_us_per_msg
 *   echo_c16_sharded_2_msgs_per_s, ...     (the CPU time is the whole pool's)
 *
 * One shard is the runtime server with a pool around it (a thread of its
 * own, the start latch), so its figures and the unnamed ones differ by
 * little more than noise. Pinned, shard k runs on CPU k; so on a 2-CPU
 * machine the second shard shares CPU 1 with the client, and two shards and
 * the client divide two CPUs among three busy threads: the 2-shard figures
 * there say what a second shard does on a machine with no CPU to spare, not
 * how the server scales with cores (for that, a machine with CPUs for the
 * client beyond the shards'). Unpinned, the kernel places the shards' threads.
 *
 * Targets (reported, not asserted): the runtime server at least as fast as
 * the epoll server (a ratio of 1.0 or more), using no more CPU per message.
 */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/args.h"
#include "common/bench.h"
#include "common/clock.h"

#define ROUNDS     3                     /* rounds; the median is printed */
#define ROUND_NS   (1 * NSEC_PER_SEC)    /* how long the client drives one run */
#define QUICK_NS   (300 * NSEC_PER_MSEC) /* the same with `quick`, which does one round */
#define CONNS      16                    /* client connections */
#define MSG        64                    /* bytes per message */
#define BUF        4096                  /* each server's receive buffer, per connection */
#define MAX_CONNS  64                    /* connections a server keeps track of */
#define HOST       "127.0.0.1"
#define SERVER_CPU 0 /* where the pinned setting puts the servers */
#define CLIENT_CPU 1 /* and the client */
#define MAX_SHARDS 2 /* phase 4: the largest pool a sharded server runs */

/* How long the client drives a run: ROUND_NS, or QUICK_NS with `quick`. */
static uint64_t round_ns = ROUND_NS;

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
    uint64_t round_trips;   /* completed in the round */
    uint64_t elapsed_ns;    /* from the first send to the last count */
    uint64_t server_cpu_ns; /* CPU time the server process used in those elapsed_ns */
    int64_t error;          /* 0, or the -errno that stopped the client early */
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

/* CPU time a process has used so far (every thread, user + system), through its CPU clock. */
static uint64_t cpu_clock_ns(clockid_t clock)
{
    struct timespec ts;

    if (clock_gettime(clock, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Ping-pong on every connection for round_ns; the server's CPU time is read at both ends. */
static void client_drive(struct client_conn *conns, int ep, clockid_t server_clock,
                         struct report *rep)
{
    struct epoll_event events[CONNS];
    uint64_t cpu_start = cpu_clock_ns(server_clock), start = now_ns(), now = start;

    for (int i = 0; i < CONNS && rep->error == 0; i++)
        rep->error = client_send(&conns[i]);
    while (rep->error == 0 && now - start < round_ns) {
        /* A timeout, so that a server that stops answering cannot make the round last forever. */
        int n = epoll_wait(ep, events, CONNS, 100);

        if (n < 0 && errno != EINTR)
            rep->error = -errno;
        for (int i = 0; i < n && rep->error == 0; i++)
            rep->error = client_on_readable(&conns[events[i].data.u32], &rep->round_trips);
        now = now_ns();
    }
    rep->elapsed_ns = now - start;
    rep->server_cpu_ns = cpu_clock_ns(server_clock) - cpu_start;
}

/* The client process: run one round against `server` at `port`, report it on `report_fd`. */
static _Noreturn void client_main(uint16_t port, pid_t server, int cpu, int report_fd)
{
    struct client_conn conns[CONNS];
    struct report rep = {0};
    clockid_t server_clock = CLOCK_MONOTONIC; /* until clock_getcpuclockid gives the server's */
    int ep = epoll_create1(EPOLL_CLOEXEC);

    pin(cpu);
    for (int i = 0; i < CONNS; i++)
        conns[i] = (struct client_conn){.fd = -1};
    rep.error = ep < 0 ? -errno : client_connect(conns, ep, port);
    if (rep.error == 0)
        rep.error = -clock_getcpuclockid(server, &server_clock); /* returns an errno value */
    if (rep.error == 0)
        client_drive(conns, ep, server_clock, &rep);
    /* Close first: once the runtime server sees the round end, it awaits its connection tasks. */
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

/* Fork the client. It closes the parent's `close_fd` (the stop pipe's write end). */
static pid_t start_client(uint16_t port, pid_t server, int cpu, const int report_pipe[2],
                          int close_fd)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        fail("fork failed");
    if (pid == 0) {
        close(report_pipe[0]);
        close(close_fd);
        client_main(port, server, cpu, report_pipe[1]);
    }
    close(report_pipe[1]);
    return pid;
}

/* Read the client's report. Returns the bytes read: sizeof(*rep) unless the client failed. */
static size_t read_report(int fd, struct report *rep)
{
    size_t len = 0;

    while (len < sizeof(*rep)) {
        ssize_t n = read(fd, (char *)rep + len, sizeof(*rep) - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    return len;
}

/* Wait for a child, with its resource usage in *usage, and fail unless it exited with 0. */
static void wait_child(pid_t pid, const char *who, struct rusage *usage)
{
    int status;

    while (wait4(pid, &status, 0, usage) < 0)
        if (errno != EINTR)
            fail("wait4 failed");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench/echo: the %s process failed\n", who);
        exit(1);
    }
}

/* Fail unless the report is whole and the client completed round trips without an error. */
static void check_report(const struct report *rep, size_t len, const char *server)
{
    if (len != sizeof(*rep)) {
        fprintf(stderr, "bench/echo: no report from the client (%s server)\n", server);
        exit(1);
    }
    if (rep->error != 0 || rep->round_trips == 0) {
        fprintf(stderr, "bench/echo: the client failed against the %s server: %s\n", server,
                rep->error ? strerror((int)-rep->error) : "no round trip completed");
        exit(1);
    }
}

/* ---------------------------------------------------------------- the hog */

static volatile unsigned long hog_spins; /* what the hog computes: nothing anyone reads */

/* Fork a process that only burns CPU, unpinned. It dies with us if we die first. */
static pid_t start_hog(void)
{
    pid_t parent = getpid(), pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        fail("fork failed");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0); /* the parent died before the line above: nobody would kill us */
        for (;;)
            hog_spins++;
    }
    return pid;
}

static void stop_hog(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        continue;
}

/* ------------------------------------------------- the servers, as a table */

struct server;

/*
 * A server process's body: serve on `listen_fd` until `stop_fd` reaches end
 * of file. Returns the process's exit status: 0, or 1 if anything failed.
 */
typedef int serve_fn(const struct server *srv, int cpu, int listen_fd, int stop_fd);

struct server {
    const char *name; /* on the command line, in messages, and in its ratio's figure name */
    const char *tag;  /* in its other figures' names: echo_c16<tag>_msgs_per_s */
    serve_fn *serve;  /* runs in the forked server process */
    /* Phase 3: the runtime server's builder fields */
    int ring_mode;    /* RT_RING_*; 0 is RT_RING_AUTO, the default */
    uint64_t spin_ns; /* spin_before_park_ns; 0 is the default */
    /* Phase 4 */
    unsigned shards; /* serve_sharded's pool size; 0 for the other servers */
};

/* --------------------------------------------------------- runtime server */

/* What the accept loop and the main future share; lives in runtime_serve()'s frame. */
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

/* Serve until the stop pipe closes, then stop accepting and wait for every connection to end. */
struct echo_main {
    struct rt_async async;
    int listen_fd;
    int stop_fd; /* reaches end of file when the round is over */
    struct echo_server *srv;
    struct rt_join_handle acceptor;
    struct rt_io read;
    char byte;  /* where a read of the stop pipe would put a byte (none is ever written) */
    intptr_t n; /* that read's result: 0 at end of file */
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
    do {
        rt_io_read(&f->read, f->stop_fd, &f->byte, 1, RT_OFFSET_CURRENT);
        AWAIT(&f->read.future, &f->n);
    } while (f->n == -EINTR);
    /* The client has closed its connections: stop accepting (its request is cancelled). */
    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    /* Each connection task sees its peer close, closes its socket and finishes. */
    for (f->i = 0; f->i < f->srv->n_conns; f->i++)
        AWAIT(&f->srv->conns[f->i].future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable echo_main_vtable = {echo_main_poll, rt_async_drop};

/* The runtime server, with an executor made by `b`. Fails if it leaked anything. */
static int runtime_serve(const struct server *srv, const struct rt_builder *b, int listen_fd,
                         int stop_fd)
{
    struct echo_server conns = {.n_conns = 0};
    struct rt_executor *ex;

    if (rt_executor_create(b, &ex) < 0) {
        fprintf(stderr, "bench/echo: %s server: %s\n", srv->name, rt_last_error());
        return 1;
    }
    {
        struct echo_main m = {.async = RT_ASYNC_INIT(&echo_main_vtable),
                              .listen_fd = listen_fd,
                              .stop_fd = stop_fd,
                              .srv = &conns};
        rt_executor_run(ex, &m.async.future, sizeof(m));
    }
    if (rt_executor_task_count(ex) != 0) {
        fprintf(stderr, "bench/echo: the %s server left tasks behind\n", srv->name);
        return 1;
    }
    rt_executor_destroy(ex);
    close(listen_fd);
    close(stop_fd);
    /* Every task and source of the server was freed. */
    if (rt__alloc_live() != 0) {
        fprintf(stderr, "bench/echo: the %s server left memory allocated\n", srv->name);
        return 1;
    }
    return 0;
}

/* The runtime server as a user makes it: the builder's defaults. */
static int serve_runtime(const struct server *srv, int cpu, int listen_fd, int stop_fd)
{
    struct rt_builder b = RT_BUILDER_INIT;

    b.cpu = cpu;
    /* Phase 3: but for what the server's row changes */
    b.ring_mode = srv->ring_mode;
    b.spin_before_park_ns = srv->spin_ns;
    return runtime_serve(srv, &b, listen_fd, stop_fd);
}

/* ------------------------------------------------- sharded server (phase 4) */

/*
 * A sharded server's listening sockets, shard k's in shard_fds[k]. The bench
 * process makes them before it forks the server (listen_for), so that every
 * one exists before the client connects: a connection that arrived while
 * only the first one existed would stay with the first shard.
 */
static int shard_fds[MAX_SHARDS];

/* The socket a server listens on, or for a sharded server the first of its sockets. */
static int listen_for(const struct server *srv)
{
    int port = 0;

    if (srv->shards == 0)
        return rt_tcp_listen(HOST, 0, 128);
    for (unsigned k = 0; k < srv->shards; k++) {
        shard_fds[k] = rt_tcp_listen_shared(HOST, (uint16_t)port, 128);
        if (shard_fds[k] < 0)
            return shard_fds[k];
        port = rt_tcp_port(shard_fds[k]);
    }
    return shard_fds[0];
}

/* What the shards' main futures point at; lives in serve_sharded()'s frame. */
struct sharded {
    int stop_fd;                        /* every shard reads it to its end of file */
    struct echo_server srv[MAX_SHARDS]; /* srv[k] is touched by shard k only */
};

/* Shard k's main future: echo_main, on shard k's own socket. */
static size_t make_shard_main(unsigned shard, void *arg, void *buf)
{
    struct sharded *sh = arg;
    struct echo_main m = {.async = RT_ASYNC_INIT(&echo_main_vtable),
                          .listen_fd = shard_fds[shard],
                          .stop_fd = sh->stop_fd,
                          .srv = &sh->srv[shard]};

    memcpy(buf, &m, sizeof(m));
    return sizeof(m);
}

/*
 * The runtime server in a pool of srv->shards shards. Pinned (cpu is not
 * RT_CPU_ANY), shard k runs on CPU k: SERVER_CPU, then CLIENT_CPU.
 * rt__alloc_live() counts this thread's blocks only, and the shards' threads
 * are gone once the pool is joined, so unlike runtime_serve() this does not
 * check for leaks; test_pool and AddressSanitizer do.
 */
static int serve_sharded(const struct server *srv, int cpu, int listen_fd, int stop_fd)
{
    static const int cpus[MAX_SHARDS] = {SERVER_CPU, CLIENT_CPU};
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct sharded sh = {.stop_fd = stop_fd};
    struct rt_pool *pool;

    (void)listen_fd; /* shard_fds[0] */
    b.shards = srv->shards;
    if (cpu != RT_CPU_ANY)
        b.placement =
            (struct rt_placement){.kind = RT_PLACEMENT_CUSTOM, .cpus = cpus, .ncpus = srv->shards};
    if (rt_pool_start(&b, make_shard_main, &sh, &pool) < 0) {
        fprintf(stderr, "bench/echo: %s server: %s\n", srv->name, rt_last_error());
        return 1;
    }
    rt_pool_join(pool, NULL);
    for (unsigned k = 0; k < srv->shards; k++)
        close(shard_fds[k]);
    close(stop_fd);
    return 0;
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

/* The epoll server: serve until `stop_fd` becomes readable. */
static int serve_epoll(const struct server *srv, int cpu, int listen_fd, int stop_fd)
{
    static struct epoll_server s; /* static: its buffer would crowd the stack */
    struct epoll_event ev = {.events = EPOLLIN}, events[MAX_CONNS];
    bool running = true;

    (void)srv;
    pin(cpu);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    s.listen_fd = listen_fd;
    s.stop_fd = stop_fd;
    for (int i = 0; i < MAX_CONNS; i++)
        s.conns[i] = -1;
    ev.data.fd = listen_fd;
    if (s.ep < 0 || set_nonblocking(listen_fd) < 0 ||
        epoll_ctl(s.ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        return 1;
    ev.data.fd = stop_fd;
    if (epoll_ctl(s.ep, EPOLL_CTL_ADD, stop_fd, &ev) < 0)
        return 1;
    while (running) {
        int n = epoll_wait(s.ep, events, MAX_CONNS, -1);

        if (n < 0 && errno != EINTR)
            return 1;
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
    return 0;
}

/* ------------------------------------------------------------------- a run */

/* The servers; EPOLL is the baseline every other one is divided by. */
static const struct server servers[] = {
    {"runtime", "", serve_runtime},
    {"epoll", "_epoll", serve_epoll},
    /* Phase 4: next to epoll, their baseline */
    {"sharded_1", "_sharded_1", serve_sharded, RT_RING_AUTO, 0, 1},
    {"sharded_2", "_sharded_2", serve_sharded, RT_RING_AUTO, 0, 2},
    /* Phase 3 */
    {"plain", "_plain", serve_runtime, RT_RING_PLAIN, 0},
    {"coop", "_coop", serve_runtime, RT_RING_COOP, 0},
    {"defer", "_defer", serve_runtime, RT_RING_DEFER, 0},
    {"spin50us", "_spin50us", serve_runtime, RT_RING_AUTO, 50 * NSEC_PER_USEC},
};
#define SERVERS (sizeof(servers) / sizeof(servers[0]))
#define EPOLL   1

enum { PINNED, UNPINNED, HOG, SETTINGS };

static const struct setting {
    const char *name;   /* on the command line */
    const char *suffix; /* of its figures' names */
    bool pinned;        /* servers on SERVER_CPU, the client on CLIENT_CPU */
    bool hog;           /* a busy-looping process runs beside them */
} settings[SETTINGS] = {
    [PINNED] = {"pinned", "", true, false},
    [UNPINNED] = {"unpinned", "_unpinned", false, false},
    [HOG] = {"hog", "_with_hog", false, true},
};

/* What one run measured. */
struct run {
    double msgs_per_s;     /* round trips per second */
    double cpu_us_per_msg; /* the server's CPU time per round trip, while the client drove it */
};

static bool verbose; /* `verbose`: a line per run on stderr */

/* One line on stderr about a run, with what getrusage says of the server's whole life. */
static void print_run(int round, const struct setting *set, const struct server *srv,
                      const struct run *run, const struct report *rep, const struct rusage *u)
{
    double msgs = (double)rep->round_trips;

    fprintf(stderr,
            "bench/echo: round %d, %s, %s: %.0f msgs/s, %.2f us CPU/msg; over its life: "
            "user %.3f s, sys %.3f s, context switches per msg: %.3f voluntary, %.3f "
            "involuntary\n",
            round + 1, set->name, srv->name, run->msgs_per_s, run->cpu_us_per_msg,
            (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6,
            (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6,
            (double)u->ru_nvcsw / msgs, (double)u->ru_nivcsw / msgs);
}

/* Run `srv` against the client once, in setting `set`. */
static struct run run_once(int round, const struct setting *set, const struct server *srv)
{
    struct report rep = {0};
    struct rusage usage;
    struct run run;
    int stop_pipe[2], report_pipe[2], listen_fd = listen_for(srv);
    pid_t hog = set->hog ? start_hog() : -1, server, client;
    uint16_t port;
    size_t len;

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
        /* _exit(), not exit(): the stdio buffers copied from the parent are the parent's. */
        _exit(srv->serve(srv, set->pinned ? SERVER_CPU : RT_CPU_ANY, listen_fd, stop_pipe[0]));
    }
    close(listen_fd);
    for (unsigned k = 1; k < srv->shards; k++)
        close(shard_fds[k]); /* phase 4: the server's now, and not the client's */
    close(stop_pipe[0]);
    client = start_client(port, server, set->pinned ? CLIENT_CPU : RT_CPU_ANY, report_pipe,
                          stop_pipe[1]);
    len = read_report(report_pipe[0], &rep);
    close(report_pipe[0]);
    close(stop_pipe[1]); /* the server sees end of file and stops */
    wait_child(client, "client", NULL);
    wait_child(server, srv->name, &usage);
    if (hog > 0)
        stop_hog(hog);
    check_report(&rep, len, srv->name);
    run.msgs_per_s = (double)rep.round_trips / ((double)rep.elapsed_ns / NSEC_PER_SEC);
    run.cpu_us_per_msg = (double)rep.server_cpu_ns / NSEC_PER_USEC / (double)rep.round_trips;
    if (verbose)
        print_run(round, set, srv, &run, &rep, &usage);
    return run;
}

/* ---------------------------------------------------------------------- main */

/*
 * Can servers go on SERVER_CPU and the client on CLIENT_CPU? A throwaway
 * child tries both, so that a failed try cannot leave this process pinned.
 */
static bool can_pin(void)
{
    pid_t probe;
    int status;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return false;
    fflush(stdout);
    probe = fork();
    if (probe < 0)
        fail("fork failed");
    if (probe == 0)
        _exit(rt_pin_current_thread(CLIENT_CPU) == 0 && rt_pin_current_thread(SERVER_CPU) == 0 ? 0
                                                                                               : 1);
    while (waitpid(probe, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid failed");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static struct run runs[SETTINGS][SERVERS][ROUNDS]; /* every run, for the medians */

/* The median over `rounds` rounds of one figure of one server in one setting. */
static double median_of(int set, size_t srv, int rounds, bool cpu)
{
    double v[ROUNDS];

    for (int r = 0; r < rounds; r++)
        v[r] = cpu ? runs[set][srv][r].cpu_us_per_msg : runs[set][srv][r].msgs_per_s;
    return bench_median(v, (size_t)rounds);
}

/* The median over the rounds of a server's rate divided by epoll's in the same round. */
static double median_ratio(int set, size_t srv, int rounds)
{
    double v[ROUNDS];

    for (int r = 0; r < rounds; r++)
        v[r] = runs[set][srv][r].msgs_per_s / runs[set][EPOLL][r].msgs_per_s;
    return bench_median(v, (size_t)rounds);
}

static void print_setting(int set, const bool *use_srv, int rounds)
{
    const char *sfx = settings[set].suffix;

    for (size_t v = 0; v < SERVERS; v++)
        if (use_srv[v])
            printf("echo_c16%s_msgs_per_s%s=%.0f\n", servers[v].tag, sfx,
                   median_of(set, v, rounds, false));
    for (size_t v = 0; v < SERVERS; v++)
        if (use_srv[v] && use_srv[EPOLL] && v != EPOLL)
            printf("echo_c16_%s_vs_epoll_ratio%s=%.3f\n", servers[v].name, sfx,
                   median_ratio(set, v, rounds));
    for (size_t v = 0; v < SERVERS; v++)
        if (use_srv[v])
            printf("echo_c16%s_server_cpu_us_per_msg%s=%.2f\n", servers[v].tag, sfx,
                   median_of(set, v, rounds, true));
}

/* Mark the setting or server called `word` in `use`; false if no name matches. */
static bool pick(const char *word, bool *use_set, bool *use_srv)
{
    for (int s = 0; s < SETTINGS; s++)
        if (strcmp(word, settings[s].name) == 0)
            return use_set[s] = true;
    for (size_t v = 0; v < SERVERS; v++)
        if (strcmp(word, servers[v].name) == 0)
            return use_srv[v] = true;
    return false;
}

/* The words main() takes, printed for --help (status 0) or after a word it does not know (2). */
static int usage(const char *prog, int status)
{
    FILE *to = args_usage_to(status);

    fprintf(to,
            "usage: %s [quick] [verbose] [SETTING...] [SERVER...]   (each is described at the top "
            "of bench/echo.c)\n  settings:",
            prog);
    for (int s = 0; s < SETTINGS; s++)
        fprintf(to, " %s", settings[s].name);
    fprintf(to, "\n  servers:");
    for (size_t v = 0; v < SERVERS; v++)
        fprintf(to, " %s", servers[v].name);
    fprintf(to, "\n");
    return status;
}

int main(int argc, char **argv)
{
    bool use_set[SETTINGS] = {false}, use_srv[SERVERS] = {false}, any_set = false, any_srv = false;
    int rounds = ROUNDS;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0) {
            rounds = 1;
            round_ns = QUICK_NS;
        } else if (strcmp(argv[i], "verbose") == 0) {
            verbose = true;
        } else if (!pick(argv[i], use_set, use_srv)) {
            fprintf(stderr, "%s: unknown word \"%s\"\n", argv[0], argv[i]);
            return usage(argv[0], 2);
        }
    }
    /* No setting named: all of them; no server named: all of them. */
    for (int s = 0; s < SETTINGS; s++)
        any_set |= use_set[s];
    for (size_t v = 0; v < SERVERS; v++)
        any_srv |= use_srv[v];
    for (int s = 0; s < SETTINGS; s++)
        use_set[s] |= !any_set;
    for (size_t v = 0; v < SERVERS; v++)
        use_srv[v] |= !any_srv;
    if (use_set[PINNED] && !can_pin()) {
        fprintf(stderr, "bench/echo: CPUs %d and %d are not both usable: no pinned figures\n",
                SERVER_CPU, CLIENT_CPU);
        use_set[PINNED] = false;
    }

    for (int r = 0; r < rounds; r++)
        for (int s = 0; s < SETTINGS; s++)
            for (size_t v = 0; v < SERVERS; v++)
                if (use_set[s] && use_srv[v])
                    runs[s][v][r] = run_once(r, &settings[s], &servers[v]);

    for (int s = 0; s < SETTINGS; s++)
        if (use_set[s])
            print_setting(s, use_srv, rounds);
    return 0;
}
