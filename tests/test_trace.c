/*
 * tests/test_trace.c - RT_TRACE: the events of small known programs, in order.
 *
 * Each test opens a trace into a file of its own with rt__trace_open(), the
 * call RT_TRACE=... makes at the first rt_executor_create(), runs a program
 * whose every step is known, closes the trace and reads it back:
 *
 *   - a text trace line by line: the subject and event of each line in
 *     order ("task 2 ready"), and a piece of the detail where it matters
 *     ("by task 2", "output 42");
 *   - a JSON trace with a small JSON parser: it must be one valid array,
 *     with as many arrow starts as ends and the poll slices we expect.
 *
 * A waker kept past its executor's teardown wakes a task that is done, and
 * the trace says so, even if the task was still queued at the teardown.
 *
 * Phase 2 adds a timeout that fires and cancels its recv: queue, submit,
 * the timer's completion waking the task "by req 2", the cancel, and the
 * orphan freed once both of its completions are in.
 *
 * Phase 3 adds scheduling events: a task queue's slices ("slice", "charge"),
 * the executor parking and waking ("park", "unpark"), rt_executor_notify()
 * ("notify"), and timers in the executor's heap ("timer N"). The sequences
 * the earlier tests expect leave the first two kinds out (parse_text skips
 * them); a test of its own checks them, and the timeout's timer, a request
 * in phase 2, is a heap timer in phase 3.
 *
 * Phase 4 adds channels: a message sent ("chan N send") and received ("chan
 * N recv"), which the JSON draws as one arrow from the sender's slice to the
 * receiver's.
 *
 * Times are never compared: only which events come, and in which order.
 */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fatal.h"
#include "common/trace.h"

#if PHASE >= 2
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#endif
#if PHASE >= 3
#include <pthread.h>
#include <stdatomic.h>
#endif

TEST_SINCE_PHASE(1);

/* ------------------------------------------------- tracing into a file */

/* Where this test's trace goes: a fresh file (each test runs in its own process). */
static char trace_path[64];

static void trace_start(bool json)
{
    int fd;

    snprintf(trace_path, sizeof(trace_path), "/tmp/rt-test-trace-XXXXXX");
    fd = mkstemp(trace_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(rt__trace_open(trace_path, json), 0);
}

/* The contents of the file at `path` (malloc'd), which is then removed. */
static char *read_and_remove(const char *path)
{
    FILE *f;
    long len;
    char *text;

    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s was not written", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(fread(text, 1, (size_t)len, f), len);
    text[len] = '\0';
    fclose(f);
    unlink(path);
    return text;
}

/* Close the trace and return the file's contents (malloc'd), removing the file. */
static char *trace_finish(void)
{
    rt__trace_close();
    return read_and_remove(trace_path);
}

/* ------------------------------------------------- reading a text trace */

#define MAX_EVENTS 64

/* One line: "   12.3  ex1  task 2    wake      by task 1" */
struct event {
    char what[64];    /* subject and event: "task 2 wake", "- submit" */
    char detail[160]; /* the rest of the line */
};

struct trace {
    struct event ev[MAX_EVENTS];
    int n;
};

#if PHASE >= 3
/* Phase 3's scheduling events, which the sequences written for phases 1 and 2 leave out. */
static bool scheduling_event(const char *what)
{
    return strncmp(what, "queue ", 6) == 0 || strcmp(what, "- park") == 0 ||
           strcmp(what, "- unpark") == 0;
}
#endif

/* Split a text trace into events; '#' lines are comments. */
static void parse_text_all(const char *text, struct trace *tr, bool all)
{
    const char *line = text;

    tr->n = 0;
    while (*line) {
        const char *end = strchr(line, '\n');
        char buf[256], subject[16], num[16], event[16];
        int len = end ? (int)(end - line) : (int)strlen(line);
        int used = 0;
        double us;

        snprintf(buf, sizeof(buf), "%.*s", len, line);
        line += len + (end ? 1 : 0);
        if (buf[0] == '#')
            continue;
        ck_assert_int_lt(tr->n, MAX_EVENTS);
        /* time, executor, subject ("-", or a word and a number), event, detail */
        ck_assert_msg(sscanf(buf, "%lf %*s %15s%n", &us, subject, &used) == 2, "bad line: %s", buf);
        struct event *e = &tr->ev[tr->n++];
        if (strcmp(subject, "-") == 0) {
            ck_assert_msg(sscanf(buf + used, "%15s%n", event, &len) == 1, "bad line: %s", buf);
            snprintf(e->what, sizeof(e->what), "- %s", event);
        } else {
            ck_assert_msg(sscanf(buf + used, "%15s %15s%n", num, event, &len) == 2, "bad: %s", buf);
            snprintf(e->what, sizeof(e->what), "%s %s %s", subject, num, event);
        }
        used += len;
        while (buf[used] == ' ')
            used++;
        snprintf(e->detail, sizeof(e->detail), "%s", buf + used);
#if PHASE >= 3
        if (!all && scheduling_event(e->what))
            tr->n--;
#else
        (void)all;
#endif
    }
}

/* The events of a text trace, without phase 3's scheduling events. */
static void parse_text(const char *text, struct trace *tr)
{
    parse_text_all(text, tr, false);
}

/* What a trace must hold at one place: subject and event, and a piece of the detail (or NULL). */
struct expect {
    const char *what;
    const char *detail;
};

/* Check that events [from, from + n) are `want`, in order. */
static void check_events(const struct trace *tr, int from, const struct expect *want, int n)
{
    for (int i = 0; i < n; i++) {
        ck_assert_msg(from + i < tr->n, "the trace ends before \"%s\" (event %d)", want[i].what,
                      from + i);
        const struct event *e = &tr->ev[from + i];
        ck_assert_msg(strcmp(e->what, want[i].what) == 0, "event %d is \"%s\", expected \"%s\"",
                      from + i, e->what, want[i].what);
        if (want[i].detail)
            ck_assert_msg(strstr(e->detail, want[i].detail), "event %d (%s): \"%s\" lacks \"%s\"",
                          from + i, e->what, e->detail, want[i].detail);
    }
}

#define N(array) ((int)(sizeof(array) / sizeof(array[0])))

/* Close the text trace, and check that its last n events are want[]. */
static void finish_with(const struct expect *want, int n)
{
    char *text = trace_finish();
    struct trace tr;

    parse_text(text, &tr);
    ck_assert_int_ge(tr.n, n);
    check_events(&tr, tr.n - n, want, n);
    free(text);
}

/* ------------------------------------------------- a minimal JSON parser */

/* Just enough JSON (RFC 8259) to say whether a text is one valid value. */
struct json {
    const char *p;
};

static bool json_value(struct json *j);

static void json_space(struct json *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static bool json_string(struct json *j)
{
    if (*j->p++ != '"')
        return false;
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;

        if (c < 0x20)
            return false; /* control characters must be escaped */
        if (c == '\\') {
            c = (unsigned char)*j->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*j->p++))
                        return false;
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return false;
            }
        }
    }
    j->p++;
    return true;
}

