/*
 * common/trace.c - see trace.h: where RT_TRACE's events are written.
 *
 * Every event takes the lock, reads the clock and writes one text line or
 * one JSON object. That is slow next to the runtime (a microsecond or so
 * per event), which is fine: tracing is for looking at a run, and when it
 * is off none of this runs.
 *
 * Who did it. A wake line says who woke the task, a spawn line who spawned
 * it, and the runtime never passes that along: the sink keeps, per thread,
 * the *actor*, whoever runs at the moment. rt__trace_run() makes it the
 * executor, rt__trace_poll() the task being polled (until its
 * rt__trace_poll_end()), and rt__trace_done() the request whose completion
 * is being handled (until rt__trace_done_end()), so a wake that the reactor
 * causes reads "by req 7" while one a task causes reads "by task 2". The
 * reactor brackets the one call that wakes a task with done/done_end, so
 * phase 1's code needs no idea of what a request is.
 *
 * JSON (the Chrome Trace Event format, which Perfetto and chrome://tracing
 * load). One array of events; each executor and each task is a "thread" of
 * this process, so each gets a track:
 *
 *   executor track (tid EXECUTOR_TRACK + n): "run" and "destroy" slices (B/E),
 *       a slice per completion handled ("RECV done"), instants for submit,
 *       cancel sent, orphan freed, and for wakes that did nothing
 *   task track (tid = the task's number): a slice per poll (X, named
 *       "poll: ready" or "poll: pending"), instants "cancelled" and "freed"
 *   arrows (flow events s/f): from the slice that woke or spawned a task to
 *       that task's next poll (an "f" without "bp" binds to the next slice)
 *   requests: an async slice (b/e, category "io") from queued to completed
 *   phase 4: a message is an arrow (flow events s/f, category "msg", id
 *       channel << 32 | message number) from the slice that sent it to the
 *       slice that received it, usually on another executor's track
 *   phase 3: "parked" slices on the executor's track; a track per task queue
 *       (tid QUEUE_TRACK + 1000 * executor + queue) with a slice per time
 *       slice; timers as async slices (category "timer") from started to
 *       fired or cancelled
 *
 * A task's track holds no instant before its last poll: the arrow's end
 * would bind to it instead of to the poll.
 *
 * sched_getaffinity() and the CPU_* macros, which say whether a new
 * executor's thread is pinned, are GNU extensions: hence _GNU_SOURCE here.
 */
#define _GNU_SOURCE
#include "common/trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

/* An executor's JSON track: far above any task's number, so the two never meet. */
#define EXECUTOR_TRACK 1000000000ul
/* A task queue's track (phase 3): above the executors'. */
#define QUEUE_TRACK    2000000000ul

atomic_int rt__trace_on;

/* The open trace. Everything here is touched only with `lock` held. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    FILE *out;              /* where events go; NULL: no trace open */
    bool json;              /* Chrome Trace Event JSON, else text lines */
    bool own_file;          /* out is a file we opened (not stderr) */
    bool first;             /* JSON: no event written yet, so no comma before the next */
    bool outside_named;     /* JSON: the track for events outside any executor is named */
    uint64_t start_ns;      /* when the trace opened: time 0 */
    long pid;               /* the JSON events' process */
    unsigned executors;     /* numbers handed out so far, per kind */
    unsigned long tasks;    /*   "   */
    unsigned long requests; /*   "   */
    unsigned long flows;    /*   "   (JSON arrows) */
    unsigned long timers;   /*   "   (phase 3) */
    unsigned long channels; /*   "   (phase 4) */
} trace;

/* Who runs on this thread right now, for "by ..." (see the top of the file). */
enum actor_kind { NOBODY, EXECUTOR, TASK, REQUEST, TIMER };
struct actor {
    enum actor_kind kind;
    unsigned long id; /* the executor's, task's or request's number */
};

