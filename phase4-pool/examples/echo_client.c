/*
 * echo_client.c - drives echo_server: many connections at once, each a task
 * that sends messages and checks every echo byte for byte.
 *
 * N client tasks run side by side on one thread. Each connects, then sends
 * M messages of S bytes, one at a time, and reads each echo back before the
 * next. The bytes follow a pattern that depends on the connection and the
 * message, so an echo that came back on the wrong connection, out of order
 * or damaged is caught. Prints a summary; exits with 1 on any mismatch or
 * error.
 *
 * A server that accepts and then never answers would keep a client
 * waiting for ever, so a watchdog task looks every --timeout seconds
 * (10 by default) whether any connect or echo has finished since its last
 * look, and if none has, it cancels the connections still open. One timer
 * for the whole run: an rt_timeout() around each read would cost a timer
 * and its cancellation per message, and took some 40% of this client's rate.
 *
 * Run: make phase2 && build/phase2/examples/echo_client --port P [--host 127.0.0.1]
 *      [--connections 8] [--messages 1000] [--size 64] [--timeout 10]
 *      (with echo_server on port P)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/args.h"
#include "common/clock.h"
#include "rt.h"

/*
 * A message is sent whole before its echo is read. If the socket buffers
 * between us could not hold a whole message, the server would block sending
 * the echo (we are not reading) and we would block sending the rest of the
 * message (it is not reading): the classic echo deadlock. 64 KiB fits.
 */
#define MAX_SIZE        (64 * 1024)
#define MAX_CONNECTIONS 10000
#define MAX_TIMEOUT_S   3600 /* an hour: longer is surely a mistake */

/* What main() was told; read by every client. */
struct options {
    const char *host;
    long port, connections, messages, size;
    long timeout_s; /* how long the watchdog waits for any connection to move */
};

/* What the clients add up, for the summary. In main(), which outlives the executor. */
struct totals {
    unsigned long messages, bytes;
    unsigned long steps; /* connects and echoes finished: what the watchdog watches */
};

/* The byte at `at` in message `msg` of connection `conn`: different for each of the three. */
static unsigned char pattern(long conn, long msg, long at)
{
    return (unsigned char)(conn * 131 + msg * 31 + at);
}

/* ------------------------------------------------------ one connection */

struct client {
    struct rt_async async;
    const struct options *opt; /* borrowed from main(), like `totals` */
    struct totals *totals;
    long id;        /* this connection's number, 0 to N - 1 */
    int fd;         /* -1 until connected; owned, so client_drop() exists */
    char *sent;     /* the message, S bytes; owned */
    char *received; /* its echo, S bytes; owned */
    long i;         /* the message being sent */
    struct rt_tcp_connect connect;
    struct rt_send_all send;
    struct rt_read_exact recv;
    intptr_t n;
};

/* Say what went wrong on this connection; the result is the client's output. */
static intptr_t fail(const struct client *f, const char *what, intptr_t err)
{
    if (f->fd < 0)
        fprintf(stderr, "echo_client: connection %ld: %s: %s\n", f->id, what, strerror((int)-err));
    else
        fprintf(stderr, "echo_client: connection %ld, message %ld: %s: %s\n", f->id, f->i, what,
                strerror((int)-err));
    return err;
}

/* Compare an echo with what was sent; on a difference, say where. Returns 0 or -EBADMSG. */
static intptr_t check_echo(const struct client *f)
{
    for (long at = 0; at < f->opt->size; at++) {
        if (f->received[at] != f->sent[at]) {
            fprintf(stderr,
                    "echo_client: connection %ld, message %ld: byte %ld came back as 0x%02x, "
                    "not 0x%02x\n",
                    f->id, f->i, at, (unsigned char)f->received[at], (unsigned char)f->sent[at]);
            return -EBADMSG;
        }
    }
    return 0;
}

