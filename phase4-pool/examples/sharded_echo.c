/*
 * sharded_echo.c - phase 2's echo server, one per core: every shard of a
 * pool listens on the same port and serves the connections it accepts,
 * start to end, sharing nothing with the other shards.
 *
 * The port is shared with SO_REUSEPORT (rt_tcp_listen_shared): each shard
 * has a listening socket of its own, and the kernel hands each new
 * connection to one of them, by a hash of the connection's addresses. So
 * there is no accept lock, no queue between cores, no connection handed
 * over: a connection's memory, its socket and its task all stay on the core
 * that accepted it.
 *
 * Shutdown shows the mesh at work. SIGINT and SIGTERM arrive as a read on a
 * signalfd, which shard 0 does; it then sends every other shard a message
 * through the mesh. Each shard, on its signal or its message, stops
 * accepting and returns; the pool then drops the connections still open on
 * each shard (their drop functions close the sockets) and joins. At the end
 * each shard's count of connections is printed: how the kernel spread them.
 *
 * Run: make phase4 && build/phase4/examples/sharded_echo --port 7000 [--shards N]
 *      [--host 127.0.0.1]   (--port 0 picks a free port and prints it; N: one per CPU)
 *      then build/phase4/examples/echo_client --port 7000 --connections 16, or nc;
 *      stop it with Ctrl-C.
 */
#define _GNU_SOURCE /* sched_getaffinity() and CPU_COUNT() are GNU extensions */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

#define BUF_SIZE   (16 * 1024) /* per connection: what one receive may bring */
#define MAX_SHARDS 256

/* One shard's part of the server. Touched only by that shard's thread (and main() after the join).
 */
struct shard {
    int listen_fd;        /* its own socket on the shared port */
    unsigned long served; /* connections it accepted */
    unsigned long open;   /* of those, still open */
};

/* The whole server: main() owns it and outlives the pool, so tasks may point here. */
struct server {
    struct shard shards[MAX_SHARDS];
    int signal_fd; /* read by shard 0 */
};

/* ----------------------------------------------------- one connection */

/* Echo until the peer closes; the socket is closed by connection_drop(), however the task ends. */
struct connection {
    struct rt_async async;
    struct shard *shard;
    int fd;
    struct rt_io io;
    struct rt_send_all send;
    intptr_t n;
    char buf[BUF_SIZE];
};

static enum rt_poll connection_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct connection *f = (struct connection *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_recv(&f->io, f->fd, f->buf, sizeof(f->buf));
        AWAIT(&f->io.future, &f->n);
        if (f->n <= 0)
            break; /* 0: the peer closed; < 0: a reset or another error */
        rt_send_all(&f->send, f->fd, f->buf, (size_t)f->n);
        AWAIT(&f->send.async.future, &f->n);
        if (f->n < 0)
            break;
    }
    ASYNC_RETURN(0);
    ASYNC_END;
}

static void connection_drop(struct rt_future *self)
{
    struct connection *f = (struct connection *)self;

    rt_async_drop(self);
    if (f->fd >= 0) {
        close(f->fd);
        f->shard->open--;
    }
    f->fd = -1;
}

static const struct rt_future_vtable connection_vtable = {connection_poll, connection_drop};

/* ------------------------------------------------------ the accept loop */

struct acceptor {
    struct rt_async async;
    struct shard *shard;
    struct rt_io io;
    intptr_t fd;
};

static enum rt_poll acceptor_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct acceptor *f = (struct acceptor *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_accept(&f->io, f->shard->listen_fd);
        AWAIT(&f->io.future, &f->fd);
        if (f->fd < 0) {
            /* Out of descriptors or memory, or a client that gave up: not a reason to stop. */
            fprintf(stderr, "sharded_echo: shard %d: accept: %s; trying again in 100 ms\n",
                    rt_shard_id(), strerror((int)-f->fd));
            rt_io_sleep(&f->io, 100 * 1000000);
            AWAIT(&f->io.future, NULL);
            continue;
        }
        {
            struct connection c = {
                .async = RT_ASYNC_INIT(&connection_vtable), .shard = f->shard, .fd = (int)f->fd};
            struct rt_join_handle h;
            int one = 1;

            /* Echoes are small: send each at once (echo_server.c says why). */
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            h = rt_spawn(&c.async.future, sizeof(c));
            f->shard->served++;
            f->shard->open++;
            rt_join_detach(&h); /* it ends by itself, or is dropped by the pool at the end */
        }
    }
    ASYNC_END; /* never reached: the loop ends when the task is cancelled */
}