static _Thread_local unsigned current_ex;      /* the executor this thread runs; 0: none */
static _Thread_local struct actor actor;       /* who runs now */
static _Thread_local struct actor before_poll; /* who ran before the poll being traced */
static _Thread_local struct actor before_done; /* who ran before the completion being traced */
static _Thread_local uint64_t poll_start_ns;   /* when the poll being traced began */
static _Thread_local bool poll_ready;          /* what it returned */
static _Thread_local struct actor before_fire; /* who ran before the timer being fired (phase 3) */
static _Thread_local uint64_t park_start_ns;   /* when this thread last parked (phase 3) */

/* --------------------------------------------------------- opening, closing */

static void close_locked(void)
{
    if (!trace.out)
        return;
    atomic_store_explicit(&rt__trace_on, 0, memory_order_relaxed);
    if (trace.json)
        fputs("\n]\n", trace.out);
    if (trace.own_file)
        fclose(trace.out);
    else
        fflush(trace.out);
    trace.out = NULL;
}

void rt__trace_close(void)
{
    pthread_mutex_lock(&lock);
    close_locked();
    pthread_mutex_unlock(&lock);
}

/* Write a JSON string: quoted, with the characters JSON requires escaped. */
static void json_string(const char *s)
{
    putc('"', trace.out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(trace.out, "\\%c", c);
        else if (c < 0x20)
            fprintf(trace.out, "\\u%04x", c);
        else
            putc(c, trace.out);
    }
    putc('"', trace.out);
}

/* Microseconds since the trace opened. */
static double elapsed_us(uint64_t now)
{
    return (double)(now - trace.start_ns) / 1e3;
}

/*
 * Start a JSON event: `{"ph":..,"name":..,"cat":..,"pid":..,"tid":..,"ts":..`.
 * The caller adds its own fields and the closing brace.
 */
static void json_open_in(const char *cat, char ph, const char *name, unsigned long tid,
                         uint64_t now)
{
    fputs(trace.first ? "\n" : ",\n", trace.out);
    trace.first = false;
    fprintf(trace.out, "{\"ph\":\"%c\",\"name\":", ph);
    json_string(name);
    fprintf(trace.out, ",\"cat\":\"%s\",\"pid\":%ld,\"tid\":%lu,\"ts\":%.3f", cat, trace.pid, tid,
            elapsed_us(now));
}

/* Requests are async slices, category "io" (so are timers, in "timer": json_open_in); the rest is
 * "rt". */
static void json_open(char ph, const char *name, unsigned long tid, uint64_t now)
{
    json_open_in(ph == 'b' || ph == 'e' ? "io" : "rt", ph, name, tid, now);
}

/* Name a track (a "thread" of the JSON's process) and give its place in the list. */
static void json_name_track(unsigned long tid, const char *name, unsigned long sort)
{
    json_open('M', "thread_name", tid, trace.start_ns);
    fputs(",\"args\":{\"name\":", trace.out);
    json_string(name);
    fputs("}}", trace.out);
    json_open('M', "thread_sort_index", tid, trace.start_ns);
    fprintf(trace.out, ",\"args\":{\"sort_index\":%lu}}", sort);
}

