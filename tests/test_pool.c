/*
 * tests/test_pool.c - a pool of executors: started all or nothing, each
 * shard running the future made for it, joined with every shard's output.
 *
 * Cases: outputs come back per shard, and each shard knows its index, the
 * count and its mesh; no shard's future is made before every executor
 * exists (the latch); spread pins shard k to the CPU the plan gave it, and a
 * fence keeps every shard inside it; the executor builder applies to every
 * shard; and the start is all or nothing. For that, a failure must hit one
 * shard and not the others, and the builder is shared, so the tests cause
 * one the builder does not: a file-descriptor limit that leaves room for all
 * executors but one (a ring the kernel refuses), and a CUSTOM CPU that a
 * fake topology has and this machine does not (a thread that cannot start).
 * Either way no shard's future may run (the make function and the futures
 * set flags), every thread must be joined (no thread named "shard-<k>" is
 * left), no ring or eventfd may stay open (the fd count is unchanged),
 * and rt_last_error() must name the shard and the cause. And teardown:
 * a task left behind may still ring a peer when it is dropped; and a make
 * function that returns a size out of bounds stops the program, where
 * futures of exactly the smallest and the largest size run. A mesh too big
 * for the machine is refused before any thread starts.
 */
#define _GNU_SOURCE /* sched_getcpu(), sched_getaffinity(), CPU_COUNT(): GNU extensions */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool.h"
#include "reactor.h" /* each shard's ring size, to see the builder applied */

TEST_SINCE_PHASE(4);

#define MAX_SHARDS 16

/* Where a start that must fail puts its pool: rt_pool_start() must overwrite it with NULL. */
static char not_a_pool;
#define NOT_A_POOL ((struct rt_pool *)&not_a_pool)

/* What the shards saw, each in its own slot; read by the test after the join. */
struct log {
    atomic_int made; /* times the make function was called */
    atomic_int ran;  /* times a shard's future was polled */
    unsigned seed;   /* part of each output, to see outputs are not mixed up */
    int id[MAX_SHARDS], count[MAX_SHARDS], cpu[MAX_SHARDS];
    pid_t make_tid[MAX_SHARDS], run_tid[MAX_SHARDS];
    unsigned ring_entries[MAX_SHARDS];
    bool has_mesh[MAX_SHARDS];
    char name[MAX_SHARDS][16];
    cpu_set_t affinity[MAX_SHARDS];
};

/* An atomic's value, under a name that reads well in a failed assertion's message. */
static int loaded(atomic_int *a)
{
    return atomic_load(a);
}

static pid_t tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* A shard's main future: writes down where it is, and returns seed + shard * 10. */
struct report {
    struct rt_future future;
    struct log *log;
    unsigned shard;
};

static enum rt_poll report_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct report *f = (struct report *)self;
    struct log *log = f->log;
    unsigned k = f->shard;

    (void)cx;
    atomic_fetch_add(&log->ran, 1);
    log->id[k] = rt_shard_id();
    log->count[k] = (int)rt_shard_count();
    log->cpu[k] = sched_getcpu();
    log->run_tid[k] = tid();
    log->has_mesh[k] = rt_shard_mesh() != NULL;
    pthread_getname_np(pthread_self(), log->name[k], sizeof(log->name[k]));
    log->ring_entries[k] = rt__executor_reactor(rt_executor_current())->ring.sq.ring_entries;
    sched_getaffinity(0, sizeof(log->affinity[k]), &log->affinity[k]);
    *out = (intptr_t)(log->seed + k * 10);
    return RT_READY;
}

static const struct rt_future_vtable report_vtable = {.poll = report_poll};

