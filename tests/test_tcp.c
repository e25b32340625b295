/*
 * tests/test_tcp.c - TCP over the ring: an echo server and its clients, all
 * tasks of one executor, over IPv4 and IPv6 loopback.
 *
 * Cases: echoes of 1 byte and of 1 MiB over 1 connection and over 100 at
 * once, and of more than one send can move, compared byte for byte;
 * connecting to a port where nobody listens (-ECONNREFUSED), and a connect
 * dropped before it was sent, whose socket is closed; listening on a port in
 * use (-EADDRINUSE), listening again while the last connection lingers in
 * TIME_WAIT (fine), or with a negative backlog (-EINVAL, where listen(2)
 * takes it for its largest); a peer that resets while we send (-ECONNRESET
 * or -EPIPE), after which the executor still serves a full echo; a reset on
 * one connection that leaves another, served at the same time, untouched;
 * recv after the peer closed (0); and host names, which the runtime refuses
 * to look up (-EINVAL); an address length over sizeof(struct
 * sockaddr_storage), refused as connect(2) does (-EINVAL), without reading
 * past the address given, and one of exactly that size, taken; and examples/
 * echo_client against a server that never answers, which its watchdog gives
 * up on instead of waiting for ever. From phase 4:
 * listening sockets that share a port (SO_REUSEPORT) split its connections.
 *
 * The futures here always run to their end (a failed assertion ends the
 * test's process; the connect dropped on purpose closes its own socket),
 * so they free what they own and close their sockets on their last lines
 * rather than in a drop function.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "reactor.h" /* to see that the reactor is idle when a test is done */

TEST_SINCE_PHASE(2);

#define MIB   (1024 * 1024)
#define CHUNK (64 * 1024) /* what one recv asks for */

static struct reactor *reactor_now(void)
{
    return rt__executor_reactor(rt_executor_current());
}

/*
 * Byte `pos` of connection `conn`'s message: byte pos % 4 of the 32-bit
 * number conn << 24 | (pos / 4 + 1), least significant first. Every 4-byte
 * word says which connection it belongs to and where, so bytes that crossed
 * connections or came back out of order can never compare equal. The + 1
 * makes byte 0 non-zero: a 1-byte message of 0 would match a buffer the
 * received byte was never copied into, which starts out zeroed.
 */
static void fill_message(unsigned char *msg, size_t len, int conn)
{
    size_t pos;

    for (pos = 0; pos < len; pos++) {
        uint32_t word = (uint32_t)conn << 24 | (uint32_t)(pos / 4 + 1);

        msg[pos] = (unsigned char)(word >> (8 * (pos % 4)));
    }
}

static bool is_reset(intptr_t res)
{
    return res == -ECONNRESET || res == -EPIPE;
}

/* Close `fd` abruptly: with a zero linger time, close() sends a reset, not an orderly FIN. */
static void reset_and_close(int fd)
{
    struct linger abort_now = {.l_onoff = 1, .l_linger = 0};

    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof(abort_now)), 0);
    ck_assert_int_eq(close(fd), 0);
}

/* ------------------------------------------------------- the echo server */

/*
 * Echoes one connection until the client shuts down its side, then closes
 * it. Output: the bytes echoed, or the -errno that ended the connection.
 */
struct echo_handler {
    struct rt_async async;
    int fd;
    struct rt_io io;
    struct rt_send_all send;
    unsigned char chunk[CHUNK];
    intptr_t n;
    intptr_t total; /* bytes echoed so far */
};

static enum rt_poll echo_handler_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_handler *f = (struct echo_handler *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        /* recv gives what has arrived, often less than asked: echo each piece as it comes. */
        rt_io_recv(&f->io, f->fd, f->chunk, sizeof(f->chunk));
        AWAIT(&f->io.future, &f->n);
        if (f->n <= 0)
            break; /* 0: the client is done sending */
        rt_send_all(&f->send, f->fd, f->chunk, (size_t)f->n);
        AWAIT(&f->send.async.future, &f->n);
        if (f->n < 0)
            break;
        f->total += f->n;
    }
    close(f->fd);
    ASYNC_RETURN(f->n < 0 ? f->n : f->total);
    ASYNC_END;
}

static const struct rt_future_vtable echo_handler_vtable = {echo_handler_poll, rt_async_drop};

static struct rt_join_handle spawn_echo_handler(int fd)
{
    struct echo_handler h = {.async = RT_ASYNC_INIT(&echo_handler_vtable), .fd = fd};

    return rt_spawn(&h.async.future, sizeof(h));
}

/* Accepts `conns` connections, echoes each in a task of its own. Output: bytes echoed in all. */
struct echo_server {
    struct rt_async async;
    int listen_fd;
    int conns;
    struct rt_join_handle *handlers; /* `conns` handles, rt__calloc'd */
    struct rt_io io;
    int i;
    intptr_t n;
    intptr_t total;
};