/* The name this process gets in the JSON: the program's name. */
static void json_name_process(void)
{
    char comm[64] = "rt";
    FILE *f = fopen("/proc/self/comm", "r");

    if (f) {
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    json_open('M', "process_name", 0, trace.start_ns);
    fputs(",\"args\":{\"name\":", trace.out);
    json_string(comm);
    fputs("}}", trace.out);
}

/*
 * A child made by fork() (a benchmark's client, Check's test processes)
 * gets a copy of the trace's FILE, buffer and all: it must neither write
 * that buffer again nor add its own events to its parent's file. So the
 * buffer is flushed before the fork, which leaves the child's copy empty
 * (a child that ends with exit() flushes every stream it has, this one
 * too), and the child drops the trace. The lock is held across fork() so
 * that the copy is taken between two events, never in the middle of one.
 */
static void fork_prepare(void)
{
    pthread_mutex_lock(&lock);
    if (trace.out)
        fflush(trace.out);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

static void fork_child(void)
{
    atomic_store_explicit(&rt__trace_on, 0, memory_order_relaxed);
    trace.out = NULL; /* the parent's FILE: not ours to flush or close */
    pthread_mutex_unlock(&lock);
}

int rt__trace_open(const char *path, bool json)
{
    static bool registered;
    FILE *out = stderr;

    if (path) {
        out = fopen(path, "w");
        if (!out)
            return -errno;
    }
    pthread_mutex_lock(&lock);
    close_locked();
    if (!registered) {
        atexit(rt__trace_close); /* so that a JSON trace ends as a complete array */
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        registered = true;
    }
    trace.out = out;
    trace.json = json;
    trace.own_file = path != NULL;
    trace.first = true;
    trace.outside_named = false;
    trace.pid = (long)getpid();
    trace.executors = 0;
    trace.tasks = trace.requests = trace.flows = 0;
    if (json) {
        fputs("[", out);
        json_name_process();
    } else {
        fputs("#  time_us  exec subject   event     detail\n", out); /* the columns below */
    }
    /* Time 0 is now, after the first write: that one can take milliseconds (stdio, a terminal). */
    trace.start_ns = now_ns();
    atomic_store_explicit(&rt__trace_on, 1, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
    return 0;
}

static void read_environment(void)
{
    const char *value = getenv("RT_TRACE");
    size_t len;
    bool json;
    int err;

    /* A trace a test opened with rt__trace_open() before the first executor stays. */
    if (!value || !*value || strcmp(value, "0") == 0 || atomic_load(&rt__trace_on))
        return;
    len = strlen(value);
    json = len > 5 && strcmp(value + len - 5, ".json") == 0;
    err = rt__trace_open(json ? value : NULL, json);
    if (err < 0)
        fprintf(stderr, "RT_TRACE=%s: cannot write the trace there (%s); running without it\n",
                value, strerror(-err));
}

void rt__trace_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, read_environment);
}

/* ------------------------------------------------------------ the writers */

/* "ex1", or "-" outside any executor. */
static void executor_name(unsigned ex, char *buf, size_t len)
{
    if (ex)
        snprintf(buf, len, "ex%u", ex);
    else
        snprintf(buf, len, "-");
}

/* One text line: time, executor, subject, event, detail (printf-style, may be empty). */
static void text_line(uint64_t now, unsigned ex, const char *subject, const char *event,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void text_line(uint64_t now, unsigned ex, const char *subject, const char *event,
                      const char *fmt, ...)
{
    char line[512], exname[16];
    va_list ap;
    int n;

    executor_name(ex, exname, sizeof(exname));
    n = snprintf(line, sizeof(line), "%10.1f  %-4s %-9s %-9s ", elapsed_us(now), exname, subject,
                 event);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* No trailing blanks when the detail is empty; then one write per line. */
    n = (int)strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    fprintf(trace.out, "%s\n", line);
}

/* "task 3", "req 7", "executor 1", or what an actor of `kind` 0 is. */
static void actor_name(struct actor a, char *buf, size_t len)
{
    switch (a.kind) {
    case EXECUTOR:
        snprintf(buf, len, "executor %lu", a.id);
        break;
    case TASK:
        snprintf(buf, len, "task %lu", a.id);
        break;
    case REQUEST:
        snprintf(buf, len, "req %lu", a.id);
        break;
    case TIMER:
        snprintf(buf, len, "timer %lu", a.id);
        break;
    case NOBODY:
        snprintf(buf, len, "code outside any executor");
        break;
    }
}

/* The JSON track of the executor this thread runs (or of "outside any executor"). */
static unsigned long executor_track(void)
{
    if (!current_ex && !trace.outside_named) {
        json_name_track(EXECUTOR_TRACK, "outside any executor", 0);
        trace.outside_named = true;
    }
    return EXECUTOR_TRACK + current_ex;
}

/* The JSON track of the actor: its task's, or its executor's. */
static unsigned long actor_track(void)
{
    return actor.kind == TASK ? actor.id : executor_track();
}

/* An instant on the executor's track; `fmt` makes its name. */
static void json_executor_instant(uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void json_executor_instant(uint64_t now, const char *fmt, ...)
{
    char name[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    json_open('i', name, executor_track(), now);
    fputs(",\"s\":\"t\"}", trace.out);
}

/* An arrow from the actor's slice to the next poll of `task`. */
static void json_arrow(const char *name, unsigned long task, uint64_t now)
{
    unsigned long id = ++trace.flows;

    json_open('s', name, actor_track(), now);
    fprintf(trace.out, ",\"id\":%lu}", id);
    json_open('f', name, task, now);
    fprintf(trace.out, ",\"id\":%lu}", id);
}

/* Take the lock and the time; false (lock not held) if the trace was closed meanwhile. */
static bool enter(uint64_t *now)
{
    pthread_mutex_lock(&lock);
    if (!trace.out) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    *now = now_ns();
    return true;
}

static void leave(void)
{
    pthread_mutex_unlock(&lock);
}

/* ---------------------------------------------------------------- executors */

/*
 * The CPU this thread is pinned to, or -1. `cpu` is what the builder asked
 * for; rt_builder_spawn() pins its thread itself and asks for no more, so a
 * thread allowed on one CPU out of several counts as pinned too.
 */
static int pinned_cpu(int cpu)
{
    cpu_set_t set;

    if (cpu >= 0)
        return cpu;
    if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) != 1 ||
        sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return -1;
    for (cpu = 0; !CPU_ISSET(cpu, &set); cpu++)
        ;
    return cpu;
}

unsigned rt__trace_executor_new(int cpu)
{
    uint64_t now;
    unsigned ex;
    char name[32];

    cpu = pinned_cpu(cpu);
    if (!enter(&now))
        return 0;
    ex = ++trace.executors;
    if (trace.json) {
        snprintf(name, sizeof(name), "executor %u", ex);
        json_name_track(EXECUTOR_TRACK + ex, name, 0);
    } else if (cpu < 0) {
        text_line(now, ex, "-", "create", "not pinned");
    } else {
        text_line(now, ex, "-", "create", "pinned to CPU %d", cpu);
    }
    leave();
    return ex;
}

/* The executor `ex` starts running on this thread (run or destroy). */
static void executor_begin(unsigned ex, const char *event, const char *detail)
{
    uint64_t now;

    if (!enter(&now))
        return;
    current_ex = ex;
    actor = (struct actor){EXECUTOR, ex};
    if (trace.json) {
        json_open('B', event, EXECUTOR_TRACK + ex, now);
        fputs("}", trace.out);
    } else {
        text_line(now, ex, "-", event, "%s", detail);
    }
    leave();
}

static void executor_end(unsigned ex, const char *event, const char *detail)
{
    uint64_t now;

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('E', event, EXECUTOR_TRACK + ex, now);
        fputs(",\"args\":{\"detail\":", trace.out);
        json_string(detail);
        fputs("}}", trace.out);
    } else {
        text_line(now, ex, "-", event, "%s", detail);
    }
    current_ex = 0;
    actor = (struct actor){NOBODY, 0};
    leave();
}

void rt__trace_run(unsigned ex)
{
    executor_begin(ex, "run", "");
}

void rt__trace_run_end(unsigned ex, long output)
{
    char detail[48];

    snprintf(detail, sizeof(detail), "output %ld", output);
    executor_end(ex, "return", detail);
}

void rt__trace_destroy(unsigned ex)
{
    executor_begin(ex, "destroy", "cancel every task left");
}

void rt__trace_destroy_end(unsigned ex)
{
    executor_end(ex, "destroyed", "");
}

/* -------------------------------------------------------------------- tasks */

unsigned long rt__trace_spawn(size_t size)
{
    uint64_t now;
    unsigned long task;
    char by[48], name[32];

    if (!enter(&now))
        return 0;
    task = ++trace.tasks;
    actor_name(actor, by, sizeof(by));
    if (trace.json) {
        snprintf(name, sizeof(name), "task %lu", task);
        json_name_track(task, name, task);
        if (actor.kind != NOBODY)
            json_arrow("spawn", task, now);
    } else {
        snprintf(name, sizeof(name), "task %lu", task);
        text_line(now, current_ex, name, "spawn", "by %s, %zu-byte future", by, size);
    }
    leave();
    return task;
}

void rt__trace_poll(unsigned long task)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    before_poll = actor;
    actor = (struct actor){TASK, task};
    poll_start_ns = now;
    if (!trace.json) {
        snprintf(name, sizeof(name), "task %lu", task);
        text_line(now, current_ex, name, "poll", "%s", "");
    }
    leave();
}

void rt__trace_polled(unsigned long task, bool ready, long output)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    poll_ready = ready;
    if (!trace.json) {
        snprintf(name, sizeof(name), "task %lu", task);
        if (ready)
            text_line(now, current_ex, name, "ready", "output %ld", output);
        else
            text_line(now, current_ex, name, "pending", "%s", "");
    }
    leave();
}