static size_t make_report(unsigned shard, void *arg, void *buf)
{
    struct log *log = arg;
    struct report f = {.future = {&report_vtable}, .log = log, .shard = shard};

    atomic_fetch_add(&log->made, 1);
    log->make_tid[shard] = tid();
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

/*
 * The pool's threads still alive in this process: those named "shard-<k>"
 * in /proc (the pool's default name). Counting every thread would count the
 * sanitizers' own too.
 */
static int shard_threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[300], name[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue; /* it has just ended */
        if (fgets(name, sizeof(name), f) && strncmp(name, "shard-", 6) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/*
 * The same, once joined threads have left /proc. The kernel wakes
 * pthread_join() as the thread exits, a moment before it removes the
 * thread from /proc; so give them up to a second.
 */
static int shard_threads(void)
{
    int n;

    for (int tries = 0; (n = shard_threads_now()) > 0 && tries < 1000; tries++)
        usleep(1000);
    return n;
}

/* ------------------------------------------------------------ start and join */

START_TEST(every_shard_runs_its_future_and_the_outputs_come_back)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {.seed = 7000};
    struct rt_pool *p;
    intptr_t out[5];
    char name[32];

    /* Five shards on this 2-CPU machine: unbound threads may outnumber CPUs. */
    b.shards = 5;
    ck_assert_int_eq(rt_shard_id(), -1); /* the test's thread is no shard */
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    ck_assert_uint_eq(rt_pool_shards(p), 5);
    rt_pool_join(p, out);
    ck_assert_int_eq(loaded(&log.made), 5);
    ck_assert_int_eq(loaded(&log.ran), 5);
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(out[k], 7000 + k * 10);
        ck_assert_int_eq(log.id[k], k);
        ck_assert_int_eq(log.count[k], 5);
        ck_assert(!log.has_mesh[k]);
        snprintf(name, sizeof(name), "shard-%d", k); /* what shard_threads() looks for */
        ck_assert_str_eq(log.name[k], name);
        /* Made and run on the shard's own thread, one thread per shard. */
        ck_assert_int_eq(log.make_tid[k], log.run_tid[k]);
        ck_assert_int_ne(log.run_tid[k], tid());
        for (int j = 0; j < k; j++)
            ck_assert_int_ne(log.run_tid[j], log.run_tid[k]);
    }
    ck_assert_int_eq(shard_threads(), 0);
    ck_assert_int_eq(rt_shard_count(), 0);
    ck_assert_ptr_null(rt_shard_mesh());
}
END_TEST

/*
 * The latch: no make function runs before every shard's executor exists.
 * Each executor holds descriptors (its rings, its doorbell) from creation to
 * destruction, so at every make() call all of theirs must be open.
 */
static atomic_int fds_at_make = 1 << 30; /* the fewest open descriptors any make() saw */

static size_t make_counting_fds(unsigned shard, void *arg, void *buf)
{
    int n = test_fd_count(), seen = atomic_load(&fds_at_make);

    while (n < seen && !atomic_compare_exchange_weak(&fds_at_make, &seen, n))
        ;
    return make_report(shard, arg, buf);
}

START_TEST(no_future_is_made_before_every_executor_exists)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_executor *ex;
    struct rt_pool *p;
    int per_executor = test_fd_count(), before;

    ck_assert_int_eq(rt_executor_create(NULL, &ex), 0);
    per_executor = test_fd_count() - per_executor;
    rt_executor_destroy(ex);
    before = test_fd_count();
    b.shards = 6;
    ck_assert_int_eq(rt_pool_start(&b, make_counting_fds, &log, &p), 0);
    rt_pool_join(p, NULL);
    ck_assert_int_eq(loaded(&log.made), 6);
    ck_assert_int_ge(loaded(&fds_at_make), before + 6 * per_executor);
}
END_TEST

START_TEST(join_without_outputs)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;

    b.shards = 1;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    rt_pool_join(p, NULL);
    ck_assert_int_eq(loaded(&log.ran), 1);
}
END_TEST

/* shards = 0 with SPREAD: one shard per CPU this process may use, each on its own. */
START_TEST(spread_pins_each_shard_to_its_cpu)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;
    cpu_set_t mask;
    int n, cpu_of[MAX_SHARDS];

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    n = CPU_COUNT(&mask);
    if (n > MAX_SHARDS)
        n = MAX_SHARDS;
    b.shards = (unsigned)n;
    b.placement.kind = RT_PLACEMENT_SPREAD;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    for (int k = 0; k < n; k++)
        cpu_of[k] = rt_pool_shard_cpu(p, (unsigned)k);
    ck_assert_int_eq(rt_pool_shard_cpu(p, (unsigned)n), RT_CPU_ANY); /* no such shard */
    rt_pool_join(p, NULL);
    for (int k = 0; k < n; k++) {
        ck_assert(CPU_ISSET(cpu_of[k], &mask));
        ck_assert_int_eq(log.cpu[k], cpu_of[k]);
        ck_assert_int_eq(CPU_COUNT(&log.affinity[k]), 1);
        ck_assert(CPU_ISSET(cpu_of[k], &log.affinity[k]));
    }
}
END_TEST