static enum rt_poll client_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct client *f = (struct client *)self;
    size_t size = (size_t)f->opt->size; /* set again at every poll: locals do not survive AWAIT */

    ASYNC_BEGIN(f, cx, out);
    f->sent = malloc(size);
    f->received = malloc(size);
    if (!f->sent || !f->received)
        ASYNC_RETURN(fail(f, "malloc", -ENOMEM));

    rt_tcp_connect(&f->connect, f->opt->host, (uint16_t)f->opt->port);
    AWAIT(&f->connect.async.future, &f->n);
    if (f->n < 0)
        ASYNC_RETURN(fail(f, "connect", f->n));
    f->fd = (int)f->n;
    f->totals->steps++;

    for (f->i = 0; f->i < f->opt->messages; f->i++) {
        for (long at = 0; at < f->opt->size; at++)
            f->sent[at] = (char)pattern(f->id, f->i, at);
        rt_send_all(&f->send, f->fd, f->sent, size);
        AWAIT(&f->send.async.future, &f->n);
        if (f->n < 0)
            ASYNC_RETURN(fail(f, "send", f->n));
        /* A socket is a file descriptor too: read until all S bytes are in, or the peer closes. */
        rt_read_exact(&f->recv, f->fd, f->received, size, RT_OFFSET_CURRENT);
        AWAIT(&f->recv.async.future, &f->n);
        if (f->n < 0)
            ASYNC_RETURN(fail(f, "receive", f->n));
        if ((size_t)f->n < size) {
            fprintf(stderr,
                    "echo_client: connection %ld, message %ld: the server closed the "
                    "connection after %ld of %zu bytes\n",
                    f->id, f->i, (long)f->n, size);
            ASYNC_RETURN(-ECONNRESET);
        }
        if (check_echo(f) < 0)
            ASYNC_RETURN(-EBADMSG);
        f->totals->messages++;
        f->totals->bytes += size;
        f->totals->steps++;
    }
    ASYNC_RETURN(0); /* client_drop() closes the socket and frees the buffers */
    ASYNC_END;
}

/* Runs once, finished or not: the one place the socket is closed and the buffers freed. */
static void client_drop(struct rt_future *self)
{
    struct client *f = (struct client *)self;

    rt_async_drop(self); /* cancels a connect, send or read still in the kernel */
    if (f->fd >= 0)
        close(f->fd); /* a socket's close() does not block: no need to go through the ring */
    f->fd = -1;
    free(f->sent);
    free(f->received);
    f->sent = f->received = NULL;
}

static const struct rt_future_vtable client_vtable = {client_poll, client_drop};

/* ---------------------------------------------------- the watchdog */

/*
 * Every timeout_s, look at the count of finished connects and echoes; if it
 * has not moved since the last look, cancel every client still running (a
 * cancelled task's future is dropped: client_drop() closes its socket, and
 * its read is cancelled in the kernel). all_clients owns the handles and
 * cancels the watchdog before they go away.
 */
struct watchdog {
    struct rt_async async;
    const struct options *opt;   /* borrowed from main() */
    const struct totals *totals; /* borrowed from main() */
    struct rt_join_handle *jobs; /* borrowed from all_clients */
    unsigned long seen;          /* `steps` at the last look */
    struct rt_io nap;
    intptr_t n;
};

static enum rt_poll watchdog_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct watchdog *f = (struct watchdog *)self;
    long given_up = 0;

    ASYNC_BEGIN(f, cx, out);
    do {
        f->seen = f->totals->steps;
        rt_io_sleep(&f->nap, (uint64_t)f->opt->timeout_s * NSEC_PER_SEC);
        AWAIT(&f->nap.future, &f->n);
    } while (f->totals->steps != f->seen);
    for (long i = 0; i < f->opt->connections; i++)
        given_up += rt_join_cancel(&f->jobs[i]);
    fprintf(stderr, "echo_client: no connect or echo finished in %ld s: %ld connections given up\n",
            f->opt->timeout_s, given_up);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable watchdog_vtable = {watchdog_poll, rt_async_drop};

/* ---------------------------------------------------- all the clients */

/* Spawn N clients and a watchdog, wait for the clients. Output: how many failed. */
struct all_clients {
    struct rt_async async;
    const struct options *opt;
    struct totals *totals;
    struct rt_join_handle *jobs;    /* N handles; owned, so all_clients_drop() exists */
    struct rt_join_handle watchdog; /* owned too */
    long i;
    intptr_t n;
    intptr_t failed;
};

static enum rt_poll all_clients_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct all_clients *f = (struct all_clients *)self;

    ASYNC_BEGIN(f, cx, out);
    f->jobs = calloc((size_t)f->opt->connections, sizeof(*f->jobs));
    if (!f->jobs)
        ASYNC_RETURN(f->opt->connections); /* not one of them could run */
    for (f->i = 0; f->i < f->opt->connections; f->i++) {
        struct client c = {.async = RT_ASYNC_INIT(&client_vtable),
                           .opt = f->opt,
                           .totals = f->totals,
                           .id = f->i,
                           .fd = -1};
        f->jobs[f->i] = rt_spawn(&c.async.future, sizeof(c));
    }
    {
        struct watchdog w = {.async = RT_ASYNC_INIT(&watchdog_vtable),
                             .opt = f->opt,
                             .totals = f->totals,
                             .jobs = f->jobs};
        f->watchdog = rt_spawn(&w.async.future, sizeof(w));
    }
    for (f->i = 0; f->i < f->opt->connections; f->i++) {
        AWAIT(&f->jobs[f->i].future, &f->n);
        if (f->n < 0 || f->jobs[f->i].cancelled)
            f->failed++;
    }
    ASYNC_RETURN(f->failed); /* all_clients_drop() stops the watchdog */
    ASYNC_END;
}