void rt__trace_poll_end(unsigned long task)
{
    uint64_t now;

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('X', poll_ready ? "poll: ready" : "poll: pending", task, poll_start_ns);
        fprintf(trace.out, ",\"dur\":%.3f}", (double)(now - poll_start_ns) / 1e3);
    }
    actor = before_poll;
    leave();
}

void rt__trace_wake(unsigned long task, const char *note)
{
    uint64_t now;
    char by[48], name[32];

    if (!enter(&now))
        return;
    actor_name(actor, by, sizeof(by));
    if (trace.json) {
        if (!note && actor.kind != NOBODY)
            json_arrow("wake", task, now);
        else
            json_executor_instant(now, "wake task %lu by %s%s%s", task, by, note ? ": " : "",
                                  note ? note : "");
    } else {
        snprintf(name, sizeof(name), "task %lu", task);
        text_line(now, current_ex, name, "wake", "by %s%s%s%s", by, note ? " (" : "",
                  note ? note : "", note ? ")" : "");
    }
    leave();
}

void rt__trace_cancel(unsigned long task, bool running)
{
    uint64_t now;
    char by[48], name[32];
    const char *when = running ? " (in its own poll: dropped when the poll returns)" : "";

    if (!enter(&now))
        return;
    actor_name(actor, by, sizeof(by));
    if (trace.json) {
        json_open('i', "cancelled", task, now);
        fputs(",\"s\":\"t\",\"args\":{\"by\":", trace.out);
        json_string(by);
        fputs("}}", trace.out);
    } else {
        snprintf(name, sizeof(name), "task %lu", task);
        text_line(now, current_ex, name, "cancel", "by %s%s", by, when);
    }
    leave();
}

