/*
 * thread.c - executors on threads of their own, pinned to a CPU.
 *
 * CPU affinity is not in POSIX: cpu_set_t, pthread_attr_setaffinity_np and
 * pthread_setname_np are GNU extensions, hence _GNU_SOURCE in this file only.
 */
#define _GNU_SOURCE
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fatal.h"
#include "task.h"

struct rt_thread {
    pthread_t thread;          /* the thread itself */
    struct rt_builder builder; /* how to make its executor */
    char name[16];             /* the thread's name: Linux keeps 15 bytes and a NUL */
    int error;                 /* 0, or why the executor could not be created */
    char why[512];             /* and the thread's rt_last_error() then, for the joiner */
    intptr_t output;           /* the future's output, once joined */
    size_t size;               /* bytes of future below */
    alignas(max_align_t) unsigned char future[]; /* the future to run, copied in */
};

/* Say in rt_last_error() that `cpu` was refused, and return `err`. */
static int cpu_refused(int cpu, int err)
{
    rt__set_last_error("CPU %d does not exist or this process may not use it", cpu);
    return err;
}

/* A set holding only `cpu`; -EINVAL if `cpu` cannot be in a cpu_set_t at all. */
static int cpu_set_of(int cpu, cpu_set_t *set)
{
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -EINVAL;
    CPU_ZERO(set);
    CPU_SET(cpu, set);
    return 0;
}

int rt_pin_current_thread(int cpu)
{
    cpu_set_t set;
    int err = cpu_set_of(cpu, &set);

    if (err == 0) {
        /* EINVAL from the kernel: that CPU does not exist, is offline, or is outside our cpuset. */
        err = -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    if (err < 0)
        return cpu_refused(cpu, err);
    rt__set_last_error("%s", ""); /* rt_last_error(): "" once it succeeded */
    return 0;
}

static void *executor_thread(void *arg)
{
    struct rt_thread *t = arg;
    struct rt_executor *ex;

    pthread_setname_np(pthread_self(), t->name);
    t->error = rt_executor_create(&t->builder, &ex);
    if (t->error < 0) {
        /* rt_last_error() is this thread's and ends with it: keep a copy for rt_thread_join(). */
        snprintf(t->why, sizeof(t->why), "%s", rt_last_error());
        /* The future will never run: release what it holds. */
        rt_future_drop((struct rt_future *)t->future);
        return NULL;
    }
    t->output = rt_executor_run(ex, (const struct rt_future *)t->future, t->size);
    rt_executor_destroy(ex);
    return NULL;
}

int rt_builder_spawn(const struct rt_builder *b, const struct rt_future *f, size_t size,
                     struct rt_thread **out)
{
    const struct rt_builder defaults = RT_BUILDER_INIT;
    pthread_attr_t attr;
    cpu_set_t set;
    struct rt_thread *t;
    int err;

    ASSERT_ARG(f);
    ASSERT_ARG(out);
    /* Only a bug makes a size this large (a negative number?); the sum below would wrap around. */
    if (size > SIZE_MAX - sizeof(*t))
        rt__die("rt_builder_spawn: a future of %zu bytes cannot be copied (the size overflows)",
                size);
    rt__task_check_future("rt_builder_spawn", f, size);
    if (!b)
        b = &defaults;
    t = rt__calloc(1, sizeof(*t) + size);
    t->builder = *b;
    snprintf(t->name, sizeof(t->name), "%s", b->name ? b->name : "rt-executor");
    t->size = size;
    memcpy(t->future, f, size);

    pthread_attr_init(&attr);
    if (b->cpu != RT_CPU_ANY) {
        /*
         * Pin at creation, so that a bad CPU fails here, in the caller, and
         * the thread never runs a single instruction anywhere else.
         */
        err = cpu_set_of(b->cpu, &set);
        if (err == 0)
            err = -pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
        if (err < 0)
            goto fail;
        t->builder.cpu = RT_CPU_ANY; /* already pinned: the executor need not pin again */
    }
    err = -pthread_create(&t->thread, &attr, executor_thread, t);
    if (err < 0)
        goto fail;
    pthread_attr_destroy(&attr);
    rt__set_last_error("%s", "");
    *out = t;
    return 0;

fail:
    /* EINVAL with a CPU: a bad number, or one the kernel refused when pthread_create applied it. */
    if (err == -EINVAL && b->cpu != RT_CPU_ANY)
        cpu_refused(b->cpu, err);
    else
        rt__set_last_error("no thread could be started: %s", strerror(-err));
    pthread_attr_destroy(&attr);
    /* The future will never run: release what it holds. */
    rt_future_drop((struct rt_future *)t->future);
    rt__free(t);
    return err;
}

int rt_thread_join(struct rt_thread *t, intptr_t *out)
{
    int err;

    ASSERT_ARG(t);
    pthread_join(t->thread, NULL);
    err = t->error;
    rt__set_last_error("%s", t->why); /* "" if the executor was made */
    if (out)
        *out = t->output;
    rt__free(t);
    return err;
}
