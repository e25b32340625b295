/*
 * tests/test_misuse.c - misuse stops the program with a message that names
 * it: a NULL where an executor, a future, a join handle or an out pointer
 * belongs (and, phase 2, a path, a host, a buffer with bytes to move or a
 * timeout's future; phase 4, an owned buffer, a channel, a message, a mesh,
 * a pool or a placement), a NULL for the struct a preparation fills in (an
 * rt_io, an rt_sleep, a channel's send...), a size so large that it
 * wraps around, a future smaller than a struct rt_future or with no poll
 * function to call, (phase 2) an rt_io or an rt_timeout prepared while it
 * still holds a request or a race, or polled again once finished, a whole
 * transfer or a connect prepared while its request is in flight, (phase 3)
 * an rt_sleep prepared while its deadline waits, or polled again once
 * finished; an executor run twice at once (nested on one thread, or from
 * a second thread) or destroyed while it runs.
 *
 * Each case runs in a child process of its own, and the test reads what the
 * child printed: it must die of SIGABRT (rt__die() calls abort()) after
 * printing the expected message. Checking the signal alone would not do:
 * under the sanitizers a plain crash also ends in abort(), with a report of
 * its own instead of ours.
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TEST_SINCE_PHASE(1);

/* The misuses below take no argument; test_expect_die() hands its misuse one. */
struct misuse {
    void (*fn)(void);
};

static void run_misuse(void *arg)
{
    ((const struct misuse *)arg)->fn();
}

/*
 * misuse() must stop the program with SIGABRT and a message containing
 * `needle`. The message matters: under AddressSanitizer an overflow also
 * ends in abort(), so the abort alone would not prove the check is there.
 */
static void assert_dies(void (*fn)(void), const char *needle)
{
    struct misuse m = {fn};

    test_expect_die(run_misuse, &m, needle);
}

/* Spawning needs a running executor; skip (in the parent) where none can be made. */
static void need_an_executor(void)
{
    rt_executor_destroy(test_executor());
}

/* Runs `f` on an executor made in the child. */
static void run_in_child(struct rt_future *f, size_t size)
{
    struct rt_executor *ex;

    if (rt_executor_create(NULL, &ex) == 0)
        rt_executor_run(ex, f, size);
}

/* A future that, when polled, spawns the `size` bytes at `spawn`. */
struct spawner {
    struct rt_future future;
    const struct rt_future *spawn;
    size_t size;
};

static enum rt_poll spawner_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawner *f = (struct spawner *)self;
    struct rt_join_handle h = rt_spawn(f->spawn, f->size);

    (void)cx;
    rt_join_detach(&h);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable spawner_vtable = {.poll = spawner_poll};

/* -------------------------------------------------------------- NULL */

static struct test_value value_future;

static void run_null_executor(void)
{
    rt_executor_run(NULL, &value_future.future, sizeof(value_future));
}

static void destroy_null_executor(void)
{
    rt_executor_destroy(NULL);
}

static void create_into_null(void)
{
    rt_executor_create(NULL, NULL);
}

static void run_null_main(void)
{
    struct rt_executor *ex;

    if (rt_executor_create(NULL, &ex) == 0)
        rt_executor_run(ex, NULL, sizeof(value_future));
}

static void spawn_null_future(void)
{
    struct spawner f = {{&spawner_vtable}, NULL, sizeof(value_future)};

    run_in_child(&f.future, sizeof(f));
}

static void builder_spawn_null_future(void)
{
    struct rt_thread *t;

    rt_builder_spawn(NULL, NULL, sizeof(value_future), &t);
}

static void builder_spawn_into_null(void)
{
    rt_builder_spawn(NULL, &value_future.future, sizeof(value_future), NULL);
}

static void join_null_thread(void)
{
    rt_thread_join(NULL, NULL);
}

static void cancel_null_handle(void)
{
    rt_join_cancel(NULL);
}

static void detach_null_handle(void)
{
    rt_join_detach(NULL);
}

#if PHASE >= 2
static void open_null_path(void)
{
    struct rt_io io = {0};

    rt_io_open(&io, NULL, O_RDONLY, 0);
}

static void listen_on_null_host(void)
{
    rt_tcp_listen(NULL, 0, 1);
}

/* A NULL buffer with bytes to move (one with none is allowed, as in read(2)). */
static void read_into_null(void)
{
    struct rt_io io = {0};

    rt_io_read(&io, 0, NULL, 10, 0);
}

static void write_from_null(void)
{
    struct rt_io io = {0};

    rt_io_write(&io, 1, NULL, 10, 0);
}