void rt__trace_free(unsigned long task, const char *note)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('i', "freed", task, now);
        fputs(",\"s\":\"t\",\"args\":{\"why\":", trace.out);
        json_string(note ? note : "its last reference was released");
        fputs("}}", trace.out);
    } else {
        snprintf(name, sizeof(name), "task %lu", task);
        text_line(now, current_ex, name, "free", "%s", note ? note : "");
    }
    leave();
}

/* ----------------------------------------------------------------- requests */

unsigned long rt__trace_queue(const char *op, const char *fmt, ...)
{
    uint64_t now;
    unsigned long req;
    char what[160], name[32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (!enter(&now))
        return 0;
    req = ++trace.requests;
    if (trace.json) {
        json_open('b', op, executor_track(), now);
        fprintf(trace.out, ",\"id\":%lu,\"args\":{\"req\":%lu,\"what\":", req, req);
        json_string(what);
        fputs("}}", trace.out);
    } else {
        snprintf(name, sizeof(name), "req %lu", req);
        text_line(now, current_ex, name, "queue", "%s %s", op, what);
    }
    leave();
    return req;
}

void rt__trace_submit(unsigned ready, int ret)
{
    uint64_t now;

    if (!enter(&now))
        return;
    if (trace.json) {
        if (ret < 0)
            json_executor_instant(now, "submit: %s", strerror(-ret));
        else
            json_executor_instant(now, "submit %d", ret);
    } else if (ret < 0) {
        text_line(now, current_ex, "-", "submit", "%u requests: %s; tried again next turn", ready,
                  strerror(-ret));
    } else if ((unsigned)ret == ready) {
        text_line(now, current_ex, "-", "submit", "%d request%s, one system call", ret,
                  ret == 1 ? "" : "s");
    } else {
        text_line(now, current_ex, "-", "submit", "%d of %u requests, one system call", ret, ready);
    }
    leave();
}

void rt__trace_cancel_sent(unsigned long req, const char *op)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_executor_instant(now, "cancel req %lu (%s)", req, op);
    } else {
        snprintf(name, sizeof(name), "req %lu", req);
        text_line(now, current_ex, name, "cancel", "its future was dropped: ASYNC_CANCEL of the %s",
                  op);
    }
    leave();
}

