/*
 * placement.c - reading the topology from sysfs, and placing shards on it.
 * New in phase 4.
 *
 * sched_getaffinity and cpu_set_t are GNU extensions, hence _GNU_SOURCE.
 */
#define _GNU_SOURCE
#include "placement.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fatal.h"
#include "executor.h"

/* CPU numbers this file handles: the size of a cpu_set_t. */
#define MAX_CPUS CPU_SETSIZE

/* The largest core, package or node number taken from sysfs: far above any machine's. */
#define MAX_ID 1000000

const char *rt_placement_name(enum rt_placement_kind kind)
{
    static const char *const names[] = {"unbound", "fenced", "spread", "pack", "custom"};

    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

/* ---------------------------------------------------------------- sysfs */

/*
 * Read the first line of root/path into buf, NUL-terminated. Returns 0 or
 * -errno: -EOVERFLOW if the line does not fit (cutting it could turn "1000"
 * into "1", another CPU), -EINVAL if it holds a NUL or the file is not a
 * regular file, as every sysfs attribute is. The open does not wait, so a
 * FIFO put in a file's place is refused rather than hanging the caller.
 */
static int read_line(const char *root, const char *path, char *buf, size_t len)
{
    char full[512], more;
    struct stat st;
    ssize_t n = 0;
    int fd, err = 0;

    if ((size_t)snprintf(full, sizeof(full), "%s/%s", root, path) >= sizeof(full))
        return -ENAMETOOLONG;
    fd = open(full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode))
        err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    else if ((n = read(fd, buf, len - 1)) < 0)
        err = -errno;
    if (err == 0) {
        char *nl = memchr(buf, '\n', (size_t)n);

        if (memchr(buf, '\0', nl ? (size_t)(nl - buf) : (size_t)n))
            err = -EINVAL;
        else if (nl)
            nl[1] = '\0';
        else if ((size_t)n == len - 1 && read(fd, &more, 1) > 0)
            err = -EOVERFLOW;
        else
            buf[n] = '\0';
    }
    close(fd);
    return err;
}

/* Read an integer file such as topology/core_id: digits (or -1), then the line's end. */
static int read_int(const char *root, const char *path, int *out)
{
    char buf[64], *end;
    long v;
    int err = read_line(root, path, buf, sizeof(buf));

    if (err < 0)
        return err;
    /* strtol alone would also take blanks, a sign and trailing bytes: "0x10" would be 0. */
    if (!isdigit((unsigned char)buf[0]) && !(buf[0] == '-' && isdigit((unsigned char)buf[1])))
        return -EINVAL;
    v = strtol(buf, &end, 10);
    if ((*end != '\n' && *end != '\0') || v < -1 || v > MAX_ID)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/*
 * Parse a kernel CPU list ("0-3,8,10-11") into set[0..MAX_CPUS). Returns 0,
 * or -EINVAL for anything else, an empty list included (some CPU is always
 * online). Each number must start with a digit, since strtol would also
 * skip blanks and take a sign.
 */
static int parse_cpu_list(const char *s, bool *set)
{
    if (!*s || *s == '\n')
        return -EINVAL;
    while (*s && *s != '\n') {
        char *end;
        long lo, hi;

        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        lo = hi = strtol(s, &end, 10);
        if (lo >= MAX_CPUS)
            return -EINVAL;
        s = end;
        if (*s == '-') {
            if (!isdigit((unsigned char)s[1]))
                return -EINVAL;
            hi = strtol(s + 1, &end, 10);
            if (hi < lo || hi >= MAX_CPUS)
                return -EINVAL;
            s = end;
        }
        for (long c = lo; c <= hi; c++)
            set[c] = true;
        if (*s == ',' && isdigit((unsigned char)s[1]))
            s++;
        else if (*s && *s != '\n')
            return -EINVAL; /* a trailing comma too */
    }
    return 0;
}

/*
 * The NUMA node of `cpu`: the N of its "nodeN" entry; 0 when there is none
 * (no NUMA). -EINVAL for an entry "node" and a digit that is not a number
 * up to MAX_ID ("node7x", "node99999999999"), as for the other files.
 */
static int cpu_node(const char *root, int cpu)
{
    char dir[512];
    DIR *d;
    struct dirent *e;
    int node = 0;

    snprintf(dir, sizeof(dir), "%s/devices/system/cpu/cpu%d", root, cpu);
    d = opendir(dir);
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char *end;
        long n;

        if (strncmp(e->d_name, "node", 4) != 0 || !isdigit((unsigned char)e->d_name[4]))
            continue;
        n = strtol(e->d_name + 4, &end, 10); /* too large: LONG_MAX, which is past MAX_ID */
        node = *end == '\0' && n <= MAX_ID ? (int)n : -EINVAL;
        break;
    }
    closedir(d);
    return node;
}

