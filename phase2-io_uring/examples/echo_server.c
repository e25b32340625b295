/*
 * echo_server.c - a TCP echo server: an accept loop spawning one task per
 * connection, and a clean shutdown on SIGINT or SIGTERM.
 *
 * Each connection task sends back whatever its peer sends, until the peer
 * closes or something fails; whatever goes wrong on one connection ends that
 * connection only. A peer that never reads blocks its own task's send,
 * nobody else's: every task waits in the kernel on a request of its own.
 *
 * Shutdown is the lesson of this phase. The signal arrives as a read on a
 * signalfd; the main future then cancels the accept loop and returns, and
 * rt_executor_destroy() cancels every connection still open: their receives
 * and sends are cancelled in the kernel, their drop functions close their
 * sockets, their memory is freed. No connection has to be told to stop.
 *
 * Run: make phase2 && build/phase2/examples/echo_server --port 7000 [--host 127.0.0.1]
 *      (--port 0 picks a free port and prints it), then echo_client or
 *      `nc 127.0.0.1 7000`; stop it with Ctrl-C.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

#define BUF_SIZE    (16 * 1024)     /* per connection: what one receive may bring */
#define ACCEPT_WAIT (100 * 1000000) /* ns to wait after a failed accept: 100 ms */

/* The server as a whole. main() owns it and outlives the executor, so tasks may point here. */
struct server {
    int listen_fd;
    unsigned long served; /* connections accepted so far */
    unsigned long open;   /* connections whose socket is still open */
};

/* ----------------------------------------------------- one connection */

struct connection {
    struct rt_async async;
    struct server *server;
    unsigned long id;        /* for messages */
    int fd;                  /* owned from the moment of spawning: connection_drop() closes it */
    struct rt_io io;         /* the receive */
    struct rt_send_all send; /* sending back what was received */
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
        /* May wait a long time if the peer does not read: only this task waits. */
        rt_send_all(&f->send, f->fd, f->buf, (size_t)f->n);
        AWAIT(&f->send.async.future, &f->n);
        if (f->n < 0)
            break; /* -EPIPE, -ECONNRESET: the peer is gone */
    }
    if (f->n < 0)
        fprintf(stderr, "echo_server: connection %lu: %s; closing it\n", f->id,
                strerror((int)-f->n));
    ASYNC_RETURN(0); /* the socket is closed by connection_drop(), which runs next */
    ASYNC_END;
}

/*
 * The one place a connection's socket is closed, however the task ends:
 * finished, or cancelled by rt_executor_destroy() in the middle of a recv
 * or a send. A plain close(): a drop function cannot await, and closing a
 * socket does not block. It is safe with a request still in the kernel: that
 * request holds a reference of its own to the socket until it is cancelled.
 */
static void connection_drop(struct rt_future *self)
{
    struct connection *f = (struct connection *)self;

    rt_async_drop(self); /* cancels the recv or send in flight, if any */
    if (f->fd >= 0) {
        close(f->fd);
        f->server->open--;
    }
    f->fd = -1;
}

static const struct rt_future_vtable connection_vtable = {connection_poll, connection_drop};

static void spawn_connection(struct server *s, int fd)
{
    /* 16 KiB on the stack for a moment: rt_spawn copies it all into the task. */
    struct connection c = {
        .async = RT_ASYNC_INIT(&connection_vtable), .server = s, .id = ++s->served, .fd = fd};
    struct rt_join_handle h;
    int one = 1;

    /*
     * An echo goes back in pieces (one per receive). With Nagle's algorithm
     * on, a small last piece waits for the ACK of the one before, and the
     * client, busy waiting for that very piece, delays its ACK by up to
     * 40 ms. TCP_NODELAY sends each piece at once. If it fails, echoes are
     * only slower.
     */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h = rt_spawn(&c.async.future, sizeof(c));
    s->open++;
    rt_join_detach(&h); /* nobody awaits a connection: it ends by itself, or with the executor */
}

/* ------------------------------------------------------ the accept loop */

struct acceptor {
    struct rt_async async;
    struct server *server;
    struct rt_io io; /* the accept, or the wait after a failed one */
    intptr_t fd;
};

static enum rt_poll acceptor_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct acceptor *f = (struct acceptor *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_io_accept(&f->io, f->server->listen_fd);
        AWAIT(&f->io.future, &f->fd);
        if (f->fd >= 0) {
            spawn_connection(f->server, (int)f->fd);
            continue;
        }
        /*
         * -EMFILE or -ENFILE: no descriptor left until some connection
         * closes; -ENOBUFS, -ENOMEM: short of memory; -ECONNABORTED: the
         * client gave up while it waited in the queue. None is a reason to
         * stop serving everyone else. Wait a little rather than retry at
         * once: a shortage does not end in a microsecond, and an accept
         * that fails at once would make this loop spin.
         */
        fprintf(stderr, "echo_server: accept: %s; trying again in 100 ms\n", strerror((int)-f->fd));
        rt_io_sleep(&f->io, ACCEPT_WAIT);
        AWAIT(&f->io.future, NULL);
    }
    ASYNC_END; /* never reached: the loop ends only when the task is cancelled */
}