/* shards = 0 with SPREAD and nothing else: as many shards as usable CPUs. */
START_TEST(zero_shards_means_one_per_usable_cpu)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;
    cpu_set_t mask;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    if (CPU_COUNT(&mask) > MAX_SHARDS)
        TEST_SKIP("more CPUs than this test keeps a log for");
    b.placement.kind = RT_PLACEMENT_SPREAD;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    ck_assert_int_eq(rt_pool_shards(p), CPU_COUNT(&mask));
    rt_pool_join(p, NULL);
    ck_assert_int_eq(loaded(&log.ran), CPU_COUNT(&mask));
}
END_TEST

/* The lowest CPU this process may use. */
static int first_allowed_cpu(void)
{
    cpu_set_t mask;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mask))
            return c;
    ck_abort_msg("an empty affinity mask");
    return -1;
}

/*
 * shards = 0 with a CPU list: a custom list says how many shards there are
 * (one per entry, the same CPU more than once too), a fence one per fenced CPU.
 */
START_TEST(zero_shards_with_a_cpu_list_means_one_per_entry)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;
    int c = first_allowed_cpu(), cpus[3] = {c, c, c};

    b.placement = (struct rt_placement){.kind = RT_PLACEMENT_CUSTOM, .cpus = cpus, .ncpus = 3};
    ck_assert_msg(rt_pool_start(&b, make_report, &log, &p) == 0, "%s", rt_last_error());
    ck_assert_uint_eq(rt_pool_shards(p), 3);
    rt_pool_join(p, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(log.cpu[k], c);

    b.placement.kind = RT_PLACEMENT_FENCED;
    b.placement.ncpus = 1;
    ck_assert_msg(rt_pool_start(&b, make_report, &log, &p) == 0, "%s", rt_last_error());
    ck_assert_uint_eq(rt_pool_shards(p), 1);
    rt_pool_join(p, NULL);
}
END_TEST

/* Three shards fenced to one CPU: they share it, and none may leave it. */
START_TEST(a_fence_holds_every_shard)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;
    cpu_set_t mask;
    int fence[1] = {-1};

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    for (int c = CPU_SETSIZE - 1; c >= 0; c--)
        if (CPU_ISSET(c, &mask))
            fence[0] = c; /* the lowest CPU we may use */
    b.shards = 3;
    b.placement = (struct rt_placement){.kind = RT_PLACEMENT_FENCED, .cpus = fence, .ncpus = 1};
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    for (unsigned k = 0; k < 3; k++)
        ck_assert_int_eq(rt_pool_shard_cpu(p, k), RT_CPU_ANY);
    rt_pool_join(p, NULL);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(CPU_COUNT(&log.affinity[k]), 1);
        ck_assert(CPU_ISSET(fence[0], &log.affinity[k]));
        ck_assert_int_eq(log.cpu[k], fence[0]);
    }
}
END_TEST

/*
 * Three shards fenced to two CPUs: each shard may run on either, so each
 * one's affinity is the whole fence, not one CPU of it (the fence is for
 * the kernel to share out, unlike SPREAD, which pins).
 */
START_TEST(a_fence_of_two_cpus_gives_every_shard_both)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;
    cpu_set_t mask;
    int fence[2], n = 0;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
        if (CPU_ISSET(c, &mask))
            fence[n++] = c; /* the two lowest CPUs we may use */
    if (n < 2)
        TEST_SKIP("a fence of two CPUs needs two usable CPUs");
    b.shards = 3;
    b.placement = (struct rt_placement){.kind = RT_PLACEMENT_FENCED, .cpus = fence, .ncpus = 2};
    ck_assert_msg(rt_pool_start(&b, make_report, &log, &p) == 0, "%s", rt_last_error());
    rt_pool_join(p, NULL);
    ck_assert_int_eq(loaded(&log.ran), 3);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(CPU_COUNT(&log.affinity[k]), 2);
        ck_assert(CPU_ISSET(fence[0], &log.affinity[k]));
        ck_assert(CPU_ISSET(fence[1], &log.affinity[k]));
    }
}
END_TEST