/* The CPUs this process may use: p->allowed, or its affinity mask. */
static int allowed_set(const struct rt_placement *p, bool *set, char *why, size_t why_len)
{
    cpu_set_t mask;

    if (p->allowed) {
        for (size_t i = 0; i < p->nallowed; i++) {
            if (p->allowed[i] < 0 || p->allowed[i] >= MAX_CPUS) {
                snprintf(why, why_len, "allowed CPU %d is out of range", p->allowed[i]);
                return -EINVAL;
            }
            set[p->allowed[i]] = true;
        }
        return 0;
    }
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof(mask), &mask) < 0) {
        int err = -errno;

        snprintf(why, why_len, "sched_getaffinity: %s", strerror(-err));
        return err;
    }
    for (int c = 0; c < MAX_CPUS; c++)
        set[c] = CPU_ISSET(c, &mask);
    return 0;
}

int rt_topology_read(const struct rt_placement *p, struct rt_cpu_info *out, size_t max, char *why,
                     size_t why_len)
{
    const char *root;
    bool *online, *allowed;
    char line[4096], path[128];
    int err, n = 0;

    ASSERT_ARG(p);
    if (!why && why_len > 0)
        rt__die("rt_topology_read: why is NULL, for %zu bytes", why_len);
    if (!out && max > 0)
        rt__die("rt_topology_read: out is NULL, for %zu CPUs", max);
    root = p->sysfs_root ? p->sysfs_root : "/sys";
    online = rt__calloc(MAX_CPUS, sizeof(bool));
    allowed = rt__calloc(MAX_CPUS, sizeof(bool));
    err = read_line(root, "devices/system/cpu/online", line, sizeof(line));
    if (err == 0)
        err = parse_cpu_list(line, online);
    if (err < 0) {
        snprintf(why, why_len,
                 "cannot read the online CPUs from %s/devices/system/cpu/online: %s (a list such "
                 "as 0-3,8, of CPUs numbered below %d)",
                 root, strerror(-err), MAX_CPUS);
        goto out;
    }
    err = allowed_set(p, allowed, why, why_len);
    if (err < 0)
        goto out;
    for (int c = 0; c < MAX_CPUS; c++) {
        struct rt_cpu_info info = {.cpu = c};

        if (!online[c] || !allowed[c])
            continue;
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/physical_package_id", c);
        err = read_int(root, path, &info.package);
        if (err == 0) {
            snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/core_id", c);
            err = read_int(root, path, &info.core);
        }
        if (err < 0) {
            snprintf(why, why_len, "cannot read the topology of CPU %d under %s: %s", c, root,
                     strerror(-err));
            goto out;
        }
        info.node = cpu_node(root, c);
        if (info.node < 0) {
            err = info.node;
            snprintf(why, why_len,
                     "cannot read the NUMA node of CPU %d under %s: an entry node<N> whose N is "
                     "not a number up to %d",
                     c, root, MAX_ID);
            goto out;
        }
        if ((size_t)n < max)
            out[n] = info;
        n++;
    }
out:
    rt__free(online);
    rt__free(allowed);
    return err < 0 ? err : n;
}

/* ------------------------------------------------------------ placements */

/* Is `cpu` among the usable ones? */
static bool usable(const struct rt_cpu_info *cpus, int n, int cpu)
{
    for (int i = 0; i < n; i++)
        if (cpus[i].cpu == cpu)
            return true;
    return false;
}