static enum rt_poll echo_server_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_server *f = (struct echo_server *)self;

    ASYNC_BEGIN(f, cx, out);
    f->handlers = rt__calloc((size_t)f->conns, sizeof(*f->handlers));
    for (f->i = 0; f->i < f->conns; f->i++) {
        rt_io_accept(&f->io, f->listen_fd);
        AWAIT(&f->io.future, &f->n);
        ck_assert_msg(f->n >= 0, "accept: %s", strerror((int)-f->n));
        f->handlers[f->i] = spawn_echo_handler((int)f->n);
    }
    for (f->i = 0; f->i < f->conns; f->i++) {
        AWAIT(&f->handlers[f->i].future, &f->n);
        ck_assert_msg(f->n >= 0, "a connection failed: %s", strerror((int)-f->n));
        f->total += f->n;
    }
    rt__free(f->handlers);
    ASYNC_RETURN(f->total);
    ASYNC_END;
}

static const struct rt_future_vtable echo_server_vtable = {echo_server_poll, rt_async_drop};

/* ------------------------------------------------------- the echo client */

/* Sends `len` bytes with rt_send_all. Output: len, or -errno. */
struct sender {
    struct rt_async async;
    int fd;
    const unsigned char *msg;
    size_t len;
    struct rt_send_all send;
    intptr_t n;
};

static enum rt_poll sender_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct sender *f = (struct sender *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_send_all(&f->send, f->fd, f->msg, f->len);
    AWAIT(&f->send.async.future, &f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable sender_vtable = {sender_poll, rt_async_drop};

static struct rt_join_handle spawn_sender(int fd, const unsigned char *msg, size_t len)
{
    struct sender s = {.async = RT_ASYNC_INIT(&sender_vtable), .fd = fd, .msg = msg, .len = len};

    return rt_spawn(&s.async.future, sizeof(s));
}

/*
 * Sends `len` bytes of `msg` and receives their echo, comparing as it goes.
 * Output: the bytes received back.
 *
 * Sending and receiving must happen at the same time. A client that sent a
 * whole MiB before reading would stall: the echo fills its receive buffer,
 * the server cannot send and so stops reading, and our send waits forever.
 * So the send runs in a task of its own while this future receives.
 */
struct exchange {
    struct rt_async async;
    int fd;
    const unsigned char *msg;
    size_t len;
    struct rt_join_handle sender;
    struct rt_io io;
    unsigned char chunk[CHUNK];
    size_t got;
    intptr_t n;
};

static enum rt_poll exchange_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct exchange *f = (struct exchange *)self;

    ASYNC_BEGIN(f, cx, out);
    f->sender = spawn_sender(f->fd, f->msg, f->len);
    while (f->got < f->len) {
        /* Ask for no more than is still owed: the comparison never reads past `msg`. */
        rt_io_recv(&f->io, f->fd, f->chunk, f->len - f->got < CHUNK ? f->len - f->got : CHUNK);
        AWAIT(&f->io.future, &f->n);
        ck_assert_msg(f->n > 0, "recv gave %d after %zu of %zu bytes", (int)f->n, f->got, f->len);
        ck_assert_msg(memcmp(f->chunk, f->msg + f->got, (size_t)f->n) == 0,
                      "the echo differs within bytes %zu..%zu", f->got, f->got + (size_t)f->n);
        f->got += (size_t)f->n;
    }
    AWAIT(&f->sender.future, &f->n);
    ck_assert_int_eq(f->n, f->len);
    ASYNC_RETURN((intptr_t)f->got);
    ASYNC_END;
}

static const struct rt_future_vtable exchange_vtable = {exchange_poll, rt_async_drop};

static struct exchange exchange(int fd, const unsigned char *msg, size_t len)
{
    return (struct exchange){
        .async = RT_ASYNC_INIT(&exchange_vtable), .fd = fd, .msg = msg, .len = len};
}

/*
 * Pending until `*open` is true. Whoever sets it wakes `*slot`, where the
 * gate keeps its waker. The flag matters: the gate may be opened before
 * anyone waits at it, and then there is no waker to wake.
 */
struct gate {
    struct rt_future future;
    const bool *open;
    struct rt_waker *slot;
};

static enum rt_poll gate_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct gate *g = (struct gate *)self;

    if (*g->open) {
        *out = 0;
        return RT_READY;
    }
    rt_waker_register(g->slot, cx);
    return RT_PENDING;
}

static void gate_drop(struct rt_future *self)
{
    rt_waker_drop(((struct gate *)self)->slot);
}

static const struct rt_future_vtable gate_vtable = {gate_poll, gate_drop};

/*
 * One client: connect, exchange its message, shut down its sending side,
 * and see the server close in turn. With a gate, it stops halfway through
 * its message until the gate opens. Output: the bytes echoed back.
 */
struct echo_client {
    struct rt_async async;
    const char *host;
    uint16_t port;
    int conn; /* which connection this is: part of the message's pattern */
    size_t len;
    struct gate gate; /* gate.open == NULL: no gate */
    unsigned char *msg;
    struct rt_tcp_connect connect;
    int fd;
    struct exchange ex;
    size_t done;
    struct rt_io io;
    unsigned char byte;
    intptr_t n;
};