START_TEST(the_executor_builder_applies_to_every_shard)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;

    b.shards = 3;
    b.executor.ring_entries = 8;
    b.executor.cpu = 12345; /* the placement's to set: ignored, or every start would fail */
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    rt_pool_join(p, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert_uint_eq(log.ring_entries[k], 8);
}
END_TEST

START_TEST(a_pool_with_a_mesh_gives_it_to_each_shard)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p;

    b.shards = 3;
    b.mesh_capacity = 4;
    b.mesh_msg_size = 8;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    rt_pool_join(p, NULL);
    for (int k = 0; k < 3; k++)
        ck_assert(log.has_mesh[k]);
}
END_TEST

/* ------------------------------------------------------------ teardown */

/*
 * Tasks a shard leaves behind when its main future finishes are dropped when
 * the pool takes its executor down, and a drop may close a channel, which
 * rings the other side's executor if that side was waiting. So no executor
 * may be freed while another shard still drops tasks.
 *
 * Here shard 0 leaves a task waiting for a message on `ch` (its waiting flag
 * is up) that closes its end when dropped; shard 1 leaves a task that closes
 * the sending end when dropped, a little later. That close sees the
 * receiver's flag still up and rings shard 0's executor: it must still be
 * there (AddressSanitizer reports the use after free if it is not). On a
 * busy machine shard 0 may start so late that the close comes while it
 * still runs: its task then sees the end, and this round proves nothing.
 */
struct closes_when_dropped {
    struct rt_async async;
    struct rt_channel *ch;
    bool rx;
    uint64_t msg;
    struct rt_channel_recv recv;
    struct rt_waker never; /* the tx task waits on nothing that will ever wake it */
    intptr_t got;
};

static enum rt_poll closes_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct closes_when_dropped *f = (struct closes_when_dropped *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->rx) {
        rt_channel_recv(&f->recv, f->ch, &f->msg);
        AWAIT(&f->recv.async.future, &f->got);
        /* The end: shard 1's drop came while shard 0 still ran (a slow start). Nothing to see. */
        ck_assert_int_eq(f->got, 0);
        ASYNC_RETURN(0);
    }
    rt_waker_register(&f->never, cx);
    return RT_PENDING;
    ASYNC_END;
}

static void closes_drop(struct rt_future *self)
{
    struct closes_when_dropped *f = (struct closes_when_dropped *)self;

    rt_async_drop(self);
    rt_waker_drop(&f->never);
    if (f->rx) {
        rt_channel_close_rx(f->ch);
    } else {
        usleep(50 * 1000); /* let shard 0 get ahead: its drops are done by now */
        rt_channel_close_tx(f->ch);
    }
}

static const struct rt_future_vtable closes_vtable = {closes_poll, closes_drop};

/* Main: leave a closes_when_dropped task behind, running until it waits. */
struct leave_behind {
    struct rt_async async;
    struct rt_channel *ch;
    struct rt_join_handle job;
    struct rt_yield yield;
};