/* The whole transfers check it when they are prepared, not at their first poll. */
static void read_exact_into_null(void)
{
    struct rt_read_exact f = {0};

    rt_read_exact(&f, 0, NULL, 10, 0);
}

static void write_all_from_null(void)
{
    struct rt_write_all f = {0};

    rt_write_all(&f, 1, NULL, 10, 0);
}

static void send_all_from_null(void)
{
    struct rt_send_all f = {0};

    rt_send_all(&f, 1, NULL, 10);
}

static void timeout_around_null(void)
{
    struct rt_timeout t = {0};

    rt_timeout(&t, NULL, 1000);
}

/* The struct a preparation fills in is checked too: every one names its own. */
static void read_with_null_io(void)
{
    char byte;

    rt_io_read(NULL, 0, &byte, 1, 0);
}

static void nop_with_null_io(void)
{
    rt_io_nop(NULL);
}

static void read_exact_with_null_future(void)
{
    char byte;

    rt_read_exact(NULL, 0, &byte, 1, 0);
}

static void send_all_with_null_future(void)
{
    rt_send_all(NULL, 1, "x", 1);
}

static void connect_with_null_future(void)
{
    rt_tcp_connect(NULL, "127.0.0.1", 1);
}

static void timeout_with_null_future(void)
{
    rt_timeout(NULL, &value_future.future, 1000);
}

static void sockaddr_into_null(void)
{
    socklen_t len;

    rt_sockaddr("127.0.0.1", 1, NULL, &len);
}
#endif

#if PHASE >= 4
static void read_owned_into_null(void)
{
    struct rt_io io = {0};

    rt_io_read_owned(&io, 0, 10, 0, NULL);
}

static void release_null_buffer(void)
{
    rt_buf_release(NULL);
}

static void channel_into_null(void)
{
    rt_channel_create(4, 8, NULL);
}

static void close_null_channel(void)
{
    rt_channel_close_tx(NULL);
}

/* A send of no message, and a receive into nowhere, on a channel that exists. */
static void send_null_message(void)
{
    struct rt_channel *ch;
    struct rt_channel_send send;

    ck_assert_int_eq(rt_channel_create(4, 8, &ch), 0);
    rt_channel_send(&send, ch, NULL);
}

static void receive_into_null(void)
{
    struct rt_channel *ch;
    struct rt_channel_recv recv;

    ck_assert_int_eq(rt_channel_create(4, 8, &ch), 0);
    rt_channel_recv(&recv, ch, NULL);
}

static void mesh_into_null(void)
{
    rt_mesh_create(2, 4, 8, NULL);
}

static void join_null_pool(void)
{
    rt_pool_join(NULL, NULL);
}

static void read_owned_with_null_io(void)
{
    struct rt_buf b;

    rt_io_read_owned(NULL, 0, 10, 0, &b);
}

static void shards_of_null_pool(void)
{
    rt_pool_shards(NULL);
}

static void cpu_of_null_pool(void)
{
    rt_pool_shard_cpu(NULL, 0);
}

static void shards_of_null_mesh(void)
{
    rt_mesh_shards(NULL);
}

static void send_with_null_future(void)
{
    struct rt_channel *ch;
    long msg = 1;

    ck_assert_int_eq(rt_channel_create(4, sizeof(msg), &ch), 0);
    rt_channel_send(NULL, ch, &msg);
}

static void try_send_on_null_channel(void)
{
    long msg = 1;

    rt_channel_try_send(NULL, &msg);
}

static void try_receive_into_null(void)
{
    struct rt_channel *ch;

    ck_assert_int_eq(rt_channel_create(4, 8, &ch), 0);
    rt_channel_try_recv(ch, NULL);
}

static void mesh_send_with_null_future(void)
{
    struct rt_mesh *m;
    long msg = 1;

    ck_assert_int_eq(rt_mesh_create(2, 4, sizeof(msg), &m), 0);
    rt_mesh_send(NULL, m, 0, 1, &msg);
}

static void plan_null_placement(void)
{
    int cpu;
    char why[128];

    rt_placement_plan(NULL, 1, &cpu, why, sizeof(why));
}

static void plan_into_null(void)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_UNBOUND};
    char why[128];

    rt_placement_plan(&p, 1, NULL, why, sizeof(why));
}

static void plan_with_a_null_why(void)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_UNBOUND};
    int cpu;

    rt_placement_plan(&p, 1, &cpu, NULL, 10);
}

static void topology_of_null_placement(void)
{
    struct rt_cpu_info cpus[4];
    char why[128];

    rt_topology_read(NULL, cpus, 4, why, sizeof(why));
}