static enum rt_poll echo_client_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_client *f = (struct echo_client *)self;

    ASYNC_BEGIN(f, cx, out);
    f->msg = rt__malloc(f->len);
    fill_message(f->msg, f->len, f->conn);
    rt_tcp_connect(&f->connect, f->host, f->port);
    AWAIT(&f->connect.async.future, &f->n);
    ck_assert_msg(f->n >= 0, "connect to %s: %s", f->host, strerror((int)-f->n));
    f->fd = (int)f->n;

    if (f->gate.open) {
        f->ex = exchange(f->fd, f->msg, f->len / 2);
        AWAIT(&f->ex.async.future, &f->n);
        f->done = (size_t)f->n;
        AWAIT(&f->gate.future, NULL);
    }
    f->ex = exchange(f->fd, f->msg + f->done, f->len - f->done);
    AWAIT(&f->ex.async.future, &f->n);
    f->done += (size_t)f->n;

    /* End our side of the stream: the server's recv gives 0, so it closes, and then ours does. */
    ck_assert_int_eq(shutdown(f->fd, SHUT_WR), 0);
    rt_io_recv(&f->io, f->fd, &f->byte, 1);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);

    close(f->fd);
    rt__free(f->msg);
    ASYNC_RETURN((intptr_t)f->done);
    ASYNC_END;
}

static const struct rt_future_vtable echo_client_vtable = {echo_client_poll, rt_async_drop};

static struct rt_join_handle spawn_echo_client(const char *host, uint16_t port, int conn,
                                               size_t len, struct gate gate)
{
    struct echo_client c = {.async = RT_ASYNC_INIT(&echo_client_vtable),
                            .host = host,
                            .port = port,
                            .conn = conn,
                            .len = len,
                            .gate = gate};

    return rt_spawn(&c.async.future, sizeof(c));
}

static const struct gate no_gate = {{&gate_vtable}, NULL, NULL};

/* ------------------------------------------------------------- echoes */

/*
 * A server on host, port 0 (any free port), and `conns` clients that learn
 * the port from the listening socket, each echoing `len` bytes of its own.
 * Output: the bytes echoed in all.
 */
struct echo {
    struct rt_async async;
    const char *host;
    int conns;
    size_t len;
    int listen_fd;
    uint16_t port;
    struct rt_join_handle server;
    struct rt_join_handle *clients; /* `conns` handles, rt__calloc'd */
    int i;
    intptr_t n;
    intptr_t total;
};

static enum rt_poll echo_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo *f = (struct echo *)self;

    ASYNC_BEGIN(f, cx, out);
    f->listen_fd = rt_tcp_listen(f->host, 0, f->conns);
    ck_assert_msg(f->listen_fd >= 0, "listen on %s: %s", f->host, strerror(-f->listen_fd));
    f->n = rt_tcp_port(f->listen_fd);
    ck_assert_int_gt(f->n, 0);
    f->port = (uint16_t)f->n;
    {
        struct echo_server s = {.async = RT_ASYNC_INIT(&echo_server_vtable),
                                .listen_fd = f->listen_fd,
                                .conns = f->conns};
        f->server = rt_spawn(&s.async.future, sizeof(s));
    }
    f->clients = rt__calloc((size_t)f->conns, sizeof(*f->clients));
    for (f->i = 0; f->i < f->conns; f->i++)
        f->clients[f->i] = spawn_echo_client(f->host, f->port, f->i, f->len, no_gate);
    for (f->i = 0; f->i < f->conns; f->i++) {
        AWAIT(&f->clients[f->i].future, &f->n);
        ck_assert_int_eq(f->n, f->len);
        f->total += f->n;
    }
    AWAIT(&f->server.future, &f->n);
    ck_assert_int_eq(f->n, f->total); /* the server echoed what the clients got back, no more */
    rt__free(f->clients);
    close(f->listen_fd);
    ASYNC_RETURN(f->total);
    ASYNC_END;
}

static const struct rt_future_vtable echo_vtable = {echo_poll, rt_async_drop};

static struct echo echo(const char *host, int conns, size_t len)
{
    return (struct echo){
        .async = RT_ASYNC_INIT(&echo_vtable), .host = host, .conns = conns, .len = len};
}

/* Runs an echo as a test's main future, and checks that no request was left behind. */
struct echo_main {
    struct rt_async async;
    struct echo echo;
    intptr_t n;
};

static enum rt_poll echo_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct echo_main *f = (struct echo_main *)self;

    ASYNC_BEGIN(f, cx, out);
    AWAIT(&f->echo.async.future, &f->n);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable echo_main_vtable = {echo_main_poll, rt_async_drop};

static void run_echo(const char *host, int conns, size_t len)
{
    struct echo_main f = {.async = RT_ASYNC_INIT(&echo_main_vtable),
                          .echo = echo(host, conns, len)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), (intptr_t)conns * (intptr_t)len);
}

/* Whether ::1 can be bound here: a machine or container may have IPv6 switched off. */
static bool ipv6_loopback_available(void)
{
    int fd = rt_tcp_listen("::1", 0, 1);

    if (fd < 0) {
        ck_assert_msg(fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT,
                      "listen on ::1 failed for an unexpected reason: %s", strerror(-fd));
        return false;
    }
    close(fd);
    return true;
}

#define NO_IPV6 "IPv6 loopback (::1) is not configured on this machine"

START_TEST(echo_one_byte_ipv4)
{
    run_echo("127.0.0.1", 1, 1);
}
END_TEST

START_TEST(echo_one_mib_ipv4)
{
    run_echo("127.0.0.1", 1, MIB);
}
END_TEST