/* A result as the kernel gives it: "5", or "-125 Operation canceled". */
static void result_text(int res, char *buf, size_t len)
{
    if (res >= 0)
        snprintf(buf, len, "%d", res);
    else
        snprintf(buf, len, "%d %s", res, strerror(-res));
}

void rt__trace_done(unsigned long req, const char *op, bool cancel, int res)
{
    uint64_t now;
    char result[80], name[48];

    if (!enter(&now))
        return;
    result_text(res, result, sizeof(result));
    if (trace.json) {
        if (!cancel) {
            json_open('e', op, executor_track(), now);
            fprintf(trace.out, ",\"id\":%lu,\"args\":{\"res\":", req);
            json_string(result);
            fputs("}}", trace.out);
        }
        snprintf(name, sizeof(name), "%s%s done", cancel ? "cancel of " : "", op);
        json_open('B', name, executor_track(), now);
        fprintf(trace.out, ",\"args\":{\"req\":%lu,\"res\":", req);
        json_string(result);
        fputs("}}", trace.out);
    } else {
        snprintf(name, sizeof(name), "req %lu", req);
        text_line(now, current_ex, name, "done", "%s%s -> %s", cancel ? "the cancel of its " : "",
                  op, result);
    }
    /* Until rt__trace_done_end(), whatever this thread wakes is woken by this completion. */
    before_done = actor;
    actor = (struct actor){REQUEST, req};
    leave();
}

void rt__trace_done_end(void)
{
    uint64_t now;

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('E', "done", executor_track(), now);
        fputs("}", trace.out);
    }
    actor = before_done;
    leave();
}

void rt__trace_orphan_free(unsigned long req, const char *op)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_executor_instant(now, "free req %lu (%s orphan)", req, op);
    } else {
        snprintf(name, sizeof(name), "req %lu", req);
        text_line(now, current_ex, name, "free", "orphan %s: the kernel sent every CQE naming it",
                  op);
    }
    leave();
}

void rt__trace_unsent(unsigned long req, const char *op)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('e', op, executor_track(), now);
        fprintf(trace.out, ",\"id\":%lu,\"args\":{\"res\":\"never submitted\"}}", req);
    } else {
        snprintf(name, sizeof(name), "req %lu", req);
        text_line(now, current_ex, name, "free", "%s dropped before it was submitted", op);
    }
    leave();
}

/* --------------------------------------------------------- scheduling (phase 3) */

/* "1.000 ms", or "no deadline". */
static void duration_text(uint64_t ns, char *buf, size_t len)
{
    if (ns == UINT64_MAX)
        snprintf(buf, len, "no deadline");
    else
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
}