static const struct rt_future_vtable acceptor_vtable = {acceptor_poll, rt_async_drop};

/* -------------------------------------------------------- main future */

/* Start the accept loop, wait for a signal, stop the accept loop. Output: the signal. */
struct serve {
    struct rt_async async;
    struct server *server;
    int signal_fd;                  /* main()'s */
    struct rt_join_handle acceptor; /* owned: serve_drop() lets go of it */
    struct rt_io io;
    struct signalfd_siginfo info; /* the read lands here: which signal came */
    intptr_t n;
};

static enum rt_poll serve_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct serve *f = (struct serve *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct acceptor a = {.async = RT_ASYNC_INIT(&acceptor_vtable), .server = f->server};
        f->acceptor = rt_spawn(&a.async.future, sizeof(a));
    }
    /* A signal is just another read: it completes when SIGINT or SIGTERM comes in. */
    rt_io_read(&f->io, f->signal_fd, &f->info, sizeof(f->info), RT_OFFSET_CURRENT);
    AWAIT(&f->io.future, &f->n);
    if (f->n < 0)
        ASYNC_RETURN(f->n);
    /* No new connections from here on; its accept request is cancelled in the kernel. */
    rt_join_cancel(&f->acceptor);
    AWAIT(&f->acceptor.future, NULL);
    ASYNC_RETURN((intptr_t)f->info.ssi_signo);
    ASYNC_END;
}

static void serve_drop(struct rt_future *self)
{
    struct serve *f = (struct serve *)self;

    rt_async_drop(self);
    /* Empty once awaited. Dropped before that, the loop runs on until the executor's end. */
    rt_join_detach(&f->acceptor);
}

static const struct rt_future_vtable serve_vtable = {serve_poll, serve_drop};

/* ----------------------------------------------------------------- main */

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status),
            "usage: %s --port P [--host 127.0.0.1]   (P = 0: any free port)\n", prog);
    return status;
}

/*
 * SIGINT and SIGTERM become readable data on a signalfd instead of killing
 * us: block them, so the kernel keeps them pending for the signalfd to hand
 * over. Returns the signalfd, or -1 with errno set.
 */
static int signals_to_fd(void)
{
    sigset_t set;

    /*
     * A shell starts a background job with SIGINT ignored, and an ignored
     * signal is thrown away rather than kept pending: put the default action
     * back. While the signals are blocked, that default never runs.
     */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) /* one thread: sigprocmask is enough */
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1;
    struct server server = {.listen_fd = -1};
    struct sockaddr_storage addr; /* only to check the host early */
    socklen_t addr_len;
    struct rt_executor *ex;
    unsigned long still_open;
    int signal_fd;
    intptr_t sig;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage(argv[0], 2);
        if (strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            if (!args_number("echo_server", argv[i], argv[i + 1], 0, 65535, &port))
                return usage(argv[0], 2);
        } else {
            return usage(argv[0], 2);
        }
    }
    if (port < 0)
        return usage(argv[0], 2);
    if (rt_sockaddr(host, 0, &addr, &addr_len) < 0) {
        fprintf(stderr,
                "echo_server: %s: not a numeric IPv4 or IPv6 address (looking up a name "
                "would block the executor)\n",
                host);
        return 2;
    }

    signal_fd = signals_to_fd();
    if (signal_fd < 0) {
        perror("echo_server: signalfd");
        return 1;
    }
    server.listen_fd = rt_tcp_listen(host, (uint16_t)port, SOMAXCONN);
    if (server.listen_fd < 0) {
        fprintf(stderr, "echo_server: listen on %s port %ld: %s\n", host, port,
                strerror(-server.listen_fd));
        close(signal_fd);
        return 1;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "echo_server: %s\n", rt_last_error());
        close(server.listen_fd);
        close(signal_fd);
        return 1;
    }
    /* Port 0 asked the kernel to choose: ask the socket which port it got. */
    printf("echo_server: listening on %s port %d\n", host, rt_tcp_port(server.listen_fd));
    fflush(stdout); /* whoever waits for this line may be reading a pipe or a file */

    struct serve f = {
        .async = RT_ASYNC_INIT(&serve_vtable), .server = &server, .signal_fd = signal_fd};
    sig = rt_executor_run(ex, &f.async.future, sizeof(f));

    /*
     * The connections still open are tasks still pending, each with a recv
     * or a send in the kernel. rt_executor_destroy() cancels them all: each
     * request is cancelled, each connection_drop() closes its socket, and the
     * destroy waits until the kernel has let go of every buffer.
     */
    still_open = server.open;
    rt_executor_destroy(ex);
    close(server.listen_fd);
    close(signal_fd);
    if (sig < 0) {
        fprintf(stderr, "echo_server: reading the signalfd: %s\n", strerror((int)-sig));
        return 1;
    }
    printf("echo_server: %s: shut down after %lu connections; rt_executor_destroy cancelled "
           "the %lu still open and closed their sockets (open now: %lu)\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM", server.served, still_open, server.open);
    return 0;
}
