/*
 * net.c - TCP over io_uring. New in phase 2.
 *
 * Phase 4: rt_tcp_listen_shared(), for a port that every shard listens on.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "common/fatal.h"

int rt_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;

    ASSERT_ARG(host);
    ASSERT_ARG(addr);
    ASSERT_ARG(len);
    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return 0;
    }
    return -EINVAL;
}

/* rt_tcp_listen(), and (phase 4) with SO_REUSEPORT set before the bind when `share` is true. */
static int tcp_listen(const char *host, uint16_t port, int backlog, bool share)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int fd, one = 1, err = rt_sockaddr(host, port, &addr, &len);

    if (err < 0)
        return err;
    if (backlog < 0) /* listen() would quietly take it for its largest */
        return -EINVAL;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A restarted server may bind its port while old connections still linger in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
        bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, backlog) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int rt_tcp_listen(const char *host, uint16_t port, int backlog)
{
    return tcp_listen(host, port, backlog, false);
}

int rt_tcp_listen_shared(const char *host, uint16_t port, int backlog)
{
    return tcp_listen(host, port, backlog, true);
}

int rt_tcp_port(int fd)
{
    struct sockaddr_storage addr = {0};
    socklen_t len = sizeof(addr);

    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        return -errno;
    /* Only an IP socket has a port: a Unix socket's name is a path, or nothing. */
    if (addr.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    if (addr.ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    return -EAFNOSUPPORT;
}

/* ------------------------------------------------------------- connect */

static enum rt_poll connect_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_tcp_connect *f = (struct rt_tcp_connect *)self;
    int fd;

    ASYNC_BEGIN(f, cx, out);
    if (f->err < 0)
        ASYNC_RETURN(f->err);
    f->fd = socket(f->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0)
        ASYNC_RETURN(-errno);
    rt_io_connect(&f->io, f->fd, (struct sockaddr *)&f->addr, f->addr_len);
    AWAIT(&f->io.future, &f->res);
    fd = f->fd;
    f->fd = -1; /* the socket is the caller's now, or closed below */
    if (f->res < 0) {
        close(fd);
        ASYNC_RETURN(f->res);
    }
    ASYNC_RETURN(fd);
    ASYNC_END;
}

static void connect_drop(struct rt_future *self)
{
    struct rt_tcp_connect *f = (struct rt_tcp_connect *)self;

    rt_async_drop(self); /* cancels a connect in flight */
    /* Closing now is safe: a request in flight holds its own reference to the socket. */
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static const struct rt_future_vtable connect_vtable = {connect_poll, connect_drop};

void rt_tcp_connect(struct rt_tcp_connect *f, const char *host, uint16_t port)
{
    ASSERT_ARG(f);
    rt__io_check_unused(&f->io, "rt_tcp_connect");
    *f = (struct rt_tcp_connect){.async = RT_ASYNC_INIT(&connect_vtable), .fd = -1};
    f->err = rt_sockaddr(host, port, &f->addr, &f->addr_len);
}

/* ------------------------------------------------------------- send all */

static enum rt_poll send_all_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_send_all *f = (struct rt_send_all *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->done < f->len) {
        rt_io_send(&f->io, f->fd, f->buf + f->done, f->len - f->done);
        AWAIT(&f->io.future, &f->n);
        if (!rt__transfer_step(&f->n, &f->done, false))
            ASYNC_RETURN(f->n); /* an error, or -EIO for a send that moved nothing */
    }
    ASYNC_RETURN((intptr_t)f->done);
    ASYNC_END;
}

static const struct rt_future_vtable send_all_vtable = {send_all_poll, rt_async_drop};

void rt_send_all(struct rt_send_all *f, int fd, const void *buf, size_t len)
{
    ASSERT_ARG(f);
    ASSERT_BUF(buf, len);
    rt__io_check_unused(&f->io, "rt_send_all");
    *f = (struct rt_send_all){
        .async = RT_ASYNC_INIT(&send_all_vtable), .fd = fd, .buf = buf, .len = len};
}
