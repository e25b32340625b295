/*
 * net.h - TCP over io_uring: listening, connecting, sending it all. New in phase 2.
 * Phase 4 adds a listening socket that shards share a port with (SO_REUSEPORT).
 *
 * Making a socket, binding and listening are immediate system calls: they
 * never wait for the network, so they are plain functions returning a file
 * descriptor or -errno. Accepting, connecting, receiving and sending do
 * wait, so they are futures (rt_io_accept, rt_io_connect, rt_io_recv and
 * rt_io_send in io.h, and the two below).
 *
 * shutdown(2) and setsockopt(2) never wait either: call them directly.
 *
 * Addresses are numeric, IPv4 ("127.0.0.1") or IPv6 ("::1"): looking up a
 * name would block the whole executor. Sockets are made in blocking mode:
 * io_uring never blocks on one anyway (it tries without waiting, then polls
 * the socket inside the kernel and retries), and blocking mode means the
 * same on every kernel: a request completes when there is something to
 * report. O_NONBLOCK would change less than it suggests: on Linux 6.18 a
 * RECV or SEND does not look at it, and only MSG_DONTWAIT gets -EAGAIN back.
 *
 * The two futures below are prepared only when they hold no request, as an
 * rt_io is (io.h): zero-filled, finished or dropped. Preparing one again
 * while its request is in flight stops the program with a message.
 */
#ifndef RT_NET_H
#define RT_NET_H

#include <stdint.h>
#include <sys/socket.h>

#include "async.h"
#include "io.h"

/* Fill *addr for a numeric host and a port. Returns 0, or -EINVAL if `host` is not numeric. */
int rt_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len);

/*
 * A TCP socket listening on host:port (port 0: any free port), with up to
 * `backlog` connections waiting to be accepted (0 or more; the kernel caps
 * it at net.core.somaxconn). Returns its fd, or -errno: -EINVAL for a host
 * that is not numeric or a negative backlog. `port` is 16 bits: check a
 * wider number's range before the call (the examples use args_number()).
 */
int rt_tcp_listen(const char *host, uint16_t port, int backlog);

/*
 * Phase 4: the same, with SO_REUSEPORT, so that each shard of a pool can
 * have a listening socket of its own on one port: the kernel spreads the
 * incoming connections over them (by a hash of each connection's addresses),
 * and a connection stays with the shard that accepted it, no lock and no
 * hand-over between cores. Every socket sharing the port must set the
 * option, under the same user. For port 0, let the first call pick the
 * port (rt_tcp_port) and give that port to the others.
 */
int rt_tcp_listen_shared(const char *host, uint16_t port, int backlog);

/*
 * The local port an IPv4 or IPv6 socket is bound to (0 if it is not bound
 * yet), or -errno: -EBADF or -ENOTSOCK for a descriptor that is no socket,
 * -EAFNOSUPPORT for a socket of another family (a Unix socket has no port).
 */
int rt_tcp_port(int fd);

/* Connect to host:port. Output: the connected socket's fd (now the caller's), or -errno. */
struct rt_tcp_connect {
    struct rt_async async; /* private, all of it */
    struct rt_io io;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int err; /* from parsing the address */
    int fd;  /* ours until the connection is made */
    intptr_t res;
};
void rt_tcp_connect(struct rt_tcp_connect *f, const char *host, uint16_t port);

/*
 * Send all `len` bytes, by the rule of whole transfers in io.h. Output: `len`,
 * or -errno (-EPIPE, -ECONNRESET: the peer is gone).
 */
struct rt_send_all {
    struct rt_async async; /* private, all of it */
    struct rt_io io;
    int fd;
    const char *buf;
    size_t len, done;
    intptr_t n;
};
void rt_send_all(struct rt_send_all *f, int fd, const void *buf, size_t len);

#endif /* RT_NET_H */