static enum rt_poll leave_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct leave_behind *f = (struct leave_behind *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct closes_when_dropped t = {
            .async = RT_ASYNC_INIT(&closes_vtable), .ch = f->ch, .rx = rt_shard_id() == 0};
        f->job = rt_spawn(&t.async.future, sizeof(t));
    }
    rt_join_detach(&f->job);
    rt_yield_now(&f->yield); /* the task runs, and waits */
    AWAIT(&f->yield.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable leave_vtable = {leave_poll, rt_async_drop};

static size_t make_leave_behind(unsigned shard, void *arg, void *buf)
{
    struct leave_behind f = {.async = RT_ASYNC_INIT(&leave_vtable), .ch = arg};

    (void)shard;
    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

START_TEST(a_task_dropped_at_teardown_may_still_ring_a_peer)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_channel *ch;
    struct rt_pool *p;

    ck_assert_int_eq(rt_channel_create(4, sizeof(uint64_t), &ch), 0);
    b.shards = 2;
    ck_assert_int_eq(rt_pool_start(&b, make_leave_behind, ch, &p), 0);
    rt_pool_join(p, NULL); /* both ends closed by the drops: the channel is freed */
}
END_TEST

/* ------------------------------------------------------------ all or nothing */

/*
 * Four shards, and file descriptors for three executors and part of a fourth:
 * whichever shard comes last finds none left for its ring, its doorbell or
 * its preemption timer (each `extra` leaves it one more of the three), so
 * one shard fails where the others succeed, with nothing in the builder that
 * differs. Nobody may run, and what the failing shard did make is closed.
 */
START_TEST(a_shard_whose_executor_cannot_be_made_stops_the_whole_start)
{
    struct rt_executor *ex;
    struct rlimit old, lim;
    int per_executor;

    /* What one executor costs in descriptors, measured. */
    per_executor = test_fd_count();
    ck_assert_int_eq(rt_executor_create(NULL, &ex), 0);
    per_executor = test_fd_count() - per_executor;
    rt_executor_destroy(ex);
    ck_assert_int_gt(per_executor, 0);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);

    for (int extra = 0; extra < per_executor; extra++) {
        struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
        struct log log = {0};
        struct rt_pool *p = NOT_A_POOL;
        int fds_before = test_fd_count(), err;

        lim = old;
        lim.rlim_cur = test_fd_limit_leaving(3 * per_executor + extra);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
        b.shards = 4;
        err = rt_pool_start(&b, make_report, &log, &p);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

        ck_assert_msg(err == -EMFILE, "rt_pool_start: %d (%s)", err, rt_last_error());
        ck_assert_ptr_null(p);
        ck_assert_int_eq(loaded(&log.made), 0);
        ck_assert_int_eq(loaded(&log.ran), 0);
        ck_assert_int_eq(shard_threads(), 0);
        ck_assert_int_eq(test_fd_count(), fds_before); /* every ring, doorbell and timer closed */
        ck_assert_msg(strncmp(rt_last_error(), "shard ", 6) == 0 && strstr(rt_last_error(), "file"),
                      "rt_last_error() is \"%s\"", rt_last_error());
    }
}
END_TEST

/* The same with every shard failing alike: the first failure is the one reported. */
START_TEST(a_ring_too_big_for_every_shard)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p = NOT_A_POOL;
    int fds_before = test_fd_count();

    b.shards = 3;
    b.mesh_capacity = 2; /* made, then closed unused */
    b.mesh_msg_size = 1;
    b.executor.ring_entries = 1u << 20; /* the kernel takes at most 32768 */
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(loaded(&log.made), 0);
    ck_assert_int_eq(shard_threads(), 0);
    ck_assert_int_eq(test_fd_count(), fds_before);
    ck_assert_msg(strncmp(rt_last_error(), "shard ", 6) == 0 && strstr(rt_last_error(), "1048576"),
                  "rt_last_error() is \"%s\"", rt_last_error());
}
END_TEST

/* A mesh that would not fit in the machine: refused before any thread starts, and said so. */
START_TEST(a_mesh_too_big_for_the_machine)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p = NOT_A_POOL;

    b.shards = 1024;
    b.mesh_capacity = 1u << 24; /* 1 GiB a channel, 1024 * 1023 channels */
    b.mesh_msg_size = 64;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -ENOMEM);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(loaded(&log.made), 0);
    ck_assert_int_eq(shard_threads(), 0);
    ck_assert_msg(strstr(rt_last_error(), "mesh of 16777216 slots of 64 bytes") &&
                      strstr(rt_last_error(), "more than the machine's memory"),
                  "rt_last_error() is \"%s\"", rt_last_error());
}
END_TEST