/*
 * Package first, then node: a package may hold several nodes, and their
 * numbers need not be consecutive (nodes 0 and 2 on one socket, 1 and 3 on
 * the other), so sorting by node first could put another socket between
 * two nodes of one. A node does not span packages on the machines Linux
 * runs today, so each node's CPUs still sit side by side.
 */
static int by_position(const void *a, const void *b)
{
    const struct rt_cpu_info *x = a, *y = b;

    if (x->package != y->package)
        return x->package - y->package;
    if (x->node != y->node)
        return x->node - y->node;
    if (x->core != y->core)
        return x->core - y->core;
    return x->cpu - y->cpu;
}

/* How many CPUs already chosen (chosen[0..k)) share a node, package or core with `c`. */
struct crowding {
    int core, node, package;
};

static struct crowding crowding(const struct rt_cpu_info *chosen, int k,
                                const struct rt_cpu_info *c)
{
    struct crowding cr = {0, 0, 0};

    for (int i = 0; i < k; i++) {
        bool same_package = chosen[i].package == c->package;

        cr.node += chosen[i].node == c->node;
        cr.package += same_package;
        cr.core += same_package && chosen[i].core == c->core;
    }
    return cr;
}

/* Is `a` a better next pick than `b` for SPREAD? Fewer on its core first: SMT siblings last. */
static bool spreads_better(struct crowding a, int acpu, struct crowding b, int bcpu)
{
    if (a.core != b.core)
        return a.core < b.core;
    if (a.node != b.node)
        return a.node < b.node;
    if (a.package != b.package)
        return a.package < b.package;
    return acpu < bcpu;
}

/*
 * SPREAD, greedily: each next shard takes the free CPU whose core has the
 * fewest shards, then whose node, then whose package, then the lowest number.
 */
static void spread(struct rt_cpu_info *cpus, int n, unsigned shards, int *cpu_of)
{
    for (unsigned k = 0; k < shards; k++) {
        int best = -1;
        struct crowding best_cr = {0, 0, 0};

        for (int i = (int)k; i < n; i++) {
            struct crowding cr = crowding(cpus, (int)k, &cpus[i]);

            if (best < 0 || spreads_better(cr, cpus[i].cpu, best_cr, cpus[best].cpu)) {
                best = i;
                best_cr = cr;
            }
        }
        /* Move the pick to position k: cpus[0..k] are the chosen ones, in order. */
        struct rt_cpu_info tmp = cpus[k];
        cpus[k] = cpus[best];
        cpus[best] = tmp;
        cpu_of[k] = cpus[k].cpu;
    }
}

/* How many nodes, packages and cores a run of CPUs spans. */
struct span {
    int nodes, packages, cores;
};

/*
 * The span of cpus[0..k), sorted by position: one more at each change from
 * one CPU to the next. A change of node need not be one of package: a
 * package may hold several nodes (sub-NUMA clustering, as Intel's SNC and
 * AMD's NPS2 and NPS4 split a socket).
 */
static struct span span_of(const struct rt_cpu_info *cpus, unsigned k)
{
    struct span s = {1, 1, 1};

    for (unsigned i = 1; i < k; i++) {
        bool package = cpus[i].package != cpus[i - 1].package;

        s.nodes += cpus[i].node != cpus[i - 1].node;
        s.packages += package;
        s.cores += package || cpus[i].core != cpus[i - 1].core;
    }
    return s;
}

/* Does run `a` pack tighter than run `b`? Fewer nodes first, then packages, then cores. */
static bool packs_better(struct span a, struct span b)
{
    if (a.nodes != b.nodes)
        return a.nodes < b.nodes;
    if (a.packages != b.packages)
        return a.packages < b.packages;
    return a.cores < b.cores;
}

/*
 * PACK: sort the CPUs by position (package, node, core, number), so that
 * siblings sit side by side, then take the run of `shards` neighbours that
 * spans the fewest nodes, then packages, then cores; the first on a tie.
 * On a whole machine that is the first run. With only some CPUs usable it
 * may not be: of CPUs 3, 4 and 5, where 3 is alone on node 0, two shards
 * get 4 and 5.
 */