START_TEST(echo_one_byte_on_100_connections_ipv4)
{
    run_echo("127.0.0.1", 100, 1);
}
END_TEST

START_TEST(echo_one_mib_on_100_connections_ipv4)
{
    run_echo("127.0.0.1", 100, MIB);
}
END_TEST

/* More than one send can move (RT_IO_MAX): rt_send_all must go on from where each one stopped. */
START_TEST(echo_more_than_one_request_ipv4)
{
    run_echo("127.0.0.1", 1, 2 * RT_IO_MAX + 123);
}
END_TEST

START_TEST(echo_one_byte_ipv6)
{
    if (!ipv6_loopback_available())
        TEST_SKIP(NO_IPV6);
    run_echo("::1", 1, 1);
}
END_TEST

START_TEST(echo_one_mib_ipv6)
{
    if (!ipv6_loopback_available())
        TEST_SKIP(NO_IPV6);
    run_echo("::1", 1, MIB);
}
END_TEST

START_TEST(echo_one_byte_on_100_connections_ipv6)
{
    if (!ipv6_loopback_available())
        TEST_SKIP(NO_IPV6);
    run_echo("::1", 100, 1);
}
END_TEST

START_TEST(echo_one_mib_on_100_connections_ipv6)
{
    if (!ipv6_loopback_available())
        TEST_SKIP(NO_IPV6);
    run_echo("::1", 100, MIB);
}
END_TEST

/* ------------------------------------------------ refused, in use, names */

/* Connects, closes the connection if there is one, and gives connect's output. */
struct connect_only {
    struct rt_async async;
    const char *host;
    uint16_t port;
    struct rt_tcp_connect connect;
    intptr_t n;
};

static enum rt_poll connect_only_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct connect_only *f = (struct connect_only *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_tcp_connect(&f->connect, f->host, f->port);
    AWAIT(&f->connect.async.future, &f->n);
    if (f->n >= 0)
        close((int)f->n);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

static const struct rt_future_vtable connect_only_vtable = {connect_only_poll, rt_async_drop};

START_TEST(connect_where_nobody_listens_is_refused)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct connect_only f = {.async = RT_ASYNC_INIT(&connect_only_vtable), .host = "127.0.0.1"};
    int port, fds_before;

    /*
     * A port nobody listens on. A socket bound to it and never listening
     * keeps it so: the kernel answers a connection with a reset, exactly as
     * for a closed port, and no other program can start listening there
     * while the test runs, as it could if we closed the socket first.
     */
    ck_assert_int_ge(holder, 0);
    ck_assert_int_eq(rt_sockaddr("127.0.0.1", 0, &addr, &len), 0);
    ck_assert_int_eq(bind(holder, (struct sockaddr *)&addr, len), 0);
    port = rt_tcp_port(holder);
    ck_assert_int_gt(port, 0);
    f.port = (uint16_t)port;

    /* The refused connection's socket is closed, not left to the caller, who never saw it. */
    fds_before = test_fd_count();
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -ECONNREFUSED);
    ck_assert_int_eq(test_fd_count(), fds_before);
    close(holder);
}
END_TEST

/*
 * A listening socket that is never accepted from: the kernel completes the
 * connections, and nothing ever reads or answers. echo_client's watchdog
 * must give up on them (it waited for ever before it had one). The connects
 * finish, which counts as progress, so it gives up at its second look.
 */
START_TEST(echo_client_gives_up_on_a_server_that_never_answers)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char port[8];
    struct test_program r;

    ck_assert_int_ge(silent, 0);
    ck_assert_int_eq(rt_sockaddr("127.0.0.1", 0, &addr, &len), 0);
    ck_assert_int_eq(bind(silent, (struct sockaddr *)&addr, len), 0);
    ck_assert_int_eq(listen(silent, 16), 0);
    snprintf(port, sizeof(port), "%d", rt_tcp_port(silent));
    test_run_built("examples/echo_client",
                   (const char *[]){"echo_client", "--port", port, "--connections", "3",
                                    "--timeout", "1", NULL},
                   false, &r);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "echo_client: no connect or echo finished in 1 s: 3 connections "
                            "given up\n");
    ck_assert_ptr_nonnull(strstr(r.out, ": 0 messages, 0 bytes echoed in "));
    ck_assert_ptr_nonnull(strstr(r.out, "; 3 connections FAILED\n"));
    close(silent);
}
END_TEST

/*
 * Connects with an address of `len` bytes, from a struct sockaddr_in of 16:
 * a length the caller got wrong. Output: the connect's.
 */
struct bad_length {
    struct rt_async async;
    struct sockaddr_in sin;
    socklen_t len;
    int fd;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll bad_length_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct bad_length *f = (struct bad_length *)self;

    ASYNC_BEGIN(f, cx, out);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(f->fd, 0);
    f->sin.sin_family = AF_INET;
    f->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rt_io_connect(&f->io, f->fd, (const struct sockaddr *)&f->sin, f->len);
    AWAIT(&f->io.future, &f->res);
    close(f->fd);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable bad_length_vtable = {bad_length_poll, rt_async_drop};

/* Read 129 bytes of 16 (AddressSanitizer's report), or allocate and copy 4 GiB: neither. */
START_TEST(an_address_length_over_sockaddr_storage_is_refused_unread)
{
    static const socklen_t lengths[] = {sizeof(struct sockaddr_storage) + 1, UINT32_MAX};

    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        struct bad_length f = {.async = RT_ASYNC_INIT(&bad_length_vtable), .len = lengths[i]};

        ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -EINVAL);
    }
}
END_TEST