static bool json_number(struct json *j)
{
    const char *start = j->p;

    if (*j->p == '-')
        j->p++;
    if (!isdigit((unsigned char)*j->p))
        return false;
    if (*j->p == '0' && isdigit((unsigned char)j->p[1]))
        return false; /* no leading zeros */
    while (isdigit((unsigned char)*j->p))
        j->p++;
    if (*j->p == '.') {
        j->p++;
        if (!isdigit((unsigned char)*j->p))
            return false;
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!isdigit((unsigned char)*j->p))
            return false;
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    return j->p > start;
}

/* The members of an object or the elements of an array, up to `close`. */
static bool json_list(struct json *j, char close, bool members)
{
    j->p++; /* the opening bracket */
    json_space(j);
    if (*j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        if (members) {
            if (!json_string(j))
                return false;
            json_space(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!json_value(j))
            return false;
        json_space(j);
        if (*j->p == close) {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
        json_space(j);
    }
}

static bool json_value(struct json *j)
{
    json_space(j);
    switch (*j->p) {
    case '{':
        return json_list(j, '}', true);
    case '[':
        return json_list(j, ']', false);
    case '"':
        return json_string(j);
    case 't':
        return strncmp(j->p, "true", 4) == 0 && (j->p += 4);
    case 'f':
        return strncmp(j->p, "false", 5) == 0 && (j->p += 5);
    case 'n':
        return strncmp(j->p, "null", 4) == 0 && (j->p += 4);
    default:
        return json_number(j);
    }
}

/* True if `text` is exactly one JSON array, nothing but blanks after it. */
static bool json_is_array(const char *text)
{
    struct json j = {text};

    json_space(&j);
    if (*j.p != '[' || !json_value(&j))
        return false;
    json_space(&j);
    return *j.p == '\0';
}

static int count(const char *text, const char *what)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

START_TEST(json_parser_rejects_what_is_not_json)
{
    /* The checker must be able to fail, or the JSON tests below prove nothing. */
    ck_assert(json_is_array("[{\"a\":[1,-2.5e3,\"x\\n\"],\"b\":true,\"c\":null}]"));
    ck_assert(!json_is_array("[{\"a\":1},]"));       /* a trailing comma */
    ck_assert(!json_is_array("[{\"a\":1}"));         /* not closed, as a trace cut short */
    ck_assert(!json_is_array("[{\"a\":\"x\ny\"}]")); /* a raw newline in a string */
    ck_assert(!json_is_array("[01]"));
    ck_assert(!json_is_array("{}"));
}
END_TEST

/* ---------------------------------------- phase 1: spawn one child, await it */

/* Spawns a child that is ready at once with 42, awaits its handle, returns its output + 1. */
struct parent {
    struct rt_async async;
    struct rt_join_handle child;
    intptr_t got;
};

static enum rt_poll parent_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct parent *f = (struct parent *)self;
    struct test_value child = test_value(42);

    ASYNC_BEGIN(f, cx, out);
    f->child = rt_spawn(&child.future, sizeof(child));
    AWAIT(&f->child.future, &f->got);
    ASYNC_RETURN(f->got + 1);
    ASYNC_END;
}

static const struct rt_future_vtable parent_vtable = {parent_poll, rt_async_drop};

static void run_parent(void)
{
    struct parent f = {.async = RT_ASYNC_INIT(&parent_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 43);
}

START_TEST(trace_of_a_spawn_and_join)
{
    static const struct expect want[] = {
        {"- create", NULL},
        {"- run", NULL},
        {"task 1 spawn", "by executor 1"}, /* the main future */
        {"task 1 poll", NULL},
        {"task 2 spawn", "by task 1"},
        {"task 1 pending", NULL}, /* awaiting the child's handle */
        {"task 2 poll", NULL},
        {"task 2 ready", "output 42"},
        {"task 1 wake", "by task 2"}, /* the child's completion wakes its awaiter */
        {"task 1 poll", NULL},
        {"task 2 free", NULL}, /* the handle, its last reference, is let go */
        {"task 1 ready", "output 43"},
        {"task 1 free", NULL}, /* run() lets go of main's handle */
        {"- return", "output 43"},
        {"- destroy", NULL},
        {"- destroyed", NULL},
    };
    struct trace tr;
    char *text;

    trace_start(false);
    run_parent();
    text = trace_finish();
    parse_text(text, &tr);
    check_events(&tr, 0, want, N(want));
    ck_assert_int_eq(tr.n, N(want));
    free(text);
}
END_TEST

/* --------------------- phase 1: a wake that does nothing, and a cancellation */

/* Wakes itself twice in its first poll (the second finds it queued already), then is ready. */
struct double_wake {
    struct rt_future future;
    bool woken;
};

static enum rt_poll double_wake_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct double_wake *f = (struct double_wake *)self;

    if (f->woken) {
        *out = 0;
        return RT_READY;
    }
    f->woken = true;
    rt_waker_wake_by_ref(cx->waker);
    rt_waker_wake_by_ref(cx->waker);
    return RT_PENDING;
}

static const struct rt_future_vtable double_wake_vtable = {.poll = double_wake_poll};

/* Spawns a child that waits forever, lets it run once, cancels it, awaits its handle. */
struct canceller {
    struct rt_async async;
    struct rt_waker slot; /* where the child keeps its waker */
    struct rt_join_handle child;
    struct double_wake pause;
    intptr_t got;
};

static enum rt_poll canceller_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct canceller *f = (struct canceller *)self;
    struct test_wait child = test_wait(&f->slot, 7);

    ASYNC_BEGIN(f, cx, out);
    f->child = rt_spawn(&child.future, sizeof(child));
    f->pause = (struct double_wake){.future = {&double_wake_vtable}};
    AWAIT(&f->pause.future, NULL); /* the child runs meanwhile and waits */
    ck_assert(rt_join_cancel(&f->child));
    AWAIT(&f->child.future, &f->got);
    ck_assert(f->child.cancelled);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable canceller_vtable = {canceller_poll, rt_async_drop};

START_TEST(trace_of_a_cancellation)
{
    static const struct expect want[] = {
        {"- create", NULL},
        {"- run", NULL},
        {"task 1 spawn", NULL},
        {"task 1 poll", NULL},
        {"task 2 spawn", "by task 1"},
        {"task 1 wake", "by task 1"},                  /* a task may wake itself in its poll */
        {"task 1 wake", "by task 1 (already queued)"}, /* the second wake does nothing */
        {"task 1 pending", NULL},
        {"task 2 poll", NULL},
        {"task 2 pending", NULL}, /* the child keeps its waker in the slot */
        {"task 1 poll", NULL},
        {"task 2 cancel", "by task 1"},
        {"task 2 free",
         NULL}, /* dropping its future dropped the waker; awaiting let the handle go */
        {"task 1 ready", "output 0"},
        {"task 1 free", NULL},
        {"- return", NULL},
        {"- destroy", NULL},
        {"- destroyed", NULL},
    };
    struct canceller f = {.async = RT_ASYNC_INIT(&canceller_vtable)};
    struct trace tr;
    char *text;

    trace_start(false);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    text = trace_finish();
    parse_text(text, &tr);
    check_events(&tr, 0, want, N(want));
    ck_assert_int_eq(tr.n, N(want));
    free(text);
}
END_TEST

/* Spawns a child that waits forever, detaches it, and finishes. */
struct leaver {
    struct rt_future future;
    struct rt_waker *slot; /* the child's */
};

static enum rt_poll leaver_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct test_wait child = test_wait(((struct leaver *)self)->slot, 0);
    struct rt_join_handle h = rt_spawn(&child.future, sizeof(child));

    (void)cx;
    rt_join_detach(&h);
    *out = 0;
    return RT_READY;
}