void rt__trace_park(uint64_t timeout_ns)
{
    uint64_t now;
    char limit[32];

    if (!enter(&now))
        return;
    park_start_ns = now;
    duration_text(timeout_ns, limit, sizeof(limit));
    if (trace.json) {
        json_open('B', "parked", executor_track(), now);
        fputs(",\"args\":{\"until\":", trace.out);
        json_string(limit);
        fputs("}}", trace.out);
    } else {
        text_line(now, current_ex, "-", "park", "until a completion, a notify, or %s", limit);
    }
    leave();
}

void rt__trace_unpark(void)
{
    uint64_t now;

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('E', "parked", executor_track(), now);
        fputs("}", trace.out);
    } else {
        text_line(now, current_ex, "-", "unpark", "slept %.1f us",
                  (double)(now - park_start_ns) / 1e3);
    }
    leave();
}

void rt__trace_notify(unsigned ex, const char *how)
{
    uint64_t now;

    if (!enter(&now))
        return;
    /* Any thread may notify: the event belongs to the executor notified, not to the caller's. */
    if (trace.json) {
        json_open('i', "notify", EXECUTOR_TRACK + ex, now);
        fputs(",\"s\":\"t\",\"args\":{\"how\":", trace.out);
        json_string(how);
        fputs("}}", trace.out);
    } else {
        text_line(now, ex, "-", "notify", "%s", how);
    }
    leave();
}

/* A task queue's JSON track. */
static unsigned long queue_track(unsigned ex, int queue)
{
    return QUEUE_TRACK + 1000ul * ex + (unsigned long)queue;
}

void rt__trace_task_queue(unsigned ex, int queue, const char *name, unsigned shares,
                          uint64_t latency_ns)
{
    uint64_t now;
    char subject[16], track[64], latency[32];

    if (!enter(&now))
        return;
    if (latency_ns)
        snprintf(latency, sizeof(latency), "within %.3f ms", (double)latency_ns / 1e6);
    else
        snprintf(latency, sizeof(latency), "does not matter");
    if (trace.json) {
        snprintf(track, sizeof(track), "queue %d: %s (executor %u)", queue, name, ex);
        json_name_track(queue_track(ex, queue), track, queue_track(ex, queue));
    } else {
        snprintf(subject, sizeof(subject), "queue %d", queue);
        text_line(now, ex, subject, "new", "%s: %u shares, latency %s", name, shares, latency);
    }
    leave();
}

void rt__trace_slice(int queue, const char *name)
{
    uint64_t now;
    char subject[16];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('B', "slice", queue_track(current_ex, queue), now);
        fputs("}", trace.out);
    } else {
        snprintf(subject, sizeof(subject), "queue %d", queue);
        text_line(now, current_ex, subject, "slice", "%s: its turn", name);
    }
    leave();
}

void rt__trace_slice_end(int queue, const char *name, uint64_t ran_ns, uint64_t vruntime)
{
    uint64_t now;
    char subject[16];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open('E', "slice", queue_track(current_ex, queue), now);
        fprintf(trace.out, ",\"args\":{\"ran_us\":%.1f,\"vruntime\":%llu}}", (double)ran_ns / 1e3,
                (unsigned long long)vruntime);
    } else {
        snprintf(subject, sizeof(subject), "queue %d", queue);
        text_line(now, current_ex, subject, "charge", "%s: ran %.1f us, vruntime %llu", name,
                  (double)ran_ns / 1e3, (unsigned long long)vruntime);
    }
    leave();
}

unsigned long rt__trace_timer(uint64_t ns)
{
    uint64_t now;
    unsigned long timer;
    char name[32], by[48], limit[32];

    if (!enter(&now))
        return 0;
    timer = ++trace.timers;
    actor_name(actor, by, sizeof(by));
    duration_text(ns, limit, sizeof(limit));
    if (trace.json) {
        json_open_in("timer", 'b', "sleep", executor_track(), now);
        fprintf(trace.out, ",\"id\":%lu,\"args\":{\"by\":", timer);
        json_string(by);
        fputs("}}", trace.out);
    } else {
        snprintf(name, sizeof(name), "timer %lu", timer);
        text_line(now, current_ex, name, "start", "%s, by %s (in the heap: no system call)", limit,
                  by);
    }
    leave();
    return timer;
}