/* Connects to `listen_fd` with an address given as a whole struct sockaddr_storage. */
struct full_length {
    struct rt_async async;
    int listen_fd;
    struct sockaddr_storage addr;
    socklen_t len;
    int fd;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll full_length_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct full_length *f = (struct full_length *)self;

    ASYNC_BEGIN(f, cx, out);
    ck_assert_int_eq(
        rt_sockaddr("127.0.0.1", (uint16_t)rt_tcp_port(f->listen_fd), &f->addr, &f->len), 0);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(f->fd, 0);
    rt_io_connect(&f->io, f->fd, (const struct sockaddr *)&f->addr, sizeof(f->addr));
    AWAIT(&f->io.future, &f->res);
    close(f->fd);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable full_length_vtable = {full_length_poll, rt_async_drop};

/* The longest length connect(2) takes is the size of a struct sockaddr_storage itself. */
START_TEST(an_address_length_of_sockaddr_storage_is_taken)
{
    struct full_length f = {.async = RT_ASYNC_INIT(&full_length_vtable),
                            .listen_fd = rt_tcp_listen("127.0.0.1", 0, 1)};

    ck_assert_int_ge(f.listen_fd, 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.listen_fd);
}
END_TEST

/*
 * A server restarted on its port while its last connection lingers in
 * TIME_WAIT listens again at once: that is what SO_REUSEADDR is for.
 */
START_TEST(listen_again_while_the_last_connection_lingers)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int server = rt_tcp_listen("127.0.0.1", 0, 1), port, client, conn;

    ck_assert_int_ge(server, 0);
    port = rt_tcp_port(server);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(rt_sockaddr("127.0.0.1", (uint16_t)port, &addr, &len), 0);
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(client, 0);
    ck_assert_int_eq(connect(client, (struct sockaddr *)&addr, len), 0);
    conn = accept(server, NULL, NULL);
    ck_assert_int_ge(conn, 0);
    /* The server's side closes first: its end of the connection keeps the port, in TIME_WAIT. */
    ck_assert_int_eq(close(conn), 0);
    ck_assert_int_eq(close(client), 0);
    ck_assert_int_eq(close(server), 0);

    server = rt_tcp_listen("127.0.0.1", (uint16_t)port, 1);
    ck_assert_msg(server >= 0, "listen again on port %d: %s", port, strerror(-server));
    close(server);
}
END_TEST

START_TEST(listen_on_a_port_in_use_fails)
{
    int first = rt_tcp_listen("127.0.0.1", 0, 1);
    int port, fds_before;

    ck_assert_int_ge(first, 0);
    port = rt_tcp_port(first);
    ck_assert_int_gt(port, 0);
    /* SO_REUSEADDR, which rt_tcp_listen sets, lets a server rebind past TIME_WAIT, no more. */
    fds_before = test_fd_count();
    ck_assert_int_eq(rt_tcp_listen("127.0.0.1", (uint16_t)port, 1), -EADDRINUSE);
    /* The socket made for the failed listen is closed: a server that retries must not leak. */
    ck_assert_int_eq(test_fd_count(), fds_before);
    close(first);
}
END_TEST

/* A negative backlog is refused, where listen() would take it for the largest; 0 is a backlog. */
START_TEST(a_negative_backlog_is_refused)
{
    int fds_before = test_fd_count(), fd;

    ck_assert_int_eq(rt_tcp_listen("127.0.0.1", 0, -1), -EINVAL);
    ck_assert_int_eq(rt_tcp_listen("::1", 0, INT_MIN), -EINVAL);
#if PHASE >= 4
    ck_assert_int_eq(rt_tcp_listen_shared("127.0.0.1", 0, -5), -EINVAL);
#endif
    ck_assert_int_eq(test_fd_count(), fds_before);
    fd = rt_tcp_listen("127.0.0.1", 0, 0);
    ck_assert_int_ge(fd, 0);
    close(fd);
}
END_TEST

/* rt_tcp_port() is for IP sockets; anything else gets -errno, never whatever the stack held. */
START_TEST(the_port_of_a_socket_without_one_is_an_error)
{
    struct sockaddr_un named = {.sun_family = AF_UNIX};
    int pair[2], bound, plain;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(rt_tcp_port(pair[0]), -EAFNOSUPPORT); /* unnamed */
    /* A name in the abstract namespace (a leading NUL): nothing on disk to clean up. */
    memcpy(named.sun_path, "\0rt_tcp_port test", 18);
    bound = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(bound, 0);
    ck_assert_int_eq(
        bind(bound, (struct sockaddr *)&named, offsetof(struct sockaddr_un, sun_path) + 18), 0);
    ck_assert_int_eq(rt_tcp_port(bound), -EAFNOSUPPORT);
    plain = socket(AF_INET, SOCK_STREAM, 0); /* not bound yet: port 0 */
    ck_assert_int_ge(plain, 0);
    ck_assert_int_eq(rt_tcp_port(plain), 0);
    ck_assert_int_eq(rt_tcp_port(-1), -EBADF);
    close(pair[0]);
    close(pair[1]);
    close(bound);
    close(plain);
}
END_TEST