static const struct rt_future_vtable leaver_vtable = {.poll = leaver_poll};

/* A task still pending when its executor is destroyed: the executor cancels and frees it. */
START_TEST(trace_of_a_teardown)
{
    static const struct expect want[] = {
        {"- destroy", NULL},
        {"task 2 cancel", "by executor 1"},
        {"task 2 free", NULL},
        {"- destroyed", NULL},
    };
    struct rt_waker slot = {0};
    struct leaver f = {.future = {&leaver_vtable}, .slot = &slot};
    struct rt_executor *ex;

    trace_start(false);
    ex = test_executor();
    ck_assert_int_eq(rt_executor_run(ex, &f.future, sizeof(f)), 0);
    rt_executor_destroy(ex);
    finish_with(want, N(want));
}
END_TEST

/* A waker kept outside every task, past the executor's end. */
static struct rt_waker kept_waker;

/* Keeps a clone of its waker in kept_waker and wakes itself: it is queued when main returns. */
static enum rt_poll keep_and_wake_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    (void)self;
    (void)out;
    if (rt_waker_is_empty(&kept_waker))
        kept_waker = rt_waker_clone(cx->waker);
    rt_waker_wake_by_ref(cx->waker);
    return RT_PENDING;
}

/* No drop: kept_waker is the test's, and outlives the future. */
static const struct rt_future_vtable keep_and_wake_vtable = {.poll = keep_and_wake_poll};

/* Spawns that child, detaches it, and finishes a turn later, the child queued again. */
struct queued_at_the_end {
    struct rt_async async;
    struct test_yield pause;
};