static void topology_into_null(void)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_UNBOUND};
    char why[128];

    rt_topology_read(&p, NULL, 4, why, sizeof(why));
}

static void memory_stats_into_null(void)
{
    struct rt_executor *ex = test_executor();

    rt_executor_memory_stats(ex, NULL);
}
#endif

#if PHASE >= 3
/* A future that, when polled, spawns into the default queue with rt_spawn_into(). */
struct spawner_into {
    struct rt_future future;
    const struct rt_future *spawn;
    size_t size;
    struct rt_join_handle *into;
};

static enum rt_poll spawner_into_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct spawner_into *f = (struct spawner_into *)self;

    (void)cx;
    *out = rt_spawn_into(RT_TASK_QUEUE_DEFAULT, f->spawn, f->size, f->into);
    return RT_READY;
}

static const struct rt_future_vtable spawner_into_vtable = {.poll = spawner_into_poll};

static void spawn_into_null_future(void)
{
    struct rt_join_handle h;
    struct spawner_into f = {{&spawner_into_vtable}, NULL, sizeof(value_future), &h};

    run_in_child(&f.future, sizeof(f));
}

static void spawn_into_null_handle(void)
{
    struct spawner_into f = {
        {&spawner_into_vtable}, &value_future.future, sizeof(value_future), NULL};

    run_in_child(&f.future, sizeof(f));
}

static bool never_ready(void *arg)
{
    (void)arg;
    return false;
}

static void wait_for_null(void)
{
    struct rt_wait_notify w = {0};

    rt_wait_notify(&w, NULL, NULL);
}

static void sleep_with_null_future(void)
{
    rt_sleep(NULL, 1000);
}

static void yield_with_null_future(void)
{
    rt_yield_now(NULL);
}
#endif

