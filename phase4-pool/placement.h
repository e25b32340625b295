/*
 * placement.h - where a pool's shards run: the machine's topology, and the
 * placements built on it. New in phase 4.
 *
 * Thread-per-core only pays if each executor keeps its CPU, and which CPUs
 * the shards get matters too. Two shards on the two SMT siblings of one core
 * share that core's execution units and caches; two shards on different
 * NUMA nodes each have memory close to them but pay to talk to each other.
 * So the pool can place shards in several ways:
 *
 *   UNBOUND  no pinning: the kernel moves the threads as it likes
 *   FENCED   every shard may run on any CPU of a given set (containers, or
 *            "keep CPUs 0-1 for the OS")
 *   SPREAD   one shard per CPU, as far apart as possible: one per NUMA node
 *            first, then per package, then per core; SMT siblings last.
 *            Most cache and memory bandwidth per shard.
 *   PACK     one shard per CPU, as close together as possible: both SMT
 *            siblings of a core, then the next core, then the next package.
 *            Cheapest messages between shards; leaves whole cores idle.
 *            With only some CPUs usable: the run of neighbours (in package,
 *            node, core order) that spans the fewest nodes, then
 *            packages, then cores.
 *   CUSTOM   shard k on the CPU the program names (a CPU named twice is
 *            shared by those shards: the program's choice)
 *
 * The topology comes from sysfs: the online CPUs, each CPU's package and
 * core in its topology/ directory, and its NUMA node (the nodeN link in its
 * directory). Only CPUs this process may use count: its affinity mask
 * (taskset, a container's cpuset) is intersected with what is online. The
 * sysfs root and the allowed set are parameters so that tests can describe
 * machines this one is not.
 */
#ifndef RT_PLACEMENT_H
#define RT_PLACEMENT_H

#include <stddef.h>

enum rt_placement_kind {
    RT_PLACEMENT_UNBOUND = 0,
    RT_PLACEMENT_FENCED,
    RT_PLACEMENT_SPREAD,
    RT_PLACEMENT_PACK,
    RT_PLACEMENT_CUSTOM,
};

struct rt_placement {
    enum rt_placement_kind kind;
    const int *cpus;        /* FENCED: the CPUs of the fence; CUSTOM: shard k runs on cpus[k] */
    size_t ncpus;           /* entries in `cpus` */
    const char *sysfs_root; /* where sysfs is; NULL: "/sys" */
    const int *allowed;     /* the CPUs this process may use; NULL: the calling thread's
                               affinity mask (taskset's, a cpuset's, or narrower if the
                               thread was pinned, as rt_executor_create with a cpu does) */
    size_t nallowed;        /* entries in `allowed` */
};

/* One usable CPU and where it sits. */
struct rt_cpu_info {
    int cpu;     /* its number, as the kernel counts */
    int node;    /* NUMA node (0 on a machine without NUMA) */
    int package; /* physical package (socket) */
    int core;    /* core id, unique within its package */
};

/*
 * The usable CPUs (online, and allowed), in CPU order: at most `max` of them
 * into `out` (NULL if `max` is 0). Returns how many there are, or -errno with
 * a sentence in `why`: a sysfs file's open() or read() error (-ENOENT if the
 * root has no such file), -EISDIR or -EINVAL for a file that is a directory
 * or holds no valid value, -EOVERFLOW for a line too long to be one (over
 * 4095 bytes for the online list, 63 for an id), -ENAMETOOLONG for a
 * sysfs_root that makes a path of 512 bytes or more, -EINVAL for an allowed
 * CPU out of range or a node<N> entry whose N is not a number up to
 * 1,000,000 (no such entry: node 0). `why`
 * holds `why_len` bytes, and may be NULL if that is 0 (here and below).
 */
int rt_topology_read(const struct rt_placement *p, struct rt_cpu_info *out, size_t max, char *why,
                     size_t why_len);

/*
 * Decide where each of `shards` shards runs: cpu_of[k] is a CPU for SPREAD,
 * PACK and CUSTOM, and RT_CPU_ANY for UNBOUND and FENCED. Returns 0, or
 * -errno with a sentence in `why`: rt_topology_read()'s errors (UNBOUND reads
 * nothing, so it cannot fail), or -EINVAL for more SPREAD or PACK shards
 * than usable CPUs, a CUSTOM or FENCED CPU this process cannot use, a CUSTOM
 * list of the wrong length, an empty fence, an ncpus > 0 with a NULL cpus
 * (any kind but UNBOUND), or an unknown kind.
 */
int rt_placement_plan(const struct rt_placement *p, unsigned shards, int *cpu_of, char *why,
                      size_t why_len);

/* The placement's name ("spread", ...), for messages. */
const char *rt_placement_name(enum rt_placement_kind kind);

#endif /* RT_PLACEMENT_H */