static enum rt_poll queued_at_the_end_poll(struct rt_future *self, struct rt_context *cx,
                                           intptr_t *out)
{
    struct queued_at_the_end *f = (struct queued_at_the_end *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct rt_future child = {&keep_and_wake_vtable};
        struct rt_join_handle h = rt_spawn(&child, sizeof(child));

        rt_join_detach(&h);
    }
    f->pause = test_yield(1, 0, NULL); /* one turn: the child runs, keeps its waker, requeues */
    AWAIT(&f->pause.future, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable queued_at_the_end_vtable = {queued_at_the_end_poll,
                                                                 rt_async_drop};

/*
 * A task still in the run queue when its executor is destroyed leaves the
 * queue as it is closed: a wake through a waker kept past the teardown must
 * be traced as what it is, a wake of a finished task, not "already queued"
 * (a queue that no longer exists). Nothing else shows the SCHEDULED bit
 * that destroy must clear as it empties the queue.
 */
START_TEST(trace_of_a_wake_after_teardown)
{
    static const struct expect want[] = {
        {"task 2 wake", "(it is done: nothing to do)"},
        {"task 2 free", NULL},
    };
    struct queued_at_the_end f = {.async = RT_ASYNC_INIT(&queued_at_the_end_vtable)};
    struct rt_executor *ex;

    trace_start(false);
    ex = test_executor();
    ck_assert_int_eq(rt_executor_run(ex, &f.async.future, sizeof(f)), 0);
    ck_assert(!rt_waker_is_empty(&kept_waker));
    rt_executor_destroy(ex);
    rt_waker_wake(&kept_waker); /* the task's last reference: it is freed */
    finish_with(want, N(want));
}
END_TEST

/* ------------------------------------------------------ phase 1: the JSON */

START_TEST(json_trace_is_valid)
{
    char *text;

    trace_start(true);
    run_parent();
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    /* A track per task, named; a slice per poll; an arrow (start and end) per spawn and wake. */
    /* Executor 1, task 1, task 2 (and from phase 3, the default task queue). */
    ck_assert_int_eq(count(text, "\"thread_name\""), PHASE >= 3 ? 4 : 3);
    ck_assert_int_eq(count(text, "{\"name\":\"task 2\"}"), 1);
    ck_assert_int_eq(count(text, "\"name\":\"poll: pending\""), 1);
    ck_assert_int_eq(count(text, "\"name\":\"poll: ready\""), 2);
    ck_assert_int_eq(count(text, "\"ph\":\"s\",\"name\":\"spawn\""), 2);
    ck_assert_int_eq(count(text, "\"ph\":\"s\",\"name\":\"wake\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"s\""), count(text, "\"ph\":\"f\""));
    ck_assert_int_eq(count(text, "\"ph\":\"B\""), count(text, "\"ph\":\"E\""));
    free(text);
}
END_TEST

#if PHASE >= 2
/* ------------------------------------ phase 2: a timeout cancels its recv */

/*
 * A recv that nothing will answer, under a 100 ms deadline: long enough
 * that the executor submits the recv and parks before it passes, even on
 * a loaded machine under TSan. A deadline that passed first would make
 * phase 3 fire its timer before it submits the recv: another trace.
 */
struct late_recv {
    struct rt_async async;
    int fd;
    char buf[16];
    struct rt_io recv;
    struct rt_timeout limit;
    intptr_t res;
};

static enum rt_poll late_recv_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct late_recv *f = (struct late_recv *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_recv(&f->recv, f->fd, f->buf, sizeof(f->buf));
    rt_timeout(&f->limit, &f->recv.future, 100 * 1000 * 1000);
    AWAIT(&f->limit.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable late_recv_vtable = {late_recv_poll, rt_async_drop};

static void run_late_recv(void)
{
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    struct late_recv f = {.async = RT_ASYNC_INIT(&late_recv_vtable), .fd = fds[0]};
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -ETIMEDOUT);
    close(fds[0]);
    close(fds[1]);
}

/* The index of the first event at or after `from` that is `what` with `detail` in it, or -1. */
static int find(const struct trace *tr, int from, const char *what, const char *detail)
{
    for (int i = from; i < tr->n; i++)
        if (strcmp(tr->ev[i].what, what) == 0 && strstr(tr->ev[i].detail, detail))
            return i;
    return -1;
}

START_TEST(trace_of_a_timeout_that_cancels_its_recv)
{
    static const struct expect want[] = {
        {"- create", NULL},
        {"- run", NULL},
        {"task 1 spawn", NULL},
        {"task 1 poll", NULL},
        {"req 1 queue", "RECV fd"}, /* queued by its first poll, not yet in the kernel */
#if PHASE >= 3
        {"timer 1 start", "100.000 ms"}, /* phase 3: a deadline in the executor's heap */
        {"task 1 pending", NULL},
        {"- submit", "1 request"}, /* the recv alone, with the system call that parks */
        {"timer 1 fire", NULL},
        {"task 1 wake", "by timer 1"}, /* woken by the executor's timer, not by a task */
#else
        {"req 2 queue", "TIMEOUT 100.000 ms"},
        {"task 1 pending", NULL},
        {"- submit", "2 requests"}, /* both, with one system call, after the tasks ran */
        {"req 2 done", "TIMEOUT -> -62"},
        {"task 1 wake", "by req 2"}, /* woken by the timer's completion, not by a task */
#endif
        {"task 1 poll", NULL},
        {"req 1 cancel", "RECV"}, /* the timeout drops the recv: it is cancelled at once */
        {"- submit", "1 request"},
        {"task 1 ready", "output -110"},
    };
    struct trace tr;
    char *text;
    int recv_done, cancel_done, freed;

    trace_start(false);
    run_late_recv();
    text = trace_finish();
    parse_text(text, &tr);
    check_events(&tr, 0, want, N(want));
    /*
     * The rest comes when the kernel posts the two completions that name the
     * recv (in either order; this turn, or at the latest when destroy waits
     * for them): the orphan is freed only after both.
     */
    recv_done = find(&tr, N(want), "req 1 done", "RECV -> -125");
    cancel_done = find(&tr, N(want), "req 1 done", "the cancel of its RECV");
    freed = find(&tr, N(want), "req 1 free", "orphan");
    ck_assert_int_ge(recv_done, 0);
    ck_assert_int_ge(cancel_done, 0);
    ck_assert_int_gt(freed, recv_done);
    ck_assert_int_gt(freed, cancel_done);
    ck_assert_int_ge(find(&tr, N(want), "task 1 free", ""), 0);
    ck_assert_str_eq(tr.ev[tr.n - 1].what, "- destroyed");
    free(text);
}
END_TEST

START_TEST(json_trace_of_io_is_valid)
{
    char *text;

    trace_start(true);
    run_late_recv();
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
#if PHASE >= 3
    /* The RECV is an async slice from queued to completed, and so is the heap timer's sleep. */
    ck_assert_int_eq(count(text, "\"ph\":\"b\",\"name\":\"RECV\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"e\",\"name\":\"RECV\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"b\",\"name\":\"sleep\",\"cat\":\"timer\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"e\",\"name\":\"sleep\",\"cat\":\"timer\""), 1);
    /*
     * The default queue ran in slices (a park is likely too, but not certain:
     * on a busy machine the 1 ms can pass before the executor looks for work).
     */
    ck_assert_int_ge(count(text, "\"name\":\"slice\""), 2);
    ck_assert_int_eq(count(text, "\"name\":\"parked\"") % 2, 0); /* B and E in pairs */
#else
    /* Each request is an async slice from queued to completed: a RECV and a TIMEOUT. */
    ck_assert_int_eq(count(text, "\"ph\":\"b\""), 2);
    ck_assert_int_eq(count(text, "\"ph\":\"e\""), 2);
    ck_assert_int_eq(count(text, "\"ph\":\"b\",\"name\":\"RECV\""), 1);
    /* The timer's completion handled as a slice, with the arrow to the poll it caused. */
    ck_assert_int_eq(count(text, "\"name\":\"TIMEOUT done\""), 1);
#endif
    ck_assert_int_eq(count(text, "\"ph\":\"s\",\"name\":\"wake\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"s\""), count(text, "\"ph\":\"f\""));
    ck_assert_int_eq(count(text, "\"ph\":\"B\""), count(text, "\"ph\":\"E\""));
    free(text);
}
END_TEST
#endif

#if PHASE >= 2
/* ------------------------------------ phase 2: an open that fails, and its path */

/* Opens `path` for reading; output: what the open gave (a descriptor, closed, or -errno). */
struct opener {
    struct rt_async async;
    const char *path;
    struct rt_io io;
    intptr_t res;
};

static enum rt_poll opener_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct opener *f = (struct opener *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_io_open(&f->io, f->path, O_RDONLY | O_CLOEXEC, 0);
    AWAIT(&f->io.future, &f->res);
    if (f->res >= 0)
        close((int)f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable opener_vtable = {opener_poll, rt_async_drop};

static void run_missing_open(const char *path)
{
    struct opener f = {.async = RT_ASYNC_INIT(&opener_vtable), .path = path};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), -ENOENT);
}

/*
 * The JSON string that starts at `p` (its opening quote), decoded into `out`
 * (NUL-terminated; escapes of ASCII only, all the trace needs). False if it
 * is not a string or does not fit.
 */
static bool json_decode(const char *p, char *out, size_t cap)
{
    static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    size_t n = 0;

    if (*p++ != '"')
        return false;
    for (; *p != '"'; p++) {
        char c = *p;
        unsigned u;

        if (c == '\0' || n + 1 >= cap)
            return false;
        if (c == '\\') {
            c = *++p;
            if (c == 'u') {
                if (sscanf(p + 1, "%4x", &u) != 1 || u >= 0x80)
                    return false;
                c = (char)u;
                p += 4;
            } else {
                const char *e = c ? strchr(escapes, c) : NULL;

                if (!e || (e - escapes) % 2 != 0)
                    return false;
                c = e[1];
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/*
 * A path may hold any byte but NUL, and the JSON trace quotes it: a
 * backslash, a double quote and control characters (here 0x01 and 0x1f, the
 * ends of the range JSON requires escaped, and a newline) must be escaped,
 * or the file is no longer JSON, or it is and names another path (an
 * unescaped "\b" reads as a backspace). The OPENAT's "what" must decode to
 * the path that was opened, byte for byte.
 */
START_TEST(json_trace_quotes_a_path)
{
    static const char path[] = "/nonexistent/a\\b\"c\x01\x1f\n";
    char *text, *at, got[128];

    trace_start(true);
    run_missing_open(path);
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    at = strstr(text, "\"ph\":\"b\",\"name\":\"OPENAT\"");
    ck_assert_msg(at != NULL, "no OPENAT in the trace:\n%s", text);
    at = strstr(at, "\"what\":");
    ck_assert_ptr_nonnull(at);
    ck_assert_msg(json_decode(at + 7, got, sizeof(got)), "the OPENAT's path: %.60s", at);
    ck_assert_str_eq(got, path);
    free(text);
}
END_TEST

/*
 * A request that fails shows its result as the kernel gave it, a negative
 * errno, and what that errno means: "-2 No such file or directory" for an
 * open of a path that does not exist, never the text of some other number.
 */
START_TEST(trace_of_a_failed_open_says_why)
{
    static const char want[] = "OPENAT -> -2 No such file or directory"; /* ENOENT */
    char *text;
    struct trace tr;
    int queued;

    trace_start(false);
    run_missing_open("/nonexistent/file");
    text = trace_finish();
    parse_text(text, &tr);
    queued = find(&tr, 0, "req 1 queue", "OPENAT /nonexistent/file");
    ck_assert_msg(queued >= 0, "no OPENAT queued:\n%s", text);
    ck_assert_msg(find(&tr, queued, "req 1 done", want) > queued, "no \"%s\" in:\n%s", want, text);
    free(text);
}
END_TEST
#endif

#if PHASE >= 3
/* --------------------------- phase 3: task queues, a yield, a park and a notify */

/* Yields once (the slice ends), then is ready with 7. */
struct yielder {
    struct rt_async async;
    struct rt_yield yield;
};

static enum rt_poll yielder_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct yielder *f = (struct yielder *)self;

    ASYNC_BEGIN(f, cx, out);
    rt_yield_now(&f->yield);
    AWAIT(&f->yield.future, NULL);
    ASYNC_RETURN(7);
    ASYNC_END;
}

static const struct rt_future_vtable yielder_vtable = {yielder_poll, rt_async_drop};

/* Another thread: sets the flag, then notifies the executor (in that order: see executor.h). */
struct notifier {
    struct rt_executor *ex;
    atomic_bool flag;
};

static void *notify_later(void *arg)
{
    struct notifier *n = arg;

    usleep(20000); /* the executor has most likely parked by now; either way is checked */
    atomic_store(&n->flag, true);
    rt_executor_notify(n->ex);
    return NULL;
}

static bool flag_set(void *arg)
{
    return atomic_load(&((struct notifier *)arg)->flag);
}

/* Main: a second queue with a task that yields; then wait for another thread's notify. */
struct scheduled {
    struct rt_async async;
    struct rt_join_handle child;
    struct notifier n;
    pthread_t thread;
    struct rt_wait_notify wait;
    intptr_t out;
};

static enum rt_poll scheduled_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct scheduled *f = (struct scheduled *)self;
    int queue;

    ASYNC_BEGIN(f, cx, out);
    queue = rt_task_queue_create(rt_executor_current(), "batch", 500, 0);
    ck_assert_int_eq(queue, 1);
    {
        struct yielder y = {.async = RT_ASYNC_INIT(&yielder_vtable)};
        ck_assert_int_eq(rt_spawn_into(queue, &y.async.future, sizeof(y), &f->child), 0);
    }
    AWAIT(&f->child.future, &f->out);
    ck_assert_int_eq(f->out, 7);

    f->n.ex = rt_executor_current();
    atomic_init(&f->n.flag, false);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, notify_later, &f->n), 0);
    rt_wait_notify(&f->wait, flag_set, &f->n);
    AWAIT(&f->wait.future, NULL);
    pthread_join(f->thread, NULL);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable scheduled_vtable = {scheduled_poll, rt_async_drop};

START_TEST(trace_of_queues_a_yield_a_park_and_a_notify)
{
    static const struct expect want[] = {
        {"- create", NULL},
        {"queue 0 new", "default: 1000 shares"},
        {"- run", NULL},
        {"task 1 spawn", NULL},
        {"queue 0 slice", "default"},
        {"task 1 poll", NULL},
        {"queue 1 new", "batch: 500 shares"},
        {"task 2 spawn", "by task 1"},
        {"task 1 pending", NULL}, /* awaiting task 2's handle */
        {"queue 0 charge", NULL}, /* no task of its is ready: its slice is over */
        {"queue 1 slice", "batch"},
        {"task 2 poll", NULL},
        {"task 2 wake", "by task 2"}, /* rt_yield_now wakes itself ... */
        {"task 2 pending", NULL},
        {"queue 1 charge", NULL}, /* ... and ends the slice */
        {"queue 1 slice", "batch"},
        {"task 2 poll", NULL},
        {"task 2 ready", "output 7"},
        {"task 1 wake", "by task 2"},
        {"queue 1 charge", NULL},
        {"queue 0 slice", "default"},
        {"task 1 poll", NULL},
        {"task 2 free", NULL},    /* its handle awaited to the end: the last reference */
        {"task 1 pending", NULL}, /* waiting for the other thread */
        {"queue 0 charge", NULL},
    };
    struct scheduled f = {.async = RT_ASYNC_INIT(&scheduled_vtable)};
    struct trace tr;
    char *text;
    int notify, wake;

    trace_start(false);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
    text = trace_finish();
    parse_text_all(text, &tr, true);
    check_events(&tr, 0, want, N(want));
    notify = find(&tr, N(want), "- notify", "");
    ck_assert_int_ge(notify, 0);
    if (strstr(tr.ev[notify].detail, "it sleeps")) { /* in the ring or on its futex */
        /* It slept: parked before the notify, woke after it. */
        ck_assert_int_ge(find(&tr, N(want), "- park", ""), 0);
        ck_assert_int_lt(find(&tr, N(want), "- park", ""), notify);
        ck_assert_int_gt(find(&tr, N(want), "- unpark", ""), notify);
    } else {
        ck_assert_msg(strstr(tr.ev[notify].detail, "awake"), "notify: %s", tr.ev[notify].detail);
    }
    /* The executor takes the notification and wakes the task waiting for it. */
    wake = find(&tr, notify, "task 1 wake", "by executor 1");
    ck_assert_int_gt(wake, notify);
    ck_assert_int_gt(find(&tr, wake, "task 1 ready", "output 0"), wake);
    free(text);
}
END_TEST
#endif

#if PHASE >= 4
/* --------------------------------------- phase 4: messages through a channel */

/* Receives until the end of the channel; output: how many messages. */
struct drain {
    struct rt_async async;
    struct rt_channel *ch;
    struct rt_channel_recv recv;
    uint64_t msg;
    intptr_t got, count;
};

static enum rt_poll drain_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct drain *f = (struct drain *)self;

    ASYNC_BEGIN(f, cx, out);
    for (;;) {
        rt_channel_recv(&f->recv, f->ch, &f->msg);
        AWAIT(&f->recv.async.future, &f->got);
        if (!f->got)
            break;
        f->count++;
    }
    rt_channel_close_rx(f->ch);
    ASYNC_RETURN(f->count);
    ASYNC_END;
}

static const struct rt_future_vtable drain_vtable = {drain_poll, rt_async_drop};

/* Main: spawns the receiver, sends two messages, closes, and awaits the count. */
struct two_messages {
    struct rt_async async;
    struct rt_channel *ch;
    struct rt_join_handle receiver;
    struct rt_channel_send send;
    uint64_t msg;
    intptr_t res;
};

static enum rt_poll two_messages_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct two_messages *f = (struct two_messages *)self;

    ASYNC_BEGIN(f, cx, out);
    {
        struct drain d = {.async = RT_ASYNC_INIT(&drain_vtable), .ch = f->ch};
        f->receiver = rt_spawn(&d.async.future, sizeof(d));
    }
    for (f->msg = 10; f->msg < 12; f->msg++) {
        rt_channel_send(&f->send, f->ch, &f->msg);
        AWAIT(&f->send.async.future, &f->res);
        ck_assert_int_eq(f->res, 0);
    }
    rt_channel_close_tx(f->ch);
    AWAIT(&f->receiver.future, &f->res);
    ASYNC_RETURN(f->res);
    ASYNC_END;
}

static const struct rt_future_vtable two_messages_vtable = {two_messages_poll, rt_async_drop};

static void run_two_messages(void)
{
    struct two_messages f = {.async = RT_ASYNC_INIT(&two_messages_vtable)};

    /*
     * 64 slots, so a batch of 16 (channel.c): the second message of each
     * side is one that the send's and the receive's shortcut would take if
     * nothing were traced, and the trace must show it all the same.
     */
    ck_assert_int_eq(rt_channel_create(64, sizeof(uint64_t), &f.ch), 0);
    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 2);
}

START_TEST(trace_of_messages_through_a_channel)
{
    static const struct expect want[] = {
        {"chan 1 new", "64 slots of 8 bytes"},   {"chan 1 send", "message 0, by task 1"},
        {"chan 1 send", "message 1, by task 1"}, {"chan 1 close", "sending"},
        {"chan 1 recv", "message 0, by task 2"}, {"chan 1 recv", "message 1, by task 2"},
        {"chan 1 close", "receiving"},
    };
    struct trace tr;
    char *text;
    int at = 0;

    trace_start(false);
    run_two_messages();
    text = trace_finish();
    parse_text(text, &tr);
    /* The channel's events, in this order, among the tasks' and the executor's. */
    for (size_t i = 0; i < N(want); i++) {
        at = find(&tr, at, want[i].what, want[i].detail);
        ck_assert_msg(at >= 0, "no \"%s %s\" in its place", want[i].what, want[i].detail);
        at++;
    }
    free(text);
}
END_TEST

START_TEST(json_messages_are_arrows)
{
    char *text;

    trace_start(true);
    run_two_messages();
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    /* Each message an arrow: a start where it was sent, an end where it was received. */
    ck_assert_int_eq(count(text, "\"ph\":\"s\",\"name\":\"message\""), 2);
    ck_assert_int_eq(count(text, "\"ph\":\"f\",\"name\":\"message\""), 2);
    free(text);
}
END_TEST
#endif

/* ------------------------------------- the sink itself, event by event */

/*
 * The tests above run programs; these call the trace's entry points
 * directly, in an order a program could take, so that each "by ..." and
 * each field has exactly one right answer. A wake is by whoever runs at
 * that moment: the executor between two polls, the completion being
 * handled until its done_end, and nobody once the executor has returned.
 */
START_TEST(the_text_trace_says_who_did_it)
{
    static const struct expect want[] = {
        {"- run", NULL},
        {"task 5 poll", NULL},
        {"task 5 pending", NULL},
        {"task 6 wake", "by executor 1"}, /* the poll is over: the executor again */
        {"req 9 done", "RECV -> 3"},
        {"task 6 wake", "by req 9"},
        {"task 6 wake", "by executor 1"}, /* after done_end: back to the executor */
        {"task 6 cancel", "by executor 1 (in its own poll"},
        {"- submit", "2 requests, one system call"},
        {"- submit", "1 of 3 requests, one system call"},
        {"- return", "output 0"},
        {"task 6 wake", "by code outside any executor (late)"},
    };
    char *text, *last, exec[16];
    struct trace tr;
    unsigned ex;
    double us;

    trace_start(false);
    ex = rt__trace_executor_new(-1);
    ck_assert_uint_eq(ex, 1);
    rt__trace_run(ex);
    rt__trace_poll(5);
    rt__trace_polled(5, false, 0);
    rt__trace_poll_end(5);
    rt__trace_wake(6, NULL);
    rt__trace_done(9, "RECV", false, 3);
    rt__trace_wake(6, NULL);
    rt__trace_done_end();
    rt__trace_wake(6, NULL);
    rt__trace_cancel(6, true);
    rt__trace_submit(2, 2);
    rt__trace_submit(3, 1);
    rt__trace_run_end(ex, 0);
    rt__trace_wake(6, "late");
    text = trace_finish();
    parse_text(text, &tr);
    ck_assert_int_eq(tr.n, N(want) + 1); /* and the executor's "create" line first */
    check_events(&tr, 1, want, N(want));
    /* No line ends in a blank, not even one whose detail is empty ("task 5 poll"). */
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        ck_assert_msg(p == text || p[-1] != ' ', "a line ends in a blank:\n%s", text);
    /* The last wake came after the executor returned: its executor column is "-". */
    text[strlen(text) - 1] = '\0';
    last = strrchr(text, '\n') + 1;
    ck_assert_int_eq(sscanf(last, "%lf %15s", &us, exec), 2);
    ck_assert_msg(strcmp(exec, "-") == 0, "after the run, the executor is \"%s\": %s", exec, last);
    free(text);
}
END_TEST

/* The number after `"field":` in the first JSON event at or after `at`. */
static double json_field(const char *at, const char *field)
{
    char key[32];
    const char *p;

    snprintf(key, sizeof(key), "\"%s\":", field);
    p = strstr(at, key);
    ck_assert_msg(p != NULL, "no %s after: %.80s", key, at);
    return strtod(p + strlen(key), NULL);
}

/*
 * In JSON: a wake with a note is an instant on the executor's track named
 * with its note, not an arrow; "cancelled" is an instant on the task's own
 * track; and "ts" and "dur" are in the same unit (microseconds), so a poll
 * slice ends no later than the event that followed it. That last check
 * compares two readings of the monotonic clock, taken in order; it holds
 * however fast or slow the machine is.
 */
START_TEST(json_notes_tracks_and_units)
{
    char *text, *at;
    unsigned ex;
    unsigned long task;
    double end_of_poll, returned;

    trace_start(true);
    ex = rt__trace_executor_new(-1);
    rt__trace_run(ex);
    task = rt__trace_spawn(16);
    rt__trace_wake(task, "a note");
    rt__trace_poll(task);
    rt__trace_polled(task, false, 0);
    rt__trace_poll_end(task);
    rt__trace_cancel(task, false);
    rt__trace_run_end(ex, 0);
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    ck_assert_int_eq(count(text, "\"name\":\"wake task 1 by executor 1: a note\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"s\",\"name\":\"wake\""), 0);
    at = strstr(text, "\"name\":\"cancelled\"");
    ck_assert_msg(at != NULL, "no cancelled instant:\n%s", text);
    ck_assert_msg(json_field(at, "tid") == (double)task,
                  "cancelled is not on task %lu's track:\n%s", task, text);
    at = strstr(text, "\"ph\":\"X\"");
    ck_assert_msg(at != NULL, "no poll slice:\n%s", text);
    end_of_poll = json_field(at, "ts") + json_field(at, "dur");
    at = strstr(text, "\"ph\":\"E\",\"name\":\"return\"");
    ck_assert_msg(at != NULL, "no return:\n%s", text);
    returned = json_field(at, "ts");
    /* Each is printed to 0.001 us: allow the two roundings. */
    ck_assert_msg(end_of_poll <= returned + 0.002,
                  "the poll ends at %.3f us, after the return at %.3f us", end_of_poll, returned);
    free(text);
}
END_TEST

/* Opening and closing a trace leaves no file descriptor behind. */
START_TEST(closing_a_trace_closes_its_file)
{
    int before = test_fd_count();

    trace_start(false);
    rt__trace_executor_new(-1);
    free(trace_finish());
    ck_assert_int_eq(test_fd_count(), before);
}
END_TEST

/*
 * A child made by fork() while a trace is open gets a copy of the trace's
 * FILE; it must write neither the parent's buffered events again nor
 * events of its own into its parent's file, even if it closes the trace
 * and ends with exit(), which flushes every stream the child has.
 */
START_TEST(a_forked_child_writes_nothing_into_the_trace)
{
    char *text;
    pid_t pid;
    int status;

    trace_start(true);
    rt__trace_executor_new(-1); /* still in the parent's buffer at the fork */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rt__trace_run(1);
        rt__trace_close();
        exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    text = trace_finish();
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    ck_assert_int_eq(count(text, "\"process_name\""), 1);
    ck_assert_int_eq(count(text, "\"ph\":\"B\""), 0); /* the child's run */
    free(text);
}
END_TEST

/* rt__die() ends a JSON trace as valid JSON before it aborts (abort() runs no atexit handler). */
static void die_while_tracing(void *path)
{
    ck_assert_int_eq(rt__trace_open(path, true), 0);
    rt__trace_run(rt__trace_executor_new(-1));
    rt__die("on purpose, with a trace open");
}

START_TEST(a_fatal_error_ends_the_json_trace)
{
    char *text;
    int fd;

    snprintf(trace_path, sizeof(trace_path), "/tmp/rt-test-trace-XXXXXX");
    fd = mkstemp(trace_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    test_expect_die(die_while_tracing, trace_path, "on purpose, with a trace open");
    text = trace_finish(); /* no trace is open here: it only reads the file */
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    ck_assert_int_eq(count(text, "\"ph\":\"B\",\"name\":\"run\""), 1);
    free(text);
}
END_TEST

/*
 * RT_TRACE as a user sets it, on a program of this phase: a path ending in
 * ".json" gets a JSON trace; "1" a text trace on standard error; "0" no
 * trace at all; and a path that cannot be written a message saying so,
 * while the program still runs.
 */
START_TEST(rt_trace_in_the_environment)
{
    const char *const argv[] = {"hello", NULL};
    struct test_program r;
    char json[80];
    char *text;

    snprintf(json, sizeof(json), "/tmp/rt-test-trace-%ld.json", (long)getpid());
    unlink(json);
    ck_assert_int_eq(setenv("RT_TRACE", json, 1), 0);
    test_run_built("examples/hello", argv, false, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.err, "time_us") == NULL, "a text trace on stderr:\n%s", r.err);
    text = read_and_remove(json);
    ck_assert_msg(json_is_array(text), "the trace is not one JSON array:\n%s", text);
    ck_assert_int_eq(count(text, "\"ph\":\"B\",\"name\":\"run\""), 1);
    free(text);

    ck_assert_int_eq(setenv("RT_TRACE", "1", 1), 0);
    test_run_built("examples/hello", argv, false, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.err, "#  time_us") != NULL, "no text trace on stderr:\n%s", r.err);
    ck_assert_msg(strstr(r.err, " run") != NULL, "no run in the trace:\n%s", r.err);

    ck_assert_int_eq(setenv("RT_TRACE", "0", 1), 0);
    test_run_built("examples/hello", argv, false, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");

    ck_assert_int_eq(setenv("RT_TRACE", "/nonexistent/dir/t.json", 1), 0);
    test_run_built("examples/hello", argv, false, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.err, "RT_TRACE=/nonexistent/dir/t.json: cannot write the trace there") !=
                      NULL,
                  "stderr: %s", r.err);
    ck_assert_msg(strstr(r.out, "hello") != NULL, "the program did not run: %s", r.out);
    unsetenv("RT_TRACE");
}
END_TEST

