/*
 * main.c - kv_server: a sharded in-memory key-value server that speaks the
 * Redis protocol, so that redis-cli and redis-benchmark work with it as they
 * are. One shard per core, sharing nothing (README.md in this folder).
 *
 * Run: make phase4 && build/phase4/examples/kv_server --port 6379
 *        [--host 127.0.0.1] [--shards N] [--placement spread|pack|unbound]
 *        [--max-bulk 512mb] [--max-query 1gb] [--max-output 1gb]
 *      then redis-cli -p 6379; Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
 *
 * This thread starts the pool, prints the line that says where the server
 * listens, and then only waits for a signal; on one, it tells every shard
 * to stop (an eventfd they all read) and joins them.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"
#include "server.h"

#define MESH_SLOTS 1024 /* messages in flight from one shard to another before the sender waits */

/*
 * The most shards. The mesh has a channel from every shard to every other,
 * each of MESH_SLOTS slots of KV_MSG_SIZE bytes (64 KiB), so its memory
 * grows with the square of the shard count: 64 shards make 4,032 channels,
 * 252 MiB of slots at most (a page costs memory once a message touches it),
 * where 1024 shards would ask for 64 GiB and run out of memory.
 */
#define MAX_SHARDS 64

struct options {
    const char *host;
    long port;
    unsigned shards;
    const char *placement;
    size_t max_bulk, max_query, max_output;
};

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status),
            "usage: %s --port P [--host 127.0.0.1] [--shards N] [--placement "
            "spread|pack|unbound]\n"
            "          [--max-bulk 512mb] [--max-query 1gb] [--max-output 1gb]\n"
            "          (P = 0: any free port; N: 1 to %d)\n",
            prog, MAX_SHARDS);
    return status;
}

/*
 * A size as Redis's configuration writes them: 1000, 64k, 64kb, 512mb, 1gb (k = 1000, kb = 1024),
 * given for `option`. Anything else is refused with a message on stderr.
 */