/* Write scratch/path (directories made on the way). */
static void write_file(const char *root, const char *path, const char *text)
{
    char full[512];
    FILE *f;

    snprintf(full, sizeof(full), "%s/%s", root, path);
    for (char *s = strchr(full + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(full, 0755);
        *s = '/';
    }
    f = fopen(full, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/*
 * A fake machine whose CPU 1023 exists on paper only: CUSTOM puts shard 2
 * there, the plan accepts it, and its thread cannot be started (the kernel
 * refuses the affinity). Shards 0 and 1 have started by then and must be
 * stopped and joined; shard 3 never starts.
 */
START_TEST(a_shard_whose_thread_cannot_start_stops_the_whole_start)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p = NOT_A_POOL;
    char root[] = "/tmp/rt-pool-XXXXXX", path[128], online[32], cmd[64];
    int here = sched_getcpu(), cpus[4], allowed[2], fds_before = test_fd_count(), err;

    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(online, sizeof(online), "%d,1023\n", here);
    write_file(root, "devices/system/cpu/online", online);
    for (int i = 0; i < 2; i++) {
        int c = i == 0 ? here : 1023;

        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/physical_package_id", c);
        write_file(root, path, "0\n");
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/core_id", c);
        write_file(root, path, i == 0 ? "0\n" : "1\n");
        allowed[i] = c;
    }
    cpus[0] = cpus[1] = cpus[3] = here;
    cpus[2] = 1023;
    b.shards = 4;
    b.placement = (struct rt_placement){.kind = RT_PLACEMENT_CUSTOM,
                                        .cpus = cpus,
                                        .ncpus = 4,
                                        .sysfs_root = root,
                                        .allowed = allowed,
                                        .nallowed = 2};
    err = rt_pool_start(&b, make_report, &log, &p);
    snprintf(cmd, sizeof(cmd), "rm -r %s", root);
    ck_assert_int_eq(system(cmd), 0);

    ck_assert_msg(err == -EINVAL, "rt_pool_start: %d (%s)", err, rt_last_error());
    ck_assert_ptr_null(p);
    ck_assert_int_eq(loaded(&log.made), 0);
    ck_assert_int_eq(shard_threads(), 0);
    ck_assert_int_eq(test_fd_count(), fds_before);
    ck_assert_msg(strstr(rt_last_error(), "shard 2 (CPU 1023)") &&
                      strstr(rt_last_error(), "thread could not be started") &&
                      strstr(rt_last_error(), strerror(EINVAL)),
                  "rt_last_error() is \"%s\"", rt_last_error());
}
END_TEST

/* A placement the machine cannot meet, and sizes out of range: refused before any thread. */
START_TEST(impossible_requests_are_refused_before_any_thread_starts)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct log log = {0};
    struct rt_pool *p = NOT_A_POOL;
    static const int all[] = {0, 1};
    const char *root = test_topology("vm2");

    b.shards = 3;
    b.placement = (struct rt_placement){
        .kind = RT_PLACEMENT_PACK, .sysfs_root = root, .allowed = all, .nallowed = 2};
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "3 shards") && strstr(rt_last_error(), "may use 2"), "%s",
                  rt_last_error());

    b.placement.sysfs_root = "/nonexistent";
    b.shards = 0;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -ENOENT);
    ck_assert_msg(strstr(rt_last_error(), "/nonexistent/devices/system/cpu/online"), "%s",
                  rt_last_error());

    /* One per usable CPU, and none is: the fake machine's CPUs are 0 and 1. */
    static const int elsewhere[] = {5};
    b.placement = (struct rt_placement){
        .kind = RT_PLACEMENT_SPREAD, .sysfs_root = root, .allowed = elsewhere, .nallowed = 1};
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "no online CPU is in the allowed set"), "%s",
                  rt_last_error());

    /*
     * 1025 shards, asked for or made from a custom list of 1025 CPUs (shards = 0: one per
     * entry). The list's count is refused before the topology is read: the root does not
     * exist, so a count let through would end in -ENOENT instead.
     */
    static const int many[1025];
    b.placement = (struct rt_placement){
        .kind = RT_PLACEMENT_CUSTOM, .cpus = many, .ncpus = 1025, .sysfs_root = "/nonexistent"};
    b.shards = 0;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "1 to 1024"), "%s", rt_last_error());

    b.placement = (struct rt_placement){.kind = RT_PLACEMENT_UNBOUND};
    b.shards = 1025;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "1 to 1024"), "%s", rt_last_error());

    b.shards = 2;
    b.mesh_capacity = 4;
    b.mesh_msg_size = 0;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), -EINVAL);
    ck_assert_msg(strstr(rt_last_error(), "mesh"), "%s", rt_last_error());

    ck_assert_ptr_null(p);
    ck_assert_int_eq(loaded(&log.made), 0);
    ck_assert_int_eq(shard_threads(), 0);

    /* A start that succeeds leaves no failure behind: rt_last_error() is "" again. */
    b = (struct rt_pool_builder)RT_POOL_BUILDER_INIT;
    b.shards = 1;
    ck_assert_int_eq(rt_pool_start(&b, make_report, &log, &p), 0);
    ck_assert_msg(strcmp(rt_last_error(), "") == 0, "rt_last_error() is \"%s\"", rt_last_error());
    rt_pool_join(p, NULL);
    ck_assert_int_eq(loaded(&log.ran), 1);
}
END_TEST