Suite *suite_trace(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = test_case("trace");

    tcase_add_test(tc, json_parser_rejects_what_is_not_json);
    tcase_add_test(tc, trace_of_a_spawn_and_join);
    tcase_add_test(tc, trace_of_a_cancellation);
    tcase_add_test(tc, trace_of_a_teardown);
    tcase_add_test(tc, trace_of_a_wake_after_teardown);
    tcase_add_test(tc, json_trace_is_valid);
#if PHASE >= 2
    tcase_add_test(tc, trace_of_a_timeout_that_cancels_its_recv);
    tcase_add_test(tc, json_trace_of_io_is_valid);
    tcase_add_test(tc, json_trace_quotes_a_path);
    tcase_add_test(tc, trace_of_a_failed_open_says_why);
#endif
#if PHASE >= 3
    tcase_add_test(tc, trace_of_queues_a_yield_a_park_and_a_notify);
#endif
#if PHASE >= 4
    tcase_add_test(tc, trace_of_messages_through_a_channel);
    tcase_add_test(tc, json_messages_are_arrows);
#endif
    tcase_add_test(tc, the_text_trace_says_who_did_it);
    tcase_add_test(tc, json_notes_tracks_and_units);
    tcase_add_test(tc, closing_a_trace_closes_its_file);
    tcase_add_test(tc, a_forked_child_writes_nothing_into_the_trace);
    tcase_add_test(tc, a_fatal_error_ends_the_json_trace);
    tcase_add_test(tc, rt_trace_in_the_environment);
    suite_add_tcase(s, tc);
    return s;
}