START_TEST(host_names_are_refused)
{
    struct sockaddr_storage addr;
    socklen_t len;
    struct connect_only f = {
        .async = RT_ASYNC_INIT(&connect_only_vtable), .host = "localhost", .port = 80};

    /* Looking a name up would block the executor's thread: only numeric addresses are taken. */
    ck_assert_int_eq(rt_sockaddr("localhost", 80, &addr, &len), -EINVAL);
    ck_assert_int_eq(rt_tcp_listen("localhost", 0, 1), -EINVAL);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -EINVAL);
    /* The numeric forms of the same address are fine. */
    ck_assert_int_eq(rt_sockaddr("127.0.0.1", 80, &addr, &len), 0);
    ck_assert_int_eq(addr.ss_family, AF_INET);
    ck_assert_int_eq(rt_sockaddr("::1", 80, &addr, &len), 0);
    ck_assert_int_eq(addr.ss_family, AF_INET6);
}
END_TEST

/* ------------------------------------------------ a connect dropped */

struct connect_dropped {
    struct rt_async async;
    uint16_t port;
    struct rt_join_handle victim, killer;
    intptr_t killed;
};

static enum rt_poll connect_dropped_poll(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    struct connect_dropped *f = (struct connect_dropped *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct connect_only c = {
            .async = RT_ASYNC_INIT(&connect_only_vtable), .host = "127.0.0.1", .port = f->port};

        f->victim = rt_spawn(&c.async.future, sizeof(c));
    }
    {
        /*
         * Spawned right after its victim, it runs in the same turn: the
         * socket is made, the connect queued, and nothing submitted yet.
         */
        struct test_canceller k = test_canceller(&f->victim);

        f->killer = rt_spawn(&k.future, sizeof(k));
    }
    AWAIT(&f->killer.future, &f->killed);
    ck_assert_int_eq(f->killed, 1);
    AWAIT(&f->victim.future, NULL);
    ck_assert(f->victim.cancelled);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable connect_dropped_vtable = {connect_dropped_poll, rt_async_drop};

/*
 * An rt_tcp_connect dropped after its first poll, once it has made its
 * socket: nobody will ever see that socket, so the drop closes it.
 */
START_TEST(a_dropped_connect_closes_its_socket)
{
    struct connect_dropped f = {.async = RT_ASYNC_INIT(&connect_dropped_vtable)};
    int listen_fd = rt_tcp_listen("127.0.0.1", 0, 1), fds_before;

    ck_assert_int_ge(listen_fd, 0);
    f.port = (uint16_t)rt_tcp_port(listen_fd);
    fds_before = test_fd_count();
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    ck_assert_int_eq(test_fd_count(), fds_before);
    close(listen_fd);
}
END_TEST

/* ------------------------------------------------ recv after the peer closed */

/* Listens on 127.0.0.1, connects to itself and accepts: a connected pair of TCP sockets. */
struct tcp_pair {
    struct rt_async async;
    int listen_fd;
    int *fds; /* the caller's: [0] the connecting side, [1] the accepted side */
    struct rt_tcp_connect connect;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll tcp_pair_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct tcp_pair *f = (struct tcp_pair *)self;

    ASYNC_BEGIN(f, cx, out);
    /* The kernel completes the handshake for the listener: connect, then accept, is fine. */
    rt_tcp_connect(&f->connect, "127.0.0.1", (uint16_t)rt_tcp_port(f->listen_fd));
    AWAIT(&f->connect.async.future, &f->n);
    ck_assert_msg(f->n >= 0, "connect: %s", strerror((int)-f->n));
    f->fds[0] = (int)f->n;
    rt_io_accept(&f->io, f->listen_fd);
    AWAIT(&f->io.future, &f->n);
    ck_assert_msg(f->n >= 0, "accept: %s", strerror((int)-f->n));
    f->fds[1] = (int)f->n;
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable tcp_pair_vtable = {tcp_pair_poll, rt_async_drop};

static struct tcp_pair tcp_pair(int listen_fd, int fds[2])
{
    return (struct tcp_pair){
        .async = RT_ASYNC_INIT(&tcp_pair_vtable), .listen_fd = listen_fd, .fds = fds};
}

struct peer_closed {
    struct rt_async async;
    int listen_fd;
    int fds[2];
    struct tcp_pair pair;
    struct rt_io io;
    char buf[16];
    intptr_t n;
};

static enum rt_poll peer_closed_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct peer_closed *f = (struct peer_closed *)self;

    ASYNC_BEGIN(f, cx, out);
    f->pair = tcp_pair(f->listen_fd, f->fds);
    AWAIT(&f->pair.async.future, NULL);
    ck_assert_int_eq(close(f->fds[1]), 0); /* an orderly close: a FIN, not a reset */

    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    /* The end of the stream stays the end: asking again gives 0 again, not an error. */
    rt_io_recv(&f->io, f->fds[0], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    close(f->fds[0]);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable peer_closed_vtable = {peer_closed_poll, rt_async_drop};

START_TEST(recv_after_the_peer_closed_gives_zero)
{
    struct peer_closed f = {.async = RT_ASYNC_INIT(&peer_closed_vtable),
                            .listen_fd = rt_tcp_listen("127.0.0.1", 0, 1)};

    ck_assert_int_ge(f.listen_fd, 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.listen_fd);
}
END_TEST

/* ------------------------------------------------ a reset in the middle of a send */

#define BIG_SEND (8 * MIB)

static const int small_buffer = 64 * 1024; /* bytes, for SO_SNDBUF and SO_RCVBUF */

struct reset_mid_send {
    struct rt_async async;
    int listen_fd;
    int fds[2]; /* [0] ours, sending; [1] the peer, which resets */
    struct tcp_pair pair;
    unsigned char *big; /* BIG_SEND bytes */
    struct rt_join_handle sender;
    struct rt_io io;
    unsigned char buf[16];
    struct echo echo;
    intptr_t n;
};

static enum rt_poll reset_mid_send_poll(struct rt_future *self, struct rt_context *cx,
                                        intptr_t *out)
{
    struct reset_mid_send *f = (struct reset_mid_send *)self;

    ASYNC_BEGIN(f, cx, out);
    /*
     * Small socket buffers on both sides (the accepted socket inherits the
     * listener's), so the kernel cannot swallow the whole send: much of it
     * is still to go when the reset comes.
     */
    ck_assert_int_eq(
        setsockopt(f->listen_fd, SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof(small_buffer)), 0);
    f->pair = tcp_pair(f->listen_fd, f->fds);
    AWAIT(&f->pair.async.future, NULL);
    ck_assert_int_eq(
        setsockopt(f->fds[0], SOL_SOCKET, SO_SNDBUF, &small_buffer, sizeof(small_buffer)), 0);

    f->big = rt__calloc(1, BIG_SEND);
    f->sender = spawn_sender(f->fds[0], f->big, BIG_SEND);
    rt_io_recv(&f->io, f->fds[1], f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_gt(f->n, 0); /* the bytes are flowing */
    reset_and_close(f->fds[1]);

    AWAIT(&f->sender.future, &f->n);
    ck_assert_msg(is_reset(f->n), "rt_send_all to a peer that reset gave %d", (int)f->n);
    close(f->fds[0]);
    rt__free(f->big);

    /* The executor is none the worse: a new server and client echo a whole MiB. */
    f->echo = echo("127.0.0.1", 1, MIB);
    AWAIT(&f->echo.async.future, &f->n);
    ck_assert_int_eq(f->n, MIB);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reset_mid_send_vtable = {reset_mid_send_poll, rt_async_drop};

START_TEST(peer_resets_while_we_send)
{
    struct reset_mid_send f = {.async = RT_ASYNC_INIT(&reset_mid_send_vtable),
                               .listen_fd = rt_tcp_listen("127.0.0.1", 0, 1)};

    ck_assert_int_ge(f.listen_fd, 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.listen_fd);
}
END_TEST

/* ------------------------------------------ one connection's reset, another's echo */

#define RUDE_LEN (16 * 1024) /* small enough to sit in socket buffers while nobody reads */

/* Connects, sends a little, reads a little of the echo, and resets the connection. */
struct rude_client {
    struct rt_async async;
    uint16_t port;
    struct rt_tcp_connect connect;
    int fd;
    unsigned char msg[RUDE_LEN];
    struct rt_send_all send;
    struct rt_io io;
    unsigned char buf[16];
    intptr_t n;
};

static enum rt_poll rude_client_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rude_client *f = (struct rude_client *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_tcp_connect(&f->connect, "127.0.0.1", f->port);
    AWAIT(&f->connect.async.future, &f->n);
    ck_assert_msg(f->n >= 0, "connect: %s", strerror((int)-f->n));
    f->fd = (int)f->n;
    fill_message(f->msg, RUDE_LEN, 1);
    rt_send_all(&f->send, f->fd, f->msg, RUDE_LEN);
    AWAIT(&f->send.async.future, &f->n);
    ck_assert_int_eq(f->n, RUDE_LEN);
    rt_io_recv(&f->io, f->fd, f->buf, sizeof(f->buf));
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_gt(f->n, 0); /* the server is echoing */
    reset_and_close(f->fd);    /* with most of the echo unread */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable rude_client_vtable = {rude_client_poll, rt_async_drop};

struct isolation {
    struct rt_async async;
    int listen_fd;
    uint16_t port;
    bool gate_open;
    struct rt_waker gate_waker;
    struct rt_join_handle good, good_handler, rude, rude_handler;
    struct rt_io io;
    intptr_t n;
};

static enum rt_poll isolation_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct isolation *f = (struct isolation *)self;

    ASYNC_BEGIN(f, cx, out);
    f->port = (uint16_t)rt_tcp_port(f->listen_fd);
    {
        struct gate g = {{&gate_vtable}, &f->gate_open, &f->gate_waker};
        f->good = spawn_echo_client("127.0.0.1", f->port, 0, MIB, g);
    }
    /* One client at a time, so we know whose connection each accept gives. */
    rt_io_accept(&f->io, f->listen_fd);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_ge(f->n, 0);
    f->good_handler = spawn_echo_handler((int)f->n);
    {
        struct rude_client c = {.async = RT_ASYNC_INIT(&rude_client_vtable), .port = f->port};
        f->rude = rt_spawn(&c.async.future, sizeof(c));
    }
    rt_io_accept(&f->io, f->listen_fd);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_ge(f->n, 0);
    f->rude_handler = spawn_echo_handler((int)f->n);

    /* The good client cannot finish before the gate opens, so its connection outlives this. */
    AWAIT(&f->rude_handler.future, &f->n);
    ck_assert_msg(is_reset(f->n), "the reset connection's handler ended with %d", (int)f->n);
    AWAIT(&f->rude.future, NULL);

    f->gate_open = true;
    rt_waker_wake(&f->gate_waker);
    AWAIT(&f->good.future, &f->n);
    ck_assert_int_eq(f->n, MIB); /* all of it, compared byte for byte by the client */
    AWAIT(&f->good_handler.future, &f->n);
    ck_assert_int_eq(f->n, MIB);
    ck_assert(rt__reactor_idle(reactor_now()));
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable isolation_vtable = {isolation_poll, rt_async_drop};

START_TEST(a_reset_connection_leaves_another_alone)
{
    struct isolation f = {.async = RT_ASYNC_INIT(&isolation_vtable),
                          .listen_fd = rt_tcp_listen("127.0.0.1", 0, 2)};

    ck_assert_int_ge(f.listen_fd, 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    close(f.listen_fd);
}
END_TEST

#if PHASE >= 4
/*
 * Phase 4: sockets made with rt_tcp_listen_shared() share a port
 * (SO_REUSEPORT), one per shard; a plain listen there is refused; and the
 * kernel hands the connections to both (32 of them: all on one socket would
 * take a hash that chose the same one 32 times running).
 */
START_TEST(shared_listeners_split_the_connections_of_one_port)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fds[2], clients[32], accepted[2] = {0, 0}, port;

    fds[0] = rt_tcp_listen_shared("127.0.0.1", 0, 64);
    ck_assert_int_ge(fds[0], 0);
    port = rt_tcp_port(fds[0]);
    fds[1] = rt_tcp_listen_shared("127.0.0.1", (uint16_t)port, 64);
    ck_assert_int_ge(fds[1], 0);
    ck_assert_int_eq(rt_tcp_listen("127.0.0.1", (uint16_t)port, 64), -EADDRINUSE);

    ck_assert_int_eq(rt_sockaddr("127.0.0.1", (uint16_t)port, &addr, &addr_len), 0);
    for (int i = 0; i < 32; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(clients[i], 0);
        /* Returns once the connection waits in one of the two accept queues. */
        ck_assert_int_eq(connect(clients[i], (struct sockaddr *)&addr, addr_len), 0);
    }
    for (int k = 0; k < 2; k++) {
        /* Non-blocking: accept what is queued, then stop at -EAGAIN. */
        ck_assert_int_eq(fcntl(fds[k], F_SETFL, O_NONBLOCK), 0);
        for (;;) {
            int fd = accept(fds[k], NULL, NULL);

            if (fd < 0) {
                ck_assert_int_eq(errno, EAGAIN);
                break;
            }
            accepted[k]++;
            close(fd);
        }
        close(fds[k]);
    }
    for (int i = 0; i < 32; i++)
        close(clients[i]);
    ck_assert_int_eq(accepted[0] + accepted[1], 32);
    ck_assert_int_gt(accepted[0], 0);
    ck_assert_int_gt(accepted[1], 0);
}
END_TEST
#endif

Suite *suite_tcp(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = test_case("tcp");

    tcase_add_test(tc, echo_one_byte_ipv4);
    tcase_add_test(tc, echo_one_mib_ipv4);
    tcase_add_test(tc, echo_one_byte_on_100_connections_ipv4);
    tcase_add_test(tc, echo_one_mib_on_100_connections_ipv4);
    tcase_add_test(tc, echo_more_than_one_request_ipv4);
    tcase_add_test(tc, echo_one_byte_ipv6);
    tcase_add_test(tc, echo_one_mib_ipv6);
    tcase_add_test(tc, echo_one_byte_on_100_connections_ipv6);
    tcase_add_test(tc, echo_one_mib_on_100_connections_ipv6);
    tcase_add_test(tc, connect_where_nobody_listens_is_refused);
    tcase_add_test(tc, listen_on_a_port_in_use_fails);
    tcase_add_test(tc, listen_again_while_the_last_connection_lingers);
    tcase_add_test(tc, a_negative_backlog_is_refused);
    tcase_add_test(tc, the_port_of_a_socket_without_one_is_an_error);
    tcase_add_test(tc, host_names_are_refused);
    tcase_add_test(tc, an_address_length_over_sockaddr_storage_is_refused_unread);
    tcase_add_test(tc, an_address_length_of_sockaddr_storage_is_taken);
    tcase_add_test(tc, a_dropped_connect_closes_its_socket);
    tcase_add_test(tc, recv_after_the_peer_closed_gives_zero);
    tcase_add_test(tc, peer_resets_while_we_send);
    tcase_add_test(tc, a_reset_connection_leaves_another_alone);
    tcase_add_test(tc, echo_client_gives_up_on_a_server_that_never_answers);
#if PHASE >= 4
    tcase_add_test(tc, shared_listeners_split_the_connections_of_one_port);
#endif
    suite_add_tcase(s, tc);
    return s;
}