START_TEST(a_null_argument_is_named)
{
    static const struct {
        void (*misuse)(void);
        const char *message;
    } cases[] = {
        {run_null_executor, "fatal: rt_executor_run: ex is NULL"},
        {destroy_null_executor, "fatal: rt_executor_destroy: ex is NULL"},
        {create_into_null, "fatal: rt_executor_create: out is NULL"},
        {run_null_main, "fatal: rt_executor_run: main is NULL"},
        {spawn_null_future, "fatal: rt_spawn: f is NULL"},
        {builder_spawn_null_future, "fatal: rt_builder_spawn: f is NULL"},
        {builder_spawn_into_null, "fatal: rt_builder_spawn: out is NULL"},
        {join_null_thread, "fatal: rt_thread_join: t is NULL"},
        {cancel_null_handle, "fatal: rt_join_cancel: h is NULL"},
        {detach_null_handle, "fatal: rt_join_detach: h is NULL"},
#if PHASE >= 2
        {open_null_path, "fatal: rt_io_open: path is NULL"},
        {listen_on_null_host, "fatal: rt_sockaddr: host is NULL"},
        {read_into_null, "fatal: rt_io_read: buf is NULL, for 10 bytes"},
        {write_from_null, "fatal: rt_io_write: buf is NULL, for 10 bytes"},
        {read_exact_into_null, "fatal: rt_read_exact: buf is NULL, for 10 bytes"},
        {write_all_from_null, "fatal: rt_write_all: buf is NULL, for 10 bytes"},
        {send_all_from_null, "fatal: rt_send_all: buf is NULL, for 10 bytes"},
        {timeout_around_null, "fatal: rt_timeout: inner is NULL"},
        {read_with_null_io, "fatal: rt_io_read: io is NULL"},
        {nop_with_null_io, "fatal: rt_io_nop: io is NULL"},
        {read_exact_with_null_future, "fatal: rt_read_exact: f is NULL"},
        {send_all_with_null_future, "fatal: rt_send_all: f is NULL"},
        {connect_with_null_future, "fatal: rt_tcp_connect: f is NULL"},
        {timeout_with_null_future, "fatal: rt_timeout: t is NULL"},
        {sockaddr_into_null, "fatal: rt_sockaddr: addr is NULL"},
#endif
#if PHASE >= 4
        {read_owned_into_null, "fatal: rt_io_read_owned: out is NULL"},
        {release_null_buffer, "fatal: rt_buf_release: b is NULL"},
        {channel_into_null, "fatal: rt_channel_create: out is NULL"},
        {close_null_channel, "fatal: rt_channel_close_tx: ch is NULL"},
        {send_null_message, "fatal: rt_channel_send: msg is NULL"},
        {receive_into_null, "fatal: rt_channel_recv: msg_out is NULL"},
        {mesh_into_null, "fatal: rt_mesh_create: out is NULL"},
        {join_null_pool, "fatal: rt_pool_join: p is NULL"},
        {read_owned_with_null_io, "fatal: rt_io_read_owned: io is NULL"},
        {shards_of_null_pool, "fatal: rt_pool_shards: p is NULL"},
        {cpu_of_null_pool, "fatal: rt_pool_shard_cpu: p is NULL"},
        {shards_of_null_mesh, "fatal: rt_mesh_shards: m is NULL"},
        {send_with_null_future, "fatal: rt_channel_send: f is NULL"},
        {try_send_on_null_channel, "fatal: rt_channel_try_send: ch is NULL"},
        {try_receive_into_null, "fatal: rt_channel_try_recv: msg_out is NULL"},
        {mesh_send_with_null_future, "fatal: rt_mesh_send: f is NULL"},
        {plan_null_placement, "fatal: rt_placement_plan: p is NULL"},
        {plan_into_null, "fatal: rt_placement_plan: cpu_of is NULL, for 1 shards"},
        {plan_with_a_null_why, "fatal: rt_placement_plan: why is NULL, for 10 bytes"},
        {topology_of_null_placement, "fatal: rt_topology_read: p is NULL"},
        {topology_into_null, "fatal: rt_topology_read: out is NULL, for 4 CPUs"},
        {memory_stats_into_null, "fatal: rt_executor_memory_stats: out is NULL"},
#endif
#if PHASE >= 3
        {spawn_into_null_future, "fatal: rt_spawn_into: f is NULL"},
        {spawn_into_null_handle, "fatal: rt_spawn_into: out is NULL"},
        {wait_for_null, "fatal: rt_wait_notify: ready is NULL"},
        {sleep_with_null_future, "fatal: rt_sleep: s is NULL"},
        {yield_with_null_future, "fatal: rt_yield_now: y is NULL"},
#endif
    };

    need_an_executor();
    value_future = test_value(1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_dies(cases[i].misuse, cases[i].message);
}
END_TEST

/* ----------------------------------------------------- sizes that wrap */

/* A size that only a bug produces: a negative length turned into a size_t. */
#define WRAPPING_SIZE (SIZE_MAX - 8)

static void spawn_wrapping_size(void)
{
    struct spawner f = {{&spawner_vtable}, &value_future.future, WRAPPING_SIZE};

    run_in_child(&f.future, sizeof(f));
}

static void run_wrapping_size(void)
{
    run_in_child(&value_future.future, WRAPPING_SIZE);
}

static void builder_spawn_wrapping_size(void)
{
    struct rt_thread *t;

    rt_builder_spawn(NULL, &value_future.future, WRAPPING_SIZE, &t);
}

static void calloc_wrapping_size(void)
{
    rt__calloc(SIZE_MAX / 4, 8);
}

START_TEST(a_size_that_wraps_around_is_refused)
{
    need_an_executor();
    value_future = test_value(1);
    assert_dies(spawn_wrapping_size, "fatal: spawning a future of 18446744073709551607 bytes");
    assert_dies(run_wrapping_size, "fatal: spawning a future of 18446744073709551607 bytes");
    assert_dies(builder_spawn_wrapping_size,
                "fatal: rt_builder_spawn: a future of 18446744073709551607 bytes");
    assert_dies(calloc_wrapping_size, "the size overflows");
}
END_TEST

/* ------------------------------------------ what is not a future */

/*
 * A size smaller than a future (sizeof a pointer to it, say) would be read
 * past its end, and a zeroed struct called through a NULL vtable, on the
 * thread that runs it or when a failed start drops it: both are refused
 * where they are handed over.
 */
#define TOO_SMALL 4

/* A future no preparing function made: no vtable at all, or one without a poll. */
static struct rt_future zeroed_future;
static const struct rt_future_vtable no_poll_vtable = {.poll = NULL};
static struct rt_future no_poll_future = {&no_poll_vtable};

static void spawn_too_small(void)
{
    struct spawner f = {{&spawner_vtable}, &value_future.future, TOO_SMALL};

    run_in_child(&f.future, sizeof(f));
}

static void run_too_small(void)
{
    run_in_child(&value_future.future, TOO_SMALL);
}

static void builder_spawn_too_small(void)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_thread *t;

    b.cpu = 1 << 20; /* no such CPU: the failed start drops the future, which read past it */
    rt_builder_spawn(&b, &value_future.future, TOO_SMALL, &t);
}

static void spawn_zeroed(void)
{
    struct spawner f = {{&spawner_vtable}, &zeroed_future, sizeof(zeroed_future)};

    run_in_child(&f.future, sizeof(f));
}