static void all_clients_drop(struct rt_future *self)
{
    struct all_clients *f = (struct all_clients *)self;

    rt_async_drop(self);
    /* The watchdog first: it points at the handles below. */
    rt_join_cancel(&f->watchdog);
    rt_join_detach(&f->watchdog);
    if (f->jobs) {
        for (long i = 0; i < f->opt->connections; i++)
            rt_join_detach(&f->jobs[i]); /* an empty (awaited) handle is left alone */
    }
    free(f->jobs);
    f->jobs = NULL;
}

static const struct rt_future_vtable all_clients_vtable = {all_clients_poll, all_clients_drop};

/* ------------------------------------------------------------------ main */

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status),
            "usage: %s --port P [--host 127.0.0.1] [--connections N (1 to %d)]\n"
            "       [--messages M (0 to 100000000)] [--size S (1 to %d bytes)]\n"
            "       [--timeout SECONDS (1 to %d; default 10)]\n",
            prog, MAX_CONNECTIONS, MAX_SIZE, MAX_TIMEOUT_S);
    return status;
}

/*
 * A file descriptor per connection, and a few more (the ring, stdio): ask
 * for as many as the hard limit allows, as kv_server does, and if that is
 * still too few, say so now rather than once per failed connect.
 */
static bool enough_fds(long connections)
{
    struct rlimit r;
    rlim_t need = (rlim_t)connections + 16;

    if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur >= need)
        return true;
    r.rlim_cur = r.rlim_max < need ? r.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &r);
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur >= need)
        return true;
    fprintf(stderr,
            "echo_client: %ld connections need about %lu file descriptors, and this process may "
            "have %lu (ulimit -n)\n",
            connections, (unsigned long)need, (unsigned long)r.rlim_cur);
    return false;
}

int main(int argc, char **argv)
{
    struct options opt = {
        .host = "127.0.0.1",
        .port = -1,
        .connections = 8,
        .messages = 1000,
        .size = 64,
        .timeout_s = 10,
    };
    struct totals totals = {0};
    struct sockaddr_storage addr; /* only to check the host early */
    socklen_t addr_len;
    struct rt_executor *ex;
    intptr_t failed;
    uint64_t start;
    double elapsed;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = value != NULL;

        if (ok && strcmp(name, "--host") == 0)
            opt.host = value;
        else if (ok && strcmp(name, "--port") == 0)
            ok = args_number("echo_client", name, value, 1, 65535, &opt.port);
        else if (ok && strcmp(name, "--connections") == 0)
            ok = args_number("echo_client", name, value, 1, MAX_CONNECTIONS, &opt.connections);
        else if (ok && strcmp(name, "--messages") == 0)
            ok = args_number("echo_client", name, value, 0, 100000000, &opt.messages);
        else if (ok && strcmp(name, "--size") == 0)
            ok = args_number("echo_client", name, value, 1, MAX_SIZE, &opt.size);
        else if (ok && strcmp(name, "--timeout") == 0)
            ok = args_number("echo_client", name, value, 1, MAX_TIMEOUT_S, &opt.timeout_s);
        else
            ok = false;
        if (!ok)
            return usage(argv[0], 2);
    }
    if (opt.port < 0)
        return usage(argv[0], 2);
    if (!enough_fds(opt.connections))
        return 1;
    if (rt_sockaddr(opt.host, 0, &addr, &addr_len) < 0) {
        fprintf(stderr,
                "echo_client: %s: not a numeric IPv4 or IPv6 address (looking up a name "
                "would block the executor)\n",
                opt.host);
        return 2;
    }
    if (rt_executor_create(NULL, &ex) < 0) {
        fprintf(stderr, "echo_client: %s\n", rt_last_error());
        return 1;
    }

    struct all_clients f = {
        .async = RT_ASYNC_INIT(&all_clients_vtable), .opt = &opt, .totals = &totals};
    start = now_ns();
    failed = rt_executor_run(ex, &f.async.future, sizeof(f));
    elapsed = (double)(now_ns() - start) / NSEC_PER_SEC;
    rt_executor_destroy(ex);

    printf("echo_client: %ld connections x %ld messages of %ld bytes: %lu messages, %lu bytes "
           "echoed in %.3f s (%.0f msgs/s)",
           opt.connections, opt.messages, opt.size, totals.messages, totals.bytes, elapsed,
           elapsed > 0 ? (double)totals.messages / elapsed : 0.0);
    if (failed) {
        printf("; %ld connections FAILED\n", (long)failed);
        return 1;
    }
    printf("; all checked\n");
    return 0;
}