static const struct rt_future_vtable acceptor_vtable = {acceptor_poll, rt_async_drop};

/* -------------------------------------------------------- a shard's main */

/*
 * Accept until told to stop: shard 0 by a signal, which it passes on to
 * every other shard through the mesh; the others by that message.
 * Output: the signal.
 */
struct serve {
    struct rt_async async;
    struct server *server;
    unsigned me;
    struct rt_join_handle acceptor;
    struct rt_io io;
    struct signalfd_siginfo info;
    int sig;
    unsigned peer;
    struct rt_mesh_send send;
    struct rt_mesh_recv recv;
    intptr_t n;
};

static enum rt_poll serve_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct serve *f = (struct serve *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct acceptor a = {.async = RT_ASYNC_INIT(&acceptor_vtable),
                             .shard = &f->server->shards[f->me]};
        f->acceptor = rt_spawn(&a.async.future, sizeof(a));
    }
    if (f->me == 0) {
        rt_io_read(&f->io, f->server->signal_fd, &f->info, sizeof(f->info), RT_OFFSET_CURRENT);
        AWAIT(&f->io.future, &f->n);
        f->sig = f->n < 0 ? SIGTERM : (int)f->info.ssi_signo;
        for (f->peer = 1; f->peer < rt_shard_count(); f->peer++) {
            rt_mesh_send(&f->send, rt_shard_mesh(), 0, f->peer, &f->sig);
            AWAIT(&f->send.send.async.future, NULL);
        }
    } else {
        rt_mesh_recv(&f->recv, rt_shard_mesh(), f->me, &f->sig);
        AWAIT(&f->recv.async.future, &f->n);
        if (f->n < 0)
            f->sig = SIGTERM; /* shard 0 has gone without a word: stop too */
    }
    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    ASYNC_RETURN(f->sig);
    ASYNC_END;
}

static void serve_drop(struct rt_future *self)
{
    rt_async_drop(self);
    rt_join_detach(&((struct serve *)self)->acceptor); /* empty once awaited */
}

static const struct rt_future_vtable serve_vtable = {serve_poll, serve_drop};

static size_t make_serve(unsigned shard, void *arg, void *buf)
{
    struct serve f = {.async = RT_ASYNC_INIT(&serve_vtable), .server = arg, .me = shard};

    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

/* ----------------------------------------------------------------- main */

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status),
            "usage: %s --port P [--shards N (1 to %d)] [--host 127.0.0.1]   (P = 0: any free "
            "port)\n",
            prog, MAX_SHARDS);
    return status;
}

/*
 * Block SIGINT and SIGTERM before any shard exists (threads inherit the
 * mask), so that they stay pending for the signalfd instead of killing us,
 * whichever thread the kernel would have picked. Returns the signalfd or -1.
 */
