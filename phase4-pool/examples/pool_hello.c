/*
 * pool_hello.c - a pool of executors, one per CPU, each saying where it runs;
 * and where each placement would put them on a machine you do not have.
 *
 * On this machine (no --sysfs-root): start a pool with the placement asked
 * for. Each shard's main future writes down its index, the CPU it is running
 * on, the CPUs it may run on and its thread's name; main() prints them after
 * the join, in shard order (printing from the shards would interleave).
 *
 * With --sysfs-root DIR: read the topology from DIR instead of /sys (the
 * fake machines under tests/fixtures/topology/), and print the machine with
 * the shard each CPU would get, without starting anything: those CPUs do not
 * exist here, so a thread could not be pinned to them. The plan is what the
 * pool computes first (rt_placement_plan), so it is exactly where rt_pool_start
 * would put the shards on that machine. On a fake machine every CPU counts
 * as allowed, as if this process's affinity mask held them all; --allowed
 * plays taskset.
 *
 * Run: make phase4 && build/phase4/examples/pool_hello [--placement
 * unbound|fenced|spread|pack|custom]
 *        [--shards N] [--cpus LIST (the fence, or the custom list)] [--sysfs-root DIR]
 *        [--allowed LIST]
 *      e.g. --sysfs-root tests/fixtures/topology/2s2n_smt --shards 4 --placement spread
 *      and the same with --placement pack: max-spread against max-pack on two sockets.
 */
#define _GNU_SOURCE /* sched_getcpu(), sched_getaffinity(), CPU_* and pthread_getname_np() */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "rt.h"

#define MAX_SHARDS 1024
#define MAX_CPUS   CPU_SETSIZE /* CPUs 0 to MAX_CPUS - 1, as placement.c takes them */

/* What one shard says about itself; each shard writes only its own, main() reads after the join. */
struct hello {
    int cpu;         /* where it was running when asked */
    cpu_set_t may;   /* where it may run */
    char thread[16]; /* its thread's name */
};

struct say_hello {
    struct rt_future future;
    struct hello *hello;
};

static enum rt_poll say_hello_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct hello *h = ((struct say_hello *)self)->hello;

    (void)cx;
    h->cpu = sched_getcpu();
    sched_getaffinity(0, sizeof(h->may), &h->may);
    pthread_getname_np(pthread_self(), h->thread, sizeof(h->thread));
    *out = rt_shard_id();
    return RT_READY;
}

static const struct rt_future_vtable say_hello_vtable = {.poll = say_hello_poll};

static size_t make_hello(unsigned shard, void *arg, void *buf)
{
    struct say_hello f = {.future = {&say_hello_vtable}, .hello = (struct hello *)arg + shard};

    memcpy(buf, &f, sizeof(f));
    return sizeof(f);
}

/* ------------------------------------------------------------ printing */

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
        printf(last == cpu ? "%s%d" : "%s%d-%d", sep, cpu, last);
        sep = ",";
        cpu = last;
    }
}

/*
 * One CPU number of a list, at `s`: digits only (strtol alone would skip
 * blanks and take a sign), from 0 to MAX_CPUS - 1, so it cannot wrap when
 * stored in an int. Returns it and sets *end past it, or returns -1.
 */
static long parse_cpu(const char *s, char **end)
{
    long cpu;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    cpu = strtol(s, end, 10);
    return errno == ERANGE || cpu >= MAX_CPUS ? -1 : cpu;
}

/*
 * Parse "0-3,6" into `out`; returns how many CPUs, or -1. An empty item
 * ("1,", "0,,1") is refused.
 */