/* The end of a timer's async slice. */
static void json_timer_end(unsigned long timer, uint64_t now, const char *how)
{
    json_open_in("timer", 'e', "sleep", executor_track(), now);
    fprintf(trace.out, ",\"id\":%lu,\"args\":{\"end\":", timer);
    json_string(how);
    fputs("}}", trace.out);
}

void rt__trace_timer_fired(unsigned long timer, uint64_t late_ns)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_timer_end(timer, now, "fired");
    } else {
        snprintf(name, sizeof(name), "timer %lu", timer);
        text_line(now, current_ex, name, "fire", "%.1f us after its deadline",
                  (double)late_ns / 1e3);
    }
    /* Until rt__trace_timer_fired_end(), whatever this thread wakes is woken by this timer. */
    before_fire = actor;
    actor = (struct actor){TIMER, timer};
    leave();
}

void rt__trace_timer_fired_end(void)
{
    uint64_t now;

    if (!enter(&now))
        return;
    actor = before_fire;
    leave();
}

void rt__trace_timer_cancel(unsigned long timer)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_timer_end(timer, now, "cancelled");
    } else {
        snprintf(name, sizeof(name), "timer %lu", timer);
        text_line(now, current_ex, name, "cancel", "out of the heap before its deadline");
    }
    leave();
}

/* ------------------------------------------------------------ channels (phase 4) */

unsigned long rt__trace_channel_new(size_t capacity, size_t msg_size)
{
    uint64_t now;
    unsigned long ch;
    char name[32];

    if (!enter(&now))
        return 0;
    ch = ++trace.channels;
    if (!trace.json) {
        snprintf(name, sizeof(name), "chan %lu", ch);
        text_line(now, current_ex, name, "new", "%zu slots of %zu bytes", capacity, msg_size);
    }
    leave();
    return ch;
}

/* The id of a message's arrow: its channel in the high half, its number in the low. */
static unsigned long long msg_flow_id(unsigned long ch, uint64_t seq)
{
    return ((unsigned long long)ch << 32) | (seq & 0xffffffffu);
}

void rt__trace_msg_send(unsigned long ch, uint64_t seq)
{
    uint64_t now;
    char name[32], by[48];

    if (!enter(&now))
        return;
    if (trace.json) {
        json_open_in("msg", 's', "message", actor_track(), now);
        fprintf(trace.out, ",\"id\":%llu}", msg_flow_id(ch, seq));
    } else {
        snprintf(name, sizeof(name), "chan %lu", ch);
        actor_name(actor, by, sizeof(by));
        text_line(now, current_ex, name, "send", "message %llu, by %s", (unsigned long long)seq,
                  by);
    }
    leave();
}

void rt__trace_msg_recv(unsigned long ch, uint64_t seq)
{
    uint64_t now;
    char name[32], by[48];

    if (!enter(&now))
        return;
    if (trace.json) {
        /* "bp":"e": the arrow ends in the slice that encloses it, the receiver's poll. */
        json_open_in("msg", 'f', "message", actor_track(), now);
        fprintf(trace.out, ",\"bp\":\"e\",\"id\":%llu}", msg_flow_id(ch, seq));
    } else {
        snprintf(name, sizeof(name), "chan %lu", ch);
        actor_name(actor, by, sizeof(by));
        text_line(now, current_ex, name, "recv", "message %llu, by %s", (unsigned long long)seq,
                  by);
    }
    leave();
}

void rt__trace_channel_close(unsigned long ch, const char *end)
{
    uint64_t now;
    char name[32];

    if (!enter(&now))
        return;
    if (!trace.json) {
        snprintf(name, sizeof(name), "chan %lu", ch);
        text_line(now, current_ex, name, "close", "its %s end", end);
    }
    leave();
}