static void pack(struct rt_cpu_info *cpus, int n, unsigned shards, int *cpu_of)
{
    int best = 0;
    struct span best_span;

    qsort(cpus, (size_t)n, sizeof(cpus[0]), by_position);
    best_span = span_of(cpus, shards);
    for (int i = 1; i + (int)shards <= n; i++) {
        struct span s = span_of(cpus + i, shards);

        if (packs_better(s, best_span)) {
            best = i;
            best_span = s;
        }
    }
    for (unsigned k = 0; k < shards; k++)
        cpu_of[k] = cpus[best + (int)k].cpu;
}

/* rt_placement_plan() on the usable CPUs cpus[0..n). */
static int place(const struct rt_placement *p, struct rt_cpu_info *cpus, int n, unsigned shards,
                 int *cpu_of, char *why, size_t why_len)
{
    if (p->ncpus > 0 && !p->cpus) {
        snprintf(why, why_len, "the placement's ncpus is %zu but its cpus is NULL", p->ncpus);
        return -EINVAL;
    }
    switch (p->kind) {
    case RT_PLACEMENT_FENCED:
        if (p->ncpus == 0) {
            snprintf(why, why_len, "a fenced placement needs at least one CPU");
            return -EINVAL;
        }
        for (size_t i = 0; i < p->ncpus; i++) {
            if (!usable(cpus, n, p->cpus[i])) {
                snprintf(why, why_len, "CPU %d of the fence is not online or not allowed",
                         p->cpus[i]);
                return -EINVAL;
            }
        }
        for (unsigned k = 0; k < shards; k++)
            cpu_of[k] = RT_CPU_ANY;
        return 0;
    case RT_PLACEMENT_CUSTOM:
        if (p->ncpus != shards) {
            snprintf(why, why_len, "a custom placement names %zu CPUs for %u shards", p->ncpus,
                     shards);
            return -EINVAL;
        }
        for (unsigned k = 0; k < shards; k++) {
            if (!usable(cpus, n, p->cpus[k])) {
                snprintf(why, why_len, "shard %u's CPU %d is not online or not allowed", k,
                         p->cpus[k]);
                return -EINVAL;
            }
            cpu_of[k] = p->cpus[k];
        }
        return 0;
    case RT_PLACEMENT_SPREAD:
    case RT_PLACEMENT_PACK:
        if (shards > (unsigned)n) {
            snprintf(why, why_len,
                     "%u shards bound one per CPU need %u CPUs, and this process may use %d "
                     "(online and in its affinity mask)",
                     shards, shards, n);
            return -EINVAL;
        }
        if (p->kind == RT_PLACEMENT_SPREAD)
            spread(cpus, n, shards, cpu_of);
        else
            pack(cpus, n, shards, cpu_of);
        return 0;
    case RT_PLACEMENT_UNBOUND:
        break;
    }
    snprintf(why, why_len, "unknown placement kind %d", (int)p->kind);
    return -EINVAL;
}

int rt_placement_plan(const struct rt_placement *p, unsigned shards, int *cpu_of, char *why,
                      size_t why_len)
{
    struct rt_cpu_info *cpus;
    int n, err;

    ASSERT_ARG(p);
    if (!why && why_len > 0)
        rt__die("rt_placement_plan: why is NULL, for %zu bytes", why_len);
    if (!cpu_of && shards > 0)
        rt__die("rt_placement_plan: cpu_of is NULL, for %u shards", shards);
    if (p->kind == RT_PLACEMENT_UNBOUND) {
        for (unsigned k = 0; k < shards; k++)
            cpu_of[k] = RT_CPU_ANY;
        return 0;
    }
    cpus = rt__calloc(MAX_CPUS, sizeof(*cpus));
    n = rt_topology_read(p, cpus, MAX_CPUS, why, why_len);
    err = n < 0 ? n : place(p, cpus, n, shards, cpu_of, why, why_len);
    rt__free(cpus);
    return err;
}