static void run_zeroed(void)
{
    run_in_child(&zeroed_future, sizeof(zeroed_future));
}

static void run_without_poll(void)
{
    run_in_child(&no_poll_future, sizeof(no_poll_future));
}

static void builder_spawn_zeroed(void)
{
    struct rt_thread *t;

    rt_builder_spawn(NULL, &zeroed_future, sizeof(zeroed_future), &t);
}

START_TEST(what_is_not_a_future_is_refused)
{
    static const struct {
        void (*misuse)(void);
        const char *message;
    } cases[] = {
        {spawn_too_small, "fatal: spawning: a future of 4 bytes is smaller than struct rt_future"},
        {run_too_small, "fatal: spawning: a future of 4 bytes is smaller than struct rt_future"},
        {builder_spawn_too_small,
         "fatal: rt_builder_spawn: a future of 4 bytes is smaller than struct rt_future"},
        {spawn_zeroed, "fatal: spawning: the future has no vtable or no poll function"},
        {run_zeroed, "fatal: spawning: the future has no vtable or no poll function"},
        {run_without_poll, "fatal: spawning: the future has no vtable or no poll function"},
        {builder_spawn_zeroed,
         "fatal: rt_builder_spawn: the future has no vtable or no poll function"},
    };

    need_an_executor();
    value_future = test_value(1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_dies(cases[i].misuse, cases[i].message);
}
END_TEST

/* ----------------------------------- an executor used where it is running */

/* What the misuse future below does when it is polled on a running executor. */
enum run_mistake { NESTED_RUN, RUN_FROM_ANOTHER_THREAD, DESTROY_WHILE_RUNNING };

struct misuse_main {
    struct rt_future future;
    enum run_mistake what;
};

/* Runs the executor `arg` from a thread of its own, with a main future that is ready at once. */
static void *run_it_here(void *arg)
{
    struct test_value v = test_value(1);

    rt_executor_run(arg, &v.future, sizeof(v));
    return NULL;
}

static enum rt_poll misuse_main_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct misuse_main *f = (struct misuse_main *)self;
    struct rt_executor *running = rt_executor_current();

    (void)cx;
    if (f->what == NESTED_RUN) {
        struct rt_executor *inner = test_executor();
        struct test_value v = test_value(1);

        rt_executor_run(inner, &v.future, sizeof(v)); /* this thread already runs `running` */
    } else if (f->what == RUN_FROM_ANOTHER_THREAD) {
        pthread_t other;

        /* The other thread stops the program; this task waits for it, still running. */
        ck_assert_int_eq(pthread_create(&other, NULL, run_it_here, running), 0);
        pthread_join(other, NULL);
    } else {
        rt_executor_destroy(running); /* it is polling us right now */
    }
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable misuse_main_vtable = {.poll = misuse_main_poll};

/* The misuse, run by test_expect_die(): `arg` points at the enum run_mistake to commit. */
static void commit_run_mistake(void *arg)
{
    struct misuse_main f = {{&misuse_main_vtable}, *(const enum run_mistake *)arg};

    test_run(&f.future, sizeof(f));
}

/*
 * One thread runs one executor at a time, and an executor runs on one thread
 * at a time: run() refuses a second executor on a thread that is running
 * one, and an executor that some thread is running already. Let through, the
 * inner run would take over `current` and leave it NULL under the outer one;
 * two threads would share tasks whose state is not atomic.
 */
START_TEST(running_twice_at_once_stops_the_program)
{
    enum run_mistake nested = NESTED_RUN, other = RUN_FROM_ANOTHER_THREAD;

    test_expect_die(commit_run_mistake, &nested,
                    "rt_executor_run: an executor is already running on this thread");
    test_expect_die(commit_run_mistake, &other,
                    "rt_executor_run: this executor is already running on another thread");
}
END_TEST

/* Destroying the executor from one of its own tasks would free it, and the task, under run(). */
START_TEST(destroy_while_running_stops_the_program)
{
    enum run_mistake destroy = DESTROY_WHILE_RUNNING;

    test_expect_die(commit_run_mistake, &destroy, "rt_executor_destroy: the executor is running");
}
END_TEST

#if PHASE >= 2
/* ------------------------------------------ an rt_io prepared twice */

static void prepare_twice(void)
{
    struct rt_io io = {0};

    rt_io_nop(&io);
    rt_io_nop(&io); /* the first request would be lost: its source leaked */
}

/* Awaits a sleep, then prepares the same rt_io again while the sleep is in the kernel. */
struct reprepare {
    struct rt_async async;
    struct rt_io io;
    struct test_yield pause;
};

static enum rt_poll reprepare_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reprepare *f = (struct reprepare *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->io, 3600ull * 1000000000ull);
    ck_assert(rt_future_poll(&f->io.future, cx, NULL) == RT_PENDING);
    f->pause = test_yield(2, 0, NULL); /* the sleep reaches the kernel */
    AWAIT(&f->pause.future, NULL);
    rt_io_nop(&f->io);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reprepare_vtable = {reprepare_poll, rt_async_drop};

static void reprepare_in_flight(void)
{
    struct reprepare f = {.async = RT_ASYNC_INIT(&reprepare_vtable)};

    run_in_child(&f.async.future, sizeof(f));
}

/*
 * One of the whole transfers (file.h, net.h) or a connect, prepared, polled
 * once (its request is made), and prepared again. Preparing zeroes the
 * struct, rt_io and all, so without the check the first request would be
 * lost: its memory leaked, the connect's socket too, and a read that never
 * completes would keep the executor's teardown waiting for ever.
 */
struct reprepare_transfer {
    struct rt_future future;
    int which; /* 0: rt_read_exact, 1: rt_write_all, 2: rt_send_all, 3: rt_tcp_connect */
    int fds[2];
    char buf[4];
    struct rt_read_exact read;
    struct rt_write_all write;
    struct rt_send_all send;
    struct rt_tcp_connect connect;
};

static enum rt_poll reprepare_transfer_poll(struct rt_future *self, struct rt_context *cx,
                                            intptr_t *out)
{
    struct reprepare_transfer *f = (struct reprepare_transfer *)self;
    int fd = f->fds[0];

    (void)out;
    switch (f->which) {
    case 0:
        rt_read_exact(&f->read, fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
        ck_assert(rt_future_poll(&f->read.async.future, cx, NULL) == RT_PENDING);
        rt_read_exact(&f->read, fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
        break;
    case 1:
        rt_write_all(&f->write, fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
        ck_assert(rt_future_poll(&f->write.async.future, cx, NULL) == RT_PENDING);
        rt_write_all(&f->write, fd, f->buf, sizeof(f->buf), RT_OFFSET_CURRENT);
        break;
    case 2:
        rt_send_all(&f->send, fd, f->buf, sizeof(f->buf));
        ck_assert(rt_future_poll(&f->send.async.future, cx, NULL) == RT_PENDING);
        rt_send_all(&f->send, fd, f->buf, sizeof(f->buf));
        break;
    default:
        rt_tcp_connect(&f->connect, "127.0.0.1", 9);
        ck_assert(rt_future_poll(&f->connect.async.future, cx, NULL) == RT_PENDING);
        rt_tcp_connect(&f->connect, "127.0.0.1", 9);
        break;
    }
    ck_abort_msg("preparing it again did not stop the program");
}

static const struct rt_future_vtable reprepare_transfer_vtable = {.poll = reprepare_transfer_poll};

static void reprepare_transfer(int which)
{
    struct reprepare_transfer f = {.future = {&reprepare_transfer_vtable}, .which = which};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.fds), 0);
    run_in_child(&f.future, sizeof(f));
}

static void reprepare_read_exact(void)
{
    reprepare_transfer(0);
}

static void reprepare_write_all(void)
{
    reprepare_transfer(1);
}

static void reprepare_send_all(void)
{
    reprepare_transfer(2);
}

static void reprepare_connect(void)
{
    reprepare_transfer(3);
}

START_TEST(a_transfer_or_connect_in_flight_cannot_be_prepared)
{
    need_an_executor();
    assert_dies(reprepare_read_exact,
                "an rt_read_exact was prepared again while its request was in flight");
    assert_dies(reprepare_write_all,
                "an rt_write_all was prepared again while its request was in flight");
    assert_dies(reprepare_send_all,
                "an rt_send_all was prepared again while its request was in flight");
    assert_dies(reprepare_connect,
                "an rt_tcp_connect was prepared again while its request was in flight");
}
END_TEST

START_TEST(an_rt_io_holding_a_request_cannot_be_prepared)
{
    need_an_executor();
    assert_dies(prepare_twice, "an rt_io was prepared again while it still had a request");
    assert_dies(reprepare_in_flight, "an rt_io was prepared again while it still had a request");
}
END_TEST

/* ------------------------------------ a timeout (phase 3: a sleep) prepared twice */

static void timeout_twice(void)
{
    struct rt_timeout t = {0};
    struct test_value a = test_value(1), b = test_value(2);

    rt_timeout(&t, &a.future, 1000000);
    rt_timeout(&t, &b.future, 1000000); /* `a` would be forgotten, never dropped */
}

/* Starts a timeout around a long sleep, then makes it again while the two race. */
struct retimeout {
    struct rt_async async;
    struct rt_io sleep;
    struct rt_timeout timeout;
    struct test_value value;
};

static enum rt_poll retimeout_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct retimeout *f = (struct retimeout *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_sleep(&f->sleep, 3600ull * 1000000000ull);
    rt_timeout(&f->timeout, &f->sleep.future, 3600ull * 1000000000ull);
    ck_assert(rt_future_poll(&f->timeout.future, cx, NULL) == RT_PENDING);
    f->value = test_value(1);
    rt_timeout(&f->timeout, &f->value.future, 1000000);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable retimeout_vtable = {retimeout_poll, rt_async_drop};

static void retimeout_while_racing(void)
{
    struct retimeout f = {.async = RT_ASYNC_INIT(&retimeout_vtable)};

    run_in_child(&f.async.future, sizeof(f));
}

#if PHASE >= 3
/* Starts a sleep, then makes it again while its deadline is in the executor's heap. */
struct resleep {
    struct rt_async async;
    struct rt_sleep sleep;
};

static enum rt_poll resleep_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct resleep *f = (struct resleep *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_sleep(&f->sleep, 3600ull * 1000000000ull);
    ck_assert(rt_future_poll(&f->sleep.future, cx, NULL) == RT_PENDING);
    rt_sleep(&f->sleep, 1000000);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable resleep_vtable = {resleep_poll, rt_async_drop};

static void resleep_while_waiting(void)
{
    struct resleep f = {.async = RT_ASYNC_INIT(&resleep_vtable)};

    run_in_child(&f.async.future, sizeof(f));
}

/*
 * The same between two runs: the first run's main polls a sleep of the
 * program's once and returns, leaving its deadline in the heap; the program
 * makes that sleep again, where no executor runs to check it; the second
 * run's main sleeps 1 ms, and the executor's next look at its deadlines
 * finds the entry its sleep no longer knows (it spun for ever on it before).
 */
static struct rt_sleep kept_sleep;

static enum rt_poll poll_kept_sleep_once(struct rt_future *self, struct rt_context *cx,
                                         intptr_t *out)
{
    (void)self;
    ck_assert(rt_future_poll(&kept_sleep.future, cx, NULL) == RT_PENDING);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable poll_kept_sleep_once_vtable = {poll_kept_sleep_once, NULL};

static void resleep_between_runs(void)
{
    struct rt_future first = {&poll_kept_sleep_once_vtable};
    struct rt_sleep second;
    struct rt_executor *ex;

    if (rt_executor_create(NULL, &ex) < 0)
        return;
    rt_sleep(&kept_sleep, 3600ull * 1000000000ull);
    rt_executor_run(ex, &first, sizeof(first));
    rt_sleep(&kept_sleep, 0); /* the misuse: its deadline is still in ex's heap */
    rt_sleep(&second, 1000000);
    rt_executor_run(ex, &second.future, sizeof(second));
}

/*
 * The same with the stale deadline below another one in the heap: when the
 * one above fires and is removed, the heap moves the stale entry to the top
 * and gives it index 0 again, so only its zeroed waker tells it apart.
 * (It was removed in silence, and its sleep lost, before the check looked at
 * the waker too.)
 */
static struct rt_sleep kept_sleeps[2];

static enum rt_poll poll_kept_sleeps_once(struct rt_future *self, struct rt_context *cx,
                                          intptr_t *out)
{
    (void)self;
    for (int i = 0; i < 2; i++)
        ck_assert(rt_future_poll(&kept_sleeps[i].future, cx, NULL) == RT_PENDING);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable poll_kept_sleeps_once_vtable = {poll_kept_sleeps_once, NULL};

static void resleep_below_another_between_runs(void)
{
    struct rt_future first = {&poll_kept_sleeps_once_vtable};
    struct rt_sleep second;
    struct rt_executor *ex;

    if (rt_executor_create(NULL, &ex) < 0)
        return;
    rt_sleep(&kept_sleeps[0], 1000000);                 /* 1 ms: the top of the heap */
    rt_sleep(&kept_sleeps[1], 3600ull * 1000000000ull); /* an hour: below it */
    rt_executor_run(ex, &first, sizeof(first));
    rt_sleep(&kept_sleeps[1], 0); /* the misuse: its deadline is still in ex's heap */
    rt_sleep(&second, 50000000);  /* 50 ms: the 1 ms deadline fires first */
    rt_executor_run(ex, &second.future, sizeof(second));
}

/* Starts a wait for a notification, then makes it again while it is on the executor's list. */
struct rewait {
    struct rt_async async;
    struct rt_wait_notify wait;
};

static enum rt_poll rewait_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rewait *f = (struct rewait *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_wait_notify(&f->wait, never_ready, NULL);
    ck_assert(rt_future_poll(&f->wait.future, cx, NULL) == RT_PENDING);
    rt_wait_notify(&f->wait, never_ready, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable rewait_vtable = {rewait_poll, rt_async_drop};

static void rewait_while_waiting(void)
{
    struct rewait f = {.async = RT_ASYNC_INIT(&rewait_vtable)};

    run_in_child(&f.async.future, sizeof(f));
}
#endif

/*
 * Awaits a NOP (which = 0), a timeout (1) or, phase 3, a sleep (2) or a
 * sleep refused for its absurd duration (3), to the end; then polls it again.
 */
struct poll_again {
    struct rt_async async;
    int which;
    struct rt_future *done; /* the future awaited to the end */
    struct rt_io io;
    struct test_value value;
    struct rt_timeout timeout;
#if PHASE >= 3
    struct rt_sleep sleep;
#endif
};

static enum rt_poll poll_again_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct poll_again *f = (struct poll_again *)self;

    ASYNC_BEGIN(f, cx, out);
    if (f->which == 0) {
        rt_io_nop(&f->io);
        f->done = &f->io.future;
    } else if (f->which == 1) {
        f->value = test_value(1);
        rt_timeout(&f->timeout, &f->value.future, 1000000000);
        f->done = &f->timeout.future;
    }
#if PHASE >= 3
    else {
        rt_sleep(&f->sleep, f->which == 2 ? 1000 : UINT64_MAX);
        f->done = &f->sleep.future;
    }
#endif
    AWAIT(f->done, NULL);
    rt_future_poll(f->done, cx, NULL); /* the misuse */
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable poll_again_vtable = {poll_again_poll, rt_async_drop};

static void poll_again(int which)
{
    struct poll_again f = {.async = RT_ASYNC_INIT(&poll_again_vtable), .which = which};

    run_in_child(&f.async.future, sizeof(f));
}

static void nop_polled_again(void)
{
    poll_again(0);
}

static void timeout_polled_again(void)
{
    poll_again(1);
}

#if PHASE >= 3
static void sleep_polled_again(void)
{
    poll_again(2);
}

static void refused_sleep_polled_again(void)
{
    poll_again(3);
}
#endif

START_TEST(a_finished_future_polled_again_stops_the_program)
{
    need_an_executor();
    assert_dies(nop_polled_again, "an rt_io future was polled after it finished");
    assert_dies(timeout_polled_again, "an rt_timeout was polled after it finished");
#if PHASE >= 3
    assert_dies(sleep_polled_again, "an rt_sleep was polled after it finished");
    assert_dies(refused_sleep_polled_again, "an rt_sleep was polled after it finished");
#endif
}
END_TEST

START_TEST(a_timeout_still_racing_cannot_be_prepared)
{
    need_an_executor();
    assert_dies(timeout_twice, "an rt_timeout was prepared again while it still had a future");
    assert_dies(retimeout_while_racing,
                "an rt_timeout was prepared again while it still had a future");
#if PHASE >= 3
    assert_dies(resleep_while_waiting,
                "an rt_sleep was prepared again while its deadline was still in the heap");
    assert_dies(resleep_between_runs, "belongs to an rt_sleep that was prepared again while it "
                                      "waited");
    assert_dies(resleep_below_another_between_runs,
                "belongs to an rt_sleep that was prepared again while it waited");
    assert_dies(rewait_while_waiting, "an rt_wait_notify was prepared again while it was waiting");
#endif
}
END_TEST
#endif

Suite *suite_misuse(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = test_case("misuse");

    tcase_add_test(tc, a_null_argument_is_named);
    tcase_add_test(tc, a_size_that_wraps_around_is_refused);
    tcase_add_test(tc, what_is_not_a_future_is_refused);
    tcase_add_test(tc, running_twice_at_once_stops_the_program);
    tcase_add_test(tc, destroy_while_running_stops_the_program);
#if PHASE >= 2
    tcase_add_test(tc, an_rt_io_holding_a_request_cannot_be_prepared);
    tcase_add_test(tc, a_transfer_or_connect_in_flight_cannot_be_prepared);
    tcase_add_test(tc, a_timeout_still_racing_cannot_be_prepared);
    tcase_add_test(tc, a_finished_future_polled_again_stops_the_program);
#endif
    suite_add_tcase(s, tc);
    return s;
}
