/*
 * pinned.c - thread-per-core: one executor per CPU this process may use,
 * each on its own thread pinned to that CPU.
 *
 * Every executor runs a future that asks the kernel where it is running
 * (sched_getcpu()) and what its thread is called. Then the program asks for
 * a CPU that does not exist, to show the error that comes back.
 *
 * Run: make phase1 && build/phase1/examples/pinned
 */
/* sched_getaffinity, sched_getcpu, the CPU_* macros and pthread_getname_np are GNU extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/args.h"
#include "rt.h"

/* Returns the CPU it ran on, and writes its thread's name to `name`. */
struct where_am_i {
    struct rt_future future;
    char *name; /* 16 bytes in main(), read only after rt_thread_join(), which orders the two */
};

static enum rt_poll where_am_i_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct where_am_i *f = (struct where_am_i *)self;

    (void)cx;
    pthread_getname_np(pthread_self(), f->name, 16);
    *out = sched_getcpu();
    return RT_READY;
}

static const struct rt_future_vtable where_am_i_vtable = {.poll = where_am_i_poll};

/* One executor thread, as main() keeps track of it. */
struct executor_thread {
    int cpu;                  /* the CPU it was pinned to */
    struct rt_thread *thread; /* to join */
    char name[16];            /* its name, as the thread itself reported it */
};

/* Print a CPU set the way taskset and /proc do: "0-3,6". */
static void print_cpus(const cpu_set_t *set)
{
    const char *sep = "";

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        int last = cpu;

        if (!CPU_ISSET(cpu, set))
            continue;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set))
            last++;
        printf("%s%d", sep, cpu);
        if (last > cpu)
            printf("-%d", last);
        sep = ",";
        cpu = last;
    }
}

/* Ask for a CPU past the last one there is: the builder refuses it, in the caller. */
static int show_bad_cpu(const cpu_set_t *allowed)
{
    struct rt_builder b = RT_BUILDER_INIT;
    struct rt_future f = {&where_am_i_vtable}; /* never runs */
    struct rt_thread *t;
    int err;

    b.cpu = (int)sysconf(_SC_NPROCESSORS_CONF); /* CPUs count from 0: this one is missing */
    err = rt_builder_spawn(&b, &f, sizeof(f), &t);
    if (err == 0) {
        rt_thread_join(t, NULL);
        printf("CPU %d exists after all; expected it not to\n", b.cpu);
        return -1;
    }
    printf("rt_builder_spawn on CPU %d: %d (%s): %s; this process may only use CPUs ", b.cpu, err,
           strerror(-err), rt_last_error());
    print_cpus(allowed);
    printf("\n");
    return err == -EINVAL ? 0 : -1;
}

int main(int argc, char **argv)
{
    cpu_set_t allowed;
    struct executor_thread *threads;
    int n = 0, failed = 0;

    if (argc > 1)
        return args_none(argc, argv, "one executor per usable CPU, on a thread pinned to it");
    /* Not every CPU of the machine: only those our cpuset or taskset leaves us. */
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
        perror("sched_getaffinity");
        return 1;
    }
    threads = calloc((size_t)CPU_COUNT(&allowed), sizeof(*threads));
    if (!threads)
        return 1;

    /* Start them all before joining any, so the executors really run side by side. */
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        struct rt_builder b = RT_BUILDER_INIT;
        char name[16];
        struct where_am_i f = {{&where_am_i_vtable}, threads[n].name};
        int err;

        if (!CPU_ISSET(cpu, &allowed))
            continue;
        snprintf(name, sizeof(name), "rt-cpu-%d", cpu);
        b.cpu = cpu;
        b.name = name; /* copied by rt_builder_spawn, so a local buffer will do */
        err = rt_builder_spawn(&b, &f.future, sizeof(f), &threads[n].thread);
        if (err < 0) {
            fprintf(stderr, "rt_builder_spawn on CPU %d: %s\n", cpu, rt_last_error());
            failed = 1;
            break; /* still join the ones already started */
        }
        threads[n++].cpu = cpu;
    }

    for (int i = 0; i < n; i++) {
        intptr_t ran_on = -1;
        int err = rt_thread_join(threads[i].thread, &ran_on);

        if (err < 0) {
            /* The executor's thread said why; rt_thread_join() passed it on to this one. */
            fprintf(stderr, "executor for CPU %d: %s (%s)\n", threads[i].cpu, rt_last_error(),
                    strerror(-err));
            failed = 1;
            continue;
        }
        printf("executor for CPU %d ran on CPU %ld (thread \"%s\")\n", threads[i].cpu, (long)ran_on,
               threads[i].name);
        if (ran_on != threads[i].cpu)
            failed = 1;
    }
    free(threads);

    if (show_bad_cpu(&allowed) < 0)
        failed = 1;
    return failed;
}