static int parse_size(const char *option, const char *s, size_t *out)
{
    static const struct {
        const char *suffix;
        unsigned long long unit;
    } units[] = {{"", 1},           {"b", 1},
                 {"k", 1000},       {"kb", 1024},
                 {"m", 1000000},    {"mb", 1024 * 1024},
                 {"g", 1000000000}, {"gb", 1024ULL << 20}};
    char *end;
    unsigned long long n;

    /*
     * A digit first: strtoull() would skip blanks and take a sign, and " -5"
     * would wrap around to 2^64 - 5.
     */
    if (isdigit((unsigned char)s[0])) {
        errno = 0;
        n = strtoull(s, &end, 10);
        for (size_t i = 0; errno == 0 && i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcasecmp(end, units[i].suffix) == 0 && n <= SIZE_MAX / units[i].unit && n > 0) {
                *out = (size_t)(n * units[i].unit);
                return 0;
            }
        }
    }
    fprintf(stderr, "kv_server: %s %s: not a size above 0 (e.g. 1000, 64k, 64kb, 512mb, 1gb)\n",
            option, s);
    return -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.host = "127.0.0.1",
                          .port = -1,
                          .max_bulk = 512 * 1024 * 1024,
                          .max_query = 1024 * 1024 * 1024,
                          .max_output = 1024 * 1024 * 1024};
    struct sockaddr_storage addr; /* only to check the host early */
    socklen_t len;

    for (int i = 1; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (!value)
            return -1;
        if (strcmp(name, "--host") == 0) {
            o->host = value;
        } else if (strcmp(name, "--port") == 0) {
            if (!args_number("kv_server", name, value, 0, 65535, &o->port))
                return -1;
        } else if (strcmp(name, "--shards") == 0) {
            long n;

            if (!args_number("kv_server", name, value, 1, MAX_SHARDS, &n))
                return -1;
            o->shards = (unsigned)n;
        } else if (strcmp(name, "--placement") == 0) {
            o->placement = value;
            if (strcmp(value, "spread") && strcmp(value, "pack") && strcmp(value, "unbound")) {
                fprintf(stderr, "kv_server: --placement is spread, pack or unbound, not \"%s\"\n",
                        value);
                return -1;
            }
        } else if (strcmp(name, "--max-bulk") == 0) {
            if (parse_size(name, value, &o->max_bulk) < 0)
                return -1;
        } else if (strcmp(name, "--max-query") == 0) {
            if (parse_size(name, value, &o->max_query) < 0)
                return -1;
        } else if (strcmp(name, "--max-output") == 0) {
            if (parse_size(name, value, &o->max_output) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    if (o->port < 0)
        return -1;
    /* A name such as "localhost" would need a lookup: only addresses are taken. */
    if (rt_sockaddr(o->host, 0, &addr, &len) < 0) {
        fprintf(stderr, "kv_server: %s: not a numeric IPv4 or IPv6 address\n", o->host);
        return -1;
    }
    return 0;
}

/*
 * Where the shards run. Thread-per-core pins one shard per CPU, spread over
 * the machine, unless asked otherwise; with more shards than usable CPUs
 * (fine for testing), the default is to leave them unbound.
 */
static void choose_placement(struct options *o, struct rt_placement *p)
{
    char why[256];
    int cpus = rt_topology_read(&(struct rt_placement){0}, NULL, 0, why, sizeof(why));

    if (o->shards == 0) /* one per CPU, up to MAX_SHARDS (the mesh's memory) */
        o->shards = cpus > 0 ? (unsigned)(cpus < MAX_SHARDS ? cpus : MAX_SHARDS) : 1;
    if (!o->placement)
        o->placement = cpus > 0 && o->shards <= (unsigned)cpus ? "spread" : "unbound";
    *p = (struct rt_placement){.kind = strcmp(o->placement, "spread") == 0 ? RT_PLACEMENT_SPREAD
                                       : strcmp(o->placement, "pack") == 0 ? RT_PLACEMENT_PACK
                                                                           : RT_PLACEMENT_UNBOUND};
}

/*
 * One listening socket per shard, all on one port: the first picks it if the
 * port is 0. SO_REUSEPORT would also let another program of the same user
 * join the group (a second kv_server started on the same port by mistake
 * would silently take half the connections), so a given port is first bound
 * alone, without it: if anything listens there, that fails as it should.
 * On a failure it says why and returns -1 with none of its sockets open.
 */
static int listen_all(const struct options *o, int *fds, int *port)
{
    *port = (int)o->port;
    if (*port != 0) {
        int probe = rt_tcp_listen(o->host, (uint16_t)*port, 1);

        if (probe < 0) {
            fprintf(stderr, "kv_server: listen on %s port %d: %s\n", o->host, *port,
                    strerror(-probe));
            return -1;
        }
        close(probe);
    }
    for (unsigned k = 0; k < o->shards; k++) {
        fds[k] = rt_tcp_listen_shared(o->host, (uint16_t)*port, SOMAXCONN);
        if (fds[k] < 0) {
            fprintf(stderr, "kv_server: listen on %s port %d: %s\n", o->host, *port,
                    strerror(-fds[k]));
            while (k > 0)
                close(fds[--k]);
            return -1;
        }
        if (k == 0)
            *port = rt_tcp_port(fds[0]);
    }
    return 0;
}

/* Close the `n` listening sockets in `fds`, and free the array. */
static void close_all(int *fds, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        close(fds[k]);
    free(fds);
}

/*
 * A client per file descriptor: allow as many as the hard limit lets us, as
 * Redis does at start-up (the soft limit is often 1024).
 */
static void raise_fd_limit(void)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/*
 * glibc gives the top of a thread's heap back to the kernel (madvise) as soon
 * as 128 KiB of it are free, and takes it back on the next allocation: with
 * a receive buffer allocated and freed per request, that was a system call
 * pair for nearly every request (10% of the system time, measured). Keep up
 * to 64 MiB instead. (Redis, built with jemalloc, has no such cost.)
 */
static void keep_heap(void)
{
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

int main(int argc, char **argv)
{
    struct options o;
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct kv_server srv;
    struct rt_pool *pool;
    sigset_t signals;
    int *fds, port, sig, err;
    uint64_t n;

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    if (parse_options(argc, argv, &o) < 0)
        return usage(argv[0], 2);
    keep_heap();
    raise_fd_limit();
    choose_placement(&o, &b.placement);

    /*
     * Block SIGINT and SIGTERM before any thread starts: threads inherit the
     * mask, so the signals stay pending for sigwait() below instead of killing
     * a shard. (A shell starts background jobs with SIGINT ignored: restore
     * the default first, or it would be thrown away rather than kept pending.)
     */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    fds = calloc(o.shards, sizeof(*fds));
    if (!fds) {
        fprintf(stderr, "kv_server: out of memory\n");
        return 1;
    }
    if (listen_all(&o, fds, &port) < 0) {
        free(fds); /* listen_all() closed the sockets it had opened */
        return 1;
    }
    srv = (struct kv_server){
        .cfg = {o.host, port, o.shards, o.max_bulk, o.max_query, o.max_output},
        .listen_fds = fds,
        .stop_fd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE),
    };
    if (srv.stop_fd < 0) {
        perror("kv_server: eventfd");
        close_all(fds, o.shards);
        return 1;
    }

    b.shards = o.shards;
    b.name = "kv";
    b.mesh_capacity = o.shards > 1 ? MESH_SLOTS : 0;
    b.mesh_msg_size = KV_MSG_SIZE;
    err = rt_pool_start(&b, kv_shard_main, &srv, &pool);
    if (err < 0) {
        /* No shard ever ran (rt_pool_start cleans up after itself): all that is left is ours. */
        fprintf(stderr, "kv_server: %s\n", rt_last_error());
        close_all(fds, o.shards);
        close(srv.stop_fd);
        return 1;
    }
    printf("kv_server: listening on %s port %d, %u shard%s (%s)\n", o.host, port, o.shards,
           o.shards == 1 ? "" : "s", o.placement);
    fflush(stdout); /* whoever waits for this line may be reading a pipe */

    while (sigwait(&signals, &sig) != 0)
        ;
    n = o.shards; /* each shard's read of the semaphore eventfd takes one */
    if (write(srv.stop_fd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
        perror("kv_server: writing the stop eventfd");
        return 1;
    }
    rt_pool_join(pool, NULL);
    close_all(fds, o.shards);
    close(srv.stop_fd);
    printf("kv_server: %s: every connection closed, %u shard%s joined\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM", o.shards, o.shards == 1 ? "" : "s");
    return 0;
}