/*
 * A make function that claims a future of the size its argument says: more
 * than the room it was given, or less than a struct rt_future. Either stops
 * the program (on the shard's thread, with a message that gives both bounds).
 */
static const size_t bad_sizes[] = {RT_SHARD_FUTURE_MAX + 1, 0, sizeof(struct rt_future) - 1};

static size_t make_of_size(unsigned shard, void *arg, void *buf)
{
    (void)shard;
    (void)buf;
    return *(const size_t *)arg;
}

START_TEST(a_future_of_a_bad_size_stops_the_program)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_pool *p;

    b.shards = 1;
    if (rt_pool_start(&b, make_of_size, (void *)&bad_sizes[_i], &p) == 0)
        rt_pool_join(p, NULL);
}
END_TEST

/* Futures of exactly the sizes the pool takes: a bare struct rt_future, and RT_SHARD_FUTURE_MAX. */
struct largest {
    struct rt_future future;
    char rest[RT_SHARD_FUTURE_MAX - sizeof(struct rt_future)];
};

static enum rt_poll seven_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 7;
    return RT_READY;
}

static enum rt_poll nine_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)cx;
    *out = 9;
    return RT_READY;
}

static const struct rt_future_vtable seven_vtable = {.poll = seven_poll};
static const struct rt_future_vtable nine_vtable = {.poll = nine_poll};

static size_t make_at_the_limits(unsigned shard, void *arg, void *buf)
{
    (void)arg;
    if (shard == 0) {
        static struct largest f = {.future = {&seven_vtable}};

        memcpy(buf, &f, sizeof(f));
        return sizeof(f);
    }
    memcpy(buf, &(struct rt_future){&nine_vtable}, sizeof(struct rt_future));
    return sizeof(struct rt_future);
}

START_TEST(futures_of_the_smallest_and_the_largest_size_run)
{
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_pool *p;
    intptr_t outputs[2] = {0, 0};

    b.shards = 2;
    ck_assert_int_eq(rt_pool_start(&b, make_at_the_limits, NULL, &p), 0);
    rt_pool_join(p, outputs);
    ck_assert_int_eq(outputs[0], 7);
    ck_assert_int_eq(outputs[1], 9);
}
END_TEST

Suite *suite_pool(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = test_case("pool");

    tcase_add_test(tc, every_shard_runs_its_future_and_the_outputs_come_back);
    tcase_add_test(tc, no_future_is_made_before_every_executor_exists);
    tcase_add_test(tc, join_without_outputs);
    tcase_add_test(tc, spread_pins_each_shard_to_its_cpu);
    tcase_add_test(tc, zero_shards_means_one_per_usable_cpu);
    tcase_add_test(tc, zero_shards_with_a_cpu_list_means_one_per_entry);
    tcase_add_test(tc, a_fence_holds_every_shard);
    tcase_add_test(tc, a_fence_of_two_cpus_gives_every_shard_both);
    tcase_add_test(tc, the_executor_builder_applies_to_every_shard);
    tcase_add_test(tc, a_pool_with_a_mesh_gives_it_to_each_shard);
    tcase_add_test(tc, a_task_dropped_at_teardown_may_still_ring_a_peer);
    tcase_add_test(tc, a_shard_whose_executor_cannot_be_made_stops_the_whole_start);
    tcase_add_test(tc, a_ring_too_big_for_every_shard);
    tcase_add_test(tc, a_mesh_too_big_for_the_machine);
    tcase_add_test(tc, futures_of_the_smallest_and_the_largest_size_run);
    tcase_add_test(tc, a_shard_whose_thread_cannot_start_stops_the_whole_start);
    tcase_add_test(tc, impossible_requests_are_refused_before_any_thread_starts);
    tcase_add_loop_test_raise_signal(tc, a_future_of_a_bad_size_stops_the_program, SIGABRT, 0,
                                     (int)(sizeof(bad_sizes) / sizeof(bad_sizes[0])));
    suite_add_tcase(s, tc);
    return s;
}