static int parse_cpus(const char *s, int *out, int max)
{
    int n = 0;

    while (*s) {
        char *end;
        long lo = parse_cpu(s, &end), hi = lo;

        if (lo < 0)
            return -1;
        if (*end == '-') {
            hi = parse_cpu(end + 1, &end);
            if (hi < lo)
                return -1;
        }
        for (long c = lo; c <= hi; c++) {
            if (n == max)
                return -1;
            out[n++] = (int)c;
        }
        if (*end == ',' && end[1] == '\0')
            return -1; /* a list that ends with a comma: an empty last item */
        if (*end && *end != ',')
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int by_place(const void *a, const void *b)
{
    const struct rt_cpu_info *x = a, *y = b;

    if (x->node != y->node)
        return x->node - y->node;
    if (x->package != y->package)
        return x->package - y->package;
    if (x->core != y->core)
        return x->core - y->core;
    return x->cpu - y->cpu;
}

/* "(shard 3)", or "(shard 1,5)" when several share the CPU, "(fence)" for a CPU of a fence, or
 * "(-)". */
static void print_shards_on(const struct rt_placement *p, int cpu, unsigned shards, const int *plan)
{
    const char *sep = "(shard ";

    for (size_t i = 0; p->kind == RT_PLACEMENT_FENCED && i < p->ncpus; i++) {
        if (p->cpus[i] == cpu) {
            printf("(fence)");
            return;
        }
    }

    for (unsigned k = 0; k < shards; k++) {
        if (plan[k] == cpu) {
            printf("%s%u", sep, k);
            sep = ",";
        }
    }
    printf("%s", sep[0] == '(' ? "(-)" : ")");
}

/* The machine as nodes, packages and cores, each CPU with the shards the plan puts on it. */
static void print_plan(const struct rt_placement *p, unsigned shards, const int *plan)
{
    static struct rt_cpu_info cpus[MAX_CPUS];
    char why[PATH_MAX + 256]; /* the message names a path under --sysfs-root */
    int n = rt_topology_read(p, cpus, MAX_CPUS, why, sizeof(why));

    qsort(cpus, (size_t)(n > 0 ? n : 0), sizeof(cpus[0]), by_place);
    for (int i = 0; i < n; i++) {
        const struct rt_cpu_info *c = &cpus[i], *prev = i > 0 ? &cpus[i - 1] : NULL;
        bool new_package = !prev || c->node != prev->node || c->package != prev->package;

        if (new_package)
            printf("  node %d, package %d\n", c->node, c->package);
        if (new_package || c->core != prev->core)
            printf("    core %d:", c->core);
        printf("  cpu %2d ", c->cpu);
        print_shards_on(p, c->cpu, shards, plan);
        if (i + 1 == n || cpus[i + 1].core != c->core || cpus[i + 1].package != c->package)
            printf("\n");
    }
}

/* ------------------------------------------------------------ main */

static int usage(const char *prog, int status)
{
    fprintf(args_usage_to(status),
            "usage: %s [--placement unbound|fenced|spread|pack|custom] [--shards N]\n"
            "          [--cpus LIST] [--sysfs-root DIR] [--allowed LIST]\n",
            prog);
    return status;
}

/* Say on stderr why a CPU list was refused; returns false, for main()'s `ok`. */
static bool bad_cpu_list(const char *opt, const char *val)
{
    fprintf(stderr, "pool_hello: %s %s: not a list of up to %d CPUs from 0 to %d, such as 0-3,6\n",
            opt, val, MAX_CPUS, MAX_CPUS - 1);
    return false;
}

static int kind_of(const char *name)
{
    for (int k = RT_PLACEMENT_UNBOUND; k <= RT_PLACEMENT_CUSTOM; k++)
        if (strcmp(name, rt_placement_name((enum rt_placement_kind)k)) == 0)
            return k;
    fprintf(stderr, "pool_hello: no placement is called \"%s\"\n", name);
    return -1;
}

int main(int argc, char **argv)
{
    static int cpus[MAX_CPUS], allowed[MAX_CPUS], plan[MAX_SHARDS];
    static struct hello hello[MAX_SHARDS];
    struct rt_pool_builder b = RT_POOL_BUILDER_INIT;
    struct rt_placement *p = &b.placement;
    struct rt_pool *pool;
    char why[PATH_MAX + 256]; /* the message names a path under --sysfs-root */
    int ncpus = -1, nallowed = -1, kind = RT_PLACEMENT_SPREAD, n, err;
    long shards = 0; /* 0: not given */

    if (args_help(argc, argv))
        return usage(argv[0], 0);
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = val != NULL;

        if (!ok)
            ;
        else if (strcmp(opt, "--placement") == 0)
            ok = (kind = kind_of(val)) >= 0;
        else if (strcmp(opt, "--shards") == 0)
            ok = args_number("pool_hello", opt, val, 1, MAX_SHARDS, &shards);
        else if (strcmp(opt, "--cpus") == 0)
            ok = (ncpus = parse_cpus(val, cpus, MAX_CPUS)) > 0 || bad_cpu_list(opt, val);
        else if (strcmp(opt, "--allowed") == 0)
            ok = (nallowed = parse_cpus(val, allowed, MAX_CPUS)) >= 0 || bad_cpu_list(opt, val);
        else if (strcmp(opt, "--sysfs-root") == 0)
            p->sysfs_root = val;
        else
            ok = false;
        if (!ok)
            return usage(argv[0], 2);
    }
    p->kind = (enum rt_placement_kind)kind;
    b.shards = (unsigned)shards;
    if (ncpus > 0) {
        p->cpus = cpus;
        p->ncpus = (size_t)ncpus;
    }
    if (p->sysfs_root && nallowed < 0) {
        /* A fake machine's CPUs are none of ours: count them all as allowed. */
        for (nallowed = 0; nallowed < MAX_CPUS; nallowed++)
            allowed[nallowed] = nallowed;
    }
    if (nallowed >= 0) {
        p->allowed = allowed;
        p->nallowed = (size_t)nallowed;
    }
    if ((kind == RT_PLACEMENT_FENCED || kind == RT_PLACEMENT_CUSTOM) && ncpus <= 0) {
        fprintf(stderr, "pool_hello: a %s placement needs --cpus LIST\n",
                rt_placement_name(p->kind));
        return 2;
    }
    if (b.shards == 0) {
        /* One per CPU, as the pool would choose; read here to print the plan too. */
        n = kind == RT_PLACEMENT_CUSTOM || kind == RT_PLACEMENT_FENCED
                ? ncpus
                : rt_topology_read(p, NULL, 0, why, sizeof(why));
        if (n <= 0) {
            fprintf(stderr, "pool_hello: %s\n", n < 0 ? why : "no usable CPU");
            return 1;
        }
        b.shards = (unsigned)(n > MAX_SHARDS ? MAX_SHARDS : n);
    }

    if (p->sysfs_root) {
        err = rt_placement_plan(p, b.shards, plan, why, sizeof(why));
        if (err < 0) {
            fprintf(stderr, "pool_hello: %s\n", why);
            return 1;
        }
        printf("pool_hello: %u shards, placement %s, on the machine under %s "
               "(its CPUs are not this machine's: the plan only, nothing started)\n",
               b.shards, rt_placement_name(p->kind), p->sysfs_root);
        if (kind == RT_PLACEMENT_UNBOUND || kind == RT_PLACEMENT_FENCED)
            printf("  (%s binds no shard to one CPU: the kernel moves them%s)\n",
                   rt_placement_name(p->kind),
                   kind == RT_PLACEMENT_FENCED ? " within the fence" : "");
        print_plan(p, b.shards, plan);
        return 0;
    }

    err = rt_pool_start(&b, make_hello, hello, &pool);
    if (err < 0) {
        fprintf(stderr, "pool_hello: %s\n", rt_last_error());
        return 1;
    }
    for (unsigned k = 0; k < b.shards; k++)
        plan[k] = rt_pool_shard_cpu(pool, k);
    rt_pool_join(pool, NULL);
    printf("pool_hello: %u shards, placement %s\n", b.shards, rt_placement_name(p->kind));
    for (unsigned k = 0; k < b.shards; k++) {
        if (plan[k] == RT_CPU_ANY)
            printf("  shard %u (thread %s): hello from CPU %d; may run on ", k, hello[k].thread,
                   hello[k].cpu);
        else
            printf("  shard %u (thread %s): hello from CPU %d, placed on CPU %d; may run on ", k,
                   hello[k].thread, hello[k].cpu, plan[k]);
        print_cpus(&hello[k].may);
        printf("\n");
    }
    return 0;
}