static int signals_to_fd(void)
{
    sigset_t set;

    signal(SIGINT, SIG_DFL); /* a shell starts background jobs with SIGINT ignored */
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/*
 * Listening sockets for `n` shards on one port; the first picks it when `port` is 0.
 * Returns the port, or -1 with none of the sockets open.
 */
static int listen_all(struct server *s, unsigned n, const char *host, long port)
{
    /*
     * SO_REUSEPORT would also let these sockets join those of a server
     * already on the port, if it set the option too: the kernel would then
     * share the connections between the two, and neither would know. A
     * socket without the option first makes the port's owner say so.
     */
    if (port != 0) {
        int probe = rt_tcp_listen(host, (uint16_t)port, 1);

        if (probe < 0) {
            fprintf(stderr, "sharded_echo: listen on %s port %ld: %s\n", host, port,
                    strerror(-probe));
            return -1;
        }
        close(probe);
    }
    for (unsigned k = 0; k < n; k++) {
        int fd = rt_tcp_listen_shared(host, (uint16_t)port, SOMAXCONN);

        if (fd < 0) {
            fprintf(stderr, "sharded_echo: listen on %s port %ld: %s\n", host, port, strerror(-fd));
            while (k > 0)
                close(s->shards[--k].listen_fd);
            return -1;
        }
        s->shards[k].listen_fd = fd;
        port = rt_tcp_port(fd);
    }
    return (int)port;
}

int main(int argc, char **argv)
{
    static struct server server;
    static intptr_t sig[MAX_SHARDS]; /* each shard's output: the signal that stopped it */
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    const char *host = "127.0.0.1";
    long port = -1, shards = 0;   /* shards 0: one per CPU */
    struct sockaddr_storage addr; /* only to check the host early */
    socklen_t addr_len;
    struct rt_pool *pool;
    cpu_set_t mask;
    int got_port, cpus;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage(argv[0], 2);
        if (strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            if (!args_number("sharded_echo", argv[i], argv[i + 1], 0, 65535, &port))
                return usage(argv[0], 2);
        } else if (strcmp(argv[i], "--shards") == 0) {
            if (!args_number("sharded_echo", argv[i], argv[i + 1], 1, MAX_SHARDS, &shards))
                return usage(argv[0], 2);
        } else {
            return usage(argv[0], 2);
        }
    }
    if (port < 0)
        return usage(argv[0], 2);
    if (rt_sockaddr(host, 0, &addr, &addr_len) < 0) {
        fprintf(stderr,
                "sharded_echo: %s: not a numeric IPv4 or IPv6 address (looking up a name "
                "would block the executor)\n",
                host);
        return 2;
    }
    b.shards = (unsigned)shards;
    cpus = sched_getaffinity(0, sizeof(mask), &mask) == 0 ? CPU_COUNT(&mask) : 1;
    if (b.shards == 0)
        b.shards = (unsigned)(cpus < MAX_SHARDS ? cpus : MAX_SHARDS);
    /* One shard per core when there are cores enough; more shards than CPUs share them. */
    b.placement.kind = b.shards <= (unsigned)cpus ? RT_PLACEMENT_SPREAD : RT_PLACEMENT_UNBOUND;
    b.mesh_capacity = 1; /* one message per peer, ever: "stop" */
    b.mesh_msg_size = sizeof(int);
    b.name = "echo";

    server.signal_fd = signals_to_fd();
    if (server.signal_fd < 0) {
        perror("sharded_echo: signalfd");
        return 1;
    }
    got_port = listen_all(&server, b.shards, host, port);
    if (got_port < 0) {
        close(server.signal_fd);
        return 1;
    }
    if (rt_pool_start(&b, make_serve, &server, &pool) < 0) {
        /* No shard ever ran (rt_pool_start is all or nothing): the sockets are all still ours. */
        fprintf(stderr, "sharded_echo: %s\n", rt_last_error());
        for (unsigned k = 0; k < b.shards; k++)
            close(server.shards[k].listen_fd);
        close(server.signal_fd);
        return 1;
    }
    printf("sharded_echo: %u shards (placement %s) listening on %s port %d\n", b.shards,
           rt_placement_name(b.placement.kind), host, got_port);
    fflush(stdout); /* whoever waits for this line may be reading a pipe or a file */

    rt_pool_join(pool, sig);
    printf("sharded_echo: %s: shut down; connections per shard:",
           sig[0] == SIGINT ? "SIGINT" : "SIGTERM");
    for (unsigned k = 0; k < b.shards; k++) {
        printf(" %lu", server.shards[k].served);
        if (server.shards[k].open != 0)
            printf(" (%lu left open!)", server.shards[k].open);
        close(server.shards[k].listen_fd);
    }
    printf("\n");
    close(server.signal_fd);
    return 0;
}
