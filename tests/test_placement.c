/*
 * tests/test_placement.c - the topology read from sysfs, and where each
 * placement puts a pool's shards.
 *
 * The machines are fake: the trees under tests/fixtures/topology/ (its
 * make.sh writes them, and says what each is). Every expected CPU list below
 * was worked out by hand from the definitions in placement.h, not taken from
 * the code's output:
 *   SPREAD  one shard per NUMA node first, then per package, then per core;
 *           SMT siblings only once every core has a shard;
 *   PACK    both SMT siblings of a core, then the next core, then the next
 *           package (and node); with only some CPUs usable, the run of
 *           neighbours in that order that spans the fewest nodes, then
 *           packages, then cores.
 * Each case spells out the machine, so the lists can be checked by eye.
 * Placements read the fake trees with an explicit `allowed` list, so the
 * CPUs of the machine running the tests do not matter; the cases named
 * "this_machine" read the real /sys and this process's affinity mask.
 */
#define _GNU_SOURCE /* sched_getaffinity() and CPU_COUNT() are GNU extensions */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "placement.h"

TEST_SINCE_PHASE(4);

#define WHY_LEN 256

/* Every CPU the fake machines have: the fixtures are read as if all were in our mask. */
static const int every_cpu[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#define EVERY_CPU every_cpu, sizeof(every_cpu) / sizeof(every_cpu[0])

static struct rt_placement on(const char *machine, enum rt_placement_kind kind)
{
    return (struct rt_placement){
        .kind = kind, .sysfs_root = test_topology(machine), .allowed = every_cpu, .nallowed = 16};
}

/* Plan `shards` shards with `p` and compare with `want`, naming the case in a failure. */
static void expect_plan(const struct rt_placement *p, unsigned shards, const int *want)
{
    int got[64];
    char why[WHY_LEN] = "", have[256] = "";
    int err = rt_placement_plan(p, shards, got, why, sizeof(why));

    ck_assert_msg(err == 0, "%s of %u shards on %s: %s (%s)", rt_placement_name(p->kind), shards,
                  p->sysfs_root, strerror(-err), why);
    for (unsigned k = 0; k < shards; k++)
        snprintf(have + strlen(have), sizeof(have) - strlen(have), " %d", got[k]);
    for (unsigned k = 0; k < shards; k++)
        ck_assert_msg(got[k] == want[k],
                      "%s of %u shards on %s: shard %u on CPU %d, not %d (got%s)",
                      rt_placement_name(p->kind), shards, p->sysfs_root, k, got[k], want[k], have);
}

#define EXPECT_PLAN(p, ...)                                                    \
    do {                                                                       \
        const int want_[] = {__VA_ARGS__};                                     \
        expect_plan((p), (unsigned)(sizeof(want_) / sizeof(want_[0])), want_); \
    } while (0)

/* The plan fails with -EINVAL, and its sentence contains every one of `words`. */
static void expect_refused(const struct rt_placement *p, unsigned shards, const char *const *words)
{
    int got[64];
    char why[WHY_LEN] = "";
    int err = rt_placement_plan(p, shards, got, why, sizeof(why));

    ck_assert_msg(err == -EINVAL, "%s of %u shards: %d, not -EINVAL", rt_placement_name(p->kind),
                  shards, err);
    for (; *words; words++)
        ck_assert_msg(strstr(why, *words), "the message \"%s\" does not say \"%s\"", why, *words);
}

#define EXPECT_REFUSED(p, shards, ...) \
    expect_refused((p), (shards), (const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------ the topology */

START_TEST(topology_of_each_fake_machine)
{
    struct rt_placement p = on("2s2n_smt", RT_PLACEMENT_SPREAD);
    struct rt_cpu_info cpus[64];
    char why[WHY_LEN] = "";
    int n = rt_topology_read(&p, cpus, 64, why, sizeof(why));

    /* 2s2n_smt: CPU c sits on package (c / 4) % 2, core c % 4; the node is the package. */
    ck_assert_msg(n == 16, "%d (%s)", n, why);
    /* Only counting: no room for CPUs, none for a sentence. */
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, NULL, 0), 16);
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(cpus[i].cpu, i);
        ck_assert_int_eq(cpus[i].package, (i / 4) % 2);
        ck_assert_int_eq(cpus[i].node, (i / 4) % 2);
        ck_assert_int_eq(cpus[i].core, i % 4);
    }

    /* 1s8c16t: CPU c is on core c % 8 of package 0, node 0. */
    p = on("1s8c16t", RT_PLACEMENT_SPREAD);
    ck_assert_int_eq(rt_topology_read(&p, cpus, 64, why, sizeof(why)), 16);
    for (int i = 0; i < 16; i++)
        ck_assert(cpus[i].cpu == i && cpus[i].package == 0 && cpus[i].node == 0 &&
                  cpus[i].core == i % 8);

    /* 2s4n_snc: CPU c is on core c % 4 of package c / 4, node c / 2: two nodes a package. */
    p = on("2s4n_snc", RT_PLACEMENT_SPREAD);
    ck_assert_int_eq(rt_topology_read(&p, cpus, 64, why, sizeof(why)), 8);
    for (int i = 0; i < 8; i++)
        ck_assert(cpus[i].cpu == i && cpus[i].package == i / 4 && cpus[i].node == i / 2 &&
                  cpus[i].core == i % 4);

    /* vm2: two cores of one package. */
    p = on("vm2", RT_PLACEMENT_SPREAD);
    ck_assert_int_eq(rt_topology_read(&p, cpus, 64, why, sizeof(why)), 2);
    ck_assert(cpus[0].cpu == 0 && cpus[0].core == 0 && cpus[1].cpu == 1 && cpus[1].core == 1);
    ck_assert(cpus[1].package == 0 && cpus[1].node == 0);
}
END_TEST

START_TEST(offline_cpus_are_left_out)
{
    struct rt_placement p = on("offline", RT_PLACEMENT_SPREAD);
    struct rt_cpu_info cpus[64];
    const int online[] = {0, 1, 3, 4, 6, 7};
    char why[WHY_LEN] = "";

    /* CPUs 2 and 5 have no topology/ at all: reading them would fail the whole read. */
    ck_assert_int_eq(rt_topology_read(&p, cpus, 64, why, sizeof(why)), 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(cpus[i].cpu, online[i]);
        ck_assert_int_eq(cpus[i].core, online[i] % 4);
        ck_assert_int_eq(cpus[i].node, 0); /* no nodeN entries: a machine without NUMA */
    }
}
END_TEST

START_TEST(a_short_output_array_still_gets_the_count)
{
    struct rt_placement p = on("1s8c16t", RT_PLACEMENT_SPREAD);
    struct rt_cpu_info cpus[4 + 1];
    char why[WHY_LEN] = "";

    cpus[4].cpu = -42; /* must stay untouched */
    ck_assert_int_eq(rt_topology_read(&p, cpus, 4, why, sizeof(why)), 16);
    ck_assert_int_eq(cpus[3].cpu, 3);
    ck_assert_int_eq(cpus[4].cpu, -42);
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), 16);
}
END_TEST

/* ------------------------------------------------------------ spread and pack */

START_TEST(spread_and_pack_on_the_vm)
{
    struct rt_placement spread = on("vm2", RT_PLACEMENT_SPREAD);
    struct rt_placement pack = on("vm2", RT_PLACEMENT_PACK);

    EXPECT_PLAN(&spread, 0);
    EXPECT_PLAN(&spread, 0, 1);
    EXPECT_PLAN(&pack, 0);
    EXPECT_PLAN(&pack, 0, 1);
}
END_TEST

/*
 * 1s8c16t: cores 0-7 are CPUs 0-7, and CPU k + 8 is core k's sibling.
 * SPREAD takes every core once (0-7) before any sibling (8-15); PACK takes
 * a core's two siblings together: 0, 8, then core 1's 1, 9, ...
 */
START_TEST(spread_and_pack_on_one_socket_with_smt)
{
    struct rt_placement spread = on("1s8c16t", RT_PLACEMENT_SPREAD);
    struct rt_placement pack = on("1s8c16t", RT_PLACEMENT_PACK);

    EXPECT_PLAN(&spread, 0, 1, 2, 3);
    EXPECT_PLAN(&spread, 0, 1, 2, 3, 4, 5, 6, 7);
    EXPECT_PLAN(&spread, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    EXPECT_PLAN(&spread, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    EXPECT_PLAN(&pack, 0, 8, 1);
    EXPECT_PLAN(&pack, 0, 8, 1, 9);
    EXPECT_PLAN(&pack, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12);
    EXPECT_PLAN(&pack, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
}
END_TEST

/*
 * 2s2n_smt: node/socket 0 has cores 0-3 = CPUs 0-3 (siblings 8-11), node/socket 1 has
 * cores 0-3 = CPUs 4-7 (siblings 12-15).
 * SPREAD alternates the nodes (0, 4, 1, 5, ...) over the cores, then over the siblings
 * (8, 12, 9, 13, ...). PACK fills socket 0 core by core, siblings together, then socket 1.
 */
START_TEST(spread_and_pack_on_two_sockets_two_nodes_with_smt)
{
    struct rt_placement spread = on("2s2n_smt", RT_PLACEMENT_SPREAD);
    struct rt_placement pack = on("2s2n_smt", RT_PLACEMENT_PACK);

    EXPECT_PLAN(&spread, 0, 4);
    EXPECT_PLAN(&spread, 0, 4, 1);
    EXPECT_PLAN(&spread, 0, 4, 1, 5);
    EXPECT_PLAN(&spread, 0, 4, 1, 5, 2, 6, 3, 7);
    EXPECT_PLAN(&spread, 0, 4, 1, 5, 2, 6, 3, 7, 8, 12);
    EXPECT_PLAN(&spread, 0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
    EXPECT_PLAN(&pack, 0, 8);
    EXPECT_PLAN(&pack, 0, 8, 1, 9);
    EXPECT_PLAN(&pack, 0, 8, 1, 9, 2, 10, 3, 11);
    EXPECT_PLAN(&pack, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12);
    EXPECT_PLAN(&pack, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
}
END_TEST

/*
 * 2s4n_snc: socket 0 holds nodes 0 (CPUs 0-1) and 1 (CPUs 2-3), socket 1
 * nodes 2 (CPUs 4-5) and 3 (CPUs 6-7); no SMT. SPREAD takes a node of each
 * socket first (0, 4), then the other node of each (2, 6), then the second
 * core of each node. PACK fills node by node, so a socket's two nodes come
 * before the next socket. With only CPUs 3, 4 and 6 usable, two shards span
 * two nodes wherever they go; 4 and 6 share a socket, 3 and 4 do not.
 */
START_TEST(spread_and_pack_on_sockets_split_into_nodes)
{
    static const int split[] = {3, 4, 6};
    struct rt_placement spread = on("2s4n_snc", RT_PLACEMENT_SPREAD);
    struct rt_placement pack = on("2s4n_snc", RT_PLACEMENT_PACK);

    EXPECT_PLAN(&spread, 0, 4);
    EXPECT_PLAN(&spread, 0, 4, 2, 6);
    EXPECT_PLAN(&spread, 0, 4, 2, 6, 1, 5, 3, 7);
    EXPECT_PLAN(&pack, 0, 1);
    EXPECT_PLAN(&pack, 0, 1, 2, 3);
    EXPECT_PLAN(&pack, 0, 1, 2, 3, 4);
    pack.allowed = split;
    pack.nallowed = 3;
    EXPECT_PLAN(&pack, 4, 6);
    EXPECT_PLAN(&pack, 3, 4, 6);
}
END_TEST

/*
 * offline: 4 cores, CPU k and k + 4 siblings, 2 and 5 offline. Usable: core 0 = {0, 4},
 * core 1 = {1}, core 2 = {6}, core 3 = {3, 7}.
 */
START_TEST(spread_and_pack_skip_offline_cpus)
{
    struct rt_placement spread = on("offline", RT_PLACEMENT_SPREAD);
    struct rt_placement pack = on("offline", RT_PLACEMENT_PACK);

    EXPECT_PLAN(&spread, 0, 1, 3, 6);
    EXPECT_PLAN(&spread, 0, 1, 3, 6, 4, 7);
    EXPECT_PLAN(&pack, 0, 4, 1);
    EXPECT_PLAN(&pack, 0, 4, 1, 6, 3, 7);
}
END_TEST

/* What `taskset -c 4-7,12-15` (node 1 only), and an odd mask {0, 5, 8}, leave to place on. */
START_TEST(a_restricted_mask_is_respected)
{
    static const int node1[] = {4, 5, 6, 7, 12, 13, 14, 15}, odd[] = {8, 5, 0};
    struct rt_placement p = on("2s2n_smt", RT_PLACEMENT_SPREAD);
    struct rt_cpu_info cpus[64];
    char why[WHY_LEN] = "";

    p.allowed = node1;
    p.nallowed = 8;
    ck_assert_int_eq(rt_topology_read(&p, cpus, 64, why, sizeof(why)), 8);
    EXPECT_PLAN(&p, 4, 5, 6, 7);
    EXPECT_PLAN(&p, 4, 5, 6, 7, 12, 13, 14, 15);
    p.kind = RT_PLACEMENT_PACK;
    EXPECT_PLAN(&p, 4, 12, 5, 13);

    /* {0, 5, 8}: 0 and 8 are siblings on node 0, 5 is alone on node 1. */
    p.allowed = odd;
    p.nallowed = 3;
    p.kind = RT_PLACEMENT_SPREAD;
    EXPECT_PLAN(&p, 0, 5, 8);
    p.kind = RT_PLACEMENT_PACK;
    EXPECT_PLAN(&p, 0, 8, 5);
    EXPECT_REFUSED(&p, 4, "4 shards", "may use 3");
}
END_TEST

/*
 * PACK with only some CPUs usable keeps the shards as close as they can be, which is not
 * always where the first usable CPUs are.
 */
START_TEST(pack_takes_the_tightest_run_of_a_restricted_set)
{
    /* 2s2n_smt, {3, 4, 5}: 3 is alone on node 0; 4 and 5 are two cores of node 1. */
    static const int split[] = {3, 4, 5};
    /* 1s8c16t, {1, 2, 10}: 2 and 10 are the siblings of core 2; 1 is alone on core 1. */
    static const int siblings[] = {1, 2, 10};
    /* 1s8c16t, {1, 9, 2, 3, 11}: cores 1 and 3 whole, core 2 half. */
    static const int cores[] = {1, 9, 2, 3, 11};
    struct rt_placement p = on("2s2n_smt", RT_PLACEMENT_PACK);

    p.allowed = split;
    p.nallowed = 3;
    EXPECT_PLAN(&p, 4, 5);
    EXPECT_PLAN(&p, 3, 4, 5);
    p = on("1s8c16t", RT_PLACEMENT_PACK);
    p.allowed = siblings;
    p.nallowed = 3;
    EXPECT_PLAN(&p, 2, 10);
    p.allowed = cores;
    p.nallowed = 5;
    EXPECT_PLAN(&p, 1, 9);    /* the first of two whole cores */
    EXPECT_PLAN(&p, 1, 9, 2); /* 2 cores, as {2, 3, 11}; {9, 2, 3} would take 3 */
    EXPECT_PLAN(&p, 1, 9, 2, 3);
}
END_TEST

/*
 * SPREAD puts SMT siblings last (placement.h), even when that leaves the
 * nodes uneven: a CPU on a core of its own, on a node that already has
 * shards, comes before a sibling on a node that has fewer. 2s2n_smt with
 * {0, 1, 2, 4, 12} usable: node 0 has cores 0, 1 and 2 (CPUs 0, 1, 2),
 * node 1 has core 0 only (CPU 4 and its sibling 12). After 0, 4 and 1,
 * node 1 has one shard and node 0 two; 12 would even the nodes but share
 * 4's core, so the fourth shard goes on 2.
 */
START_TEST(spread_keeps_siblings_apart_before_evening_the_nodes)
{
    static const int uneven[] = {0, 1, 2, 4, 12};
    struct rt_placement p = on("2s2n_smt", RT_PLACEMENT_SPREAD);

    p.allowed = uneven;
    p.nallowed = 5;
    EXPECT_PLAN(&p, 0, 4, 1);
    EXPECT_PLAN(&p, 0, 4, 1, 2);
    EXPECT_PLAN(&p, 0, 4, 1, 2, 12);
}
END_TEST

START_TEST(more_bound_shards_than_cpus_is_refused_with_the_numbers)
{
    struct rt_placement p = on("vm2", RT_PLACEMENT_SPREAD);

    EXPECT_REFUSED(&p, 3, "3 shards", "may use 2");
    p.kind = RT_PLACEMENT_PACK;
    EXPECT_REFUSED(&p, 3, "3 shards", "may use 2");
    p = on("offline", RT_PLACEMENT_SPREAD);
    EXPECT_REFUSED(&p, 7, "7 shards", "may use 6");
    p = on("2s2n_smt", RT_PLACEMENT_PACK);
    EXPECT_REFUSED(&p, 17, "17 shards", "may use 16");
}
END_TEST

/* ------------------------------------------------------------ fenced, custom, unbound */

START_TEST(fenced_checks_its_cpus_and_binds_no_shard)
{
    static const int fence[] = {1, 3}, with_offline[] = {1, 2}, outside[] = {0, 9};
    struct rt_placement p = on("offline", RT_PLACEMENT_FENCED);
    int got[8];
    char why[WHY_LEN] = "";

    /* More shards than fenced CPUs is fine: they share the fence. */
    p.cpus = fence;
    p.ncpus = 2;
    memset(got, 0x55, sizeof(got));
    ck_assert_int_eq(rt_placement_plan(&p, 5, got, why, sizeof(why)), 0);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(got[k], RT_CPU_ANY);

    p.ncpus = 0;
    EXPECT_REFUSED(&p, 2, "at least one CPU");
    p.cpus = NULL;
    p.ncpus = 2;
    EXPECT_REFUSED(&p, 2, "ncpus is 2 but its cpus is NULL");
    p.cpus = with_offline;
    p.ncpus = 2;
    EXPECT_REFUSED(&p, 2, "CPU 2", "not online or not allowed");
    p = on("2s2n_smt", RT_PLACEMENT_FENCED);
    p.allowed = fence; /* only CPUs 1 and 3 allowed: 9 exists, but not for us */
    p.nallowed = 2;
    p.cpus = outside;
    p.ncpus = 2;
    EXPECT_REFUSED(&p, 2, "CPU 0", "not online or not allowed");
}
END_TEST

START_TEST(custom_puts_shard_k_on_cpu_k_and_checks_the_list)
{
    static const int list[] = {7, 0, 3}, with_offline[] = {7, 5, 3}, short_list[] = {7, 0};
    static const int shared[] = {1, 1, 1, 1, 1, 1, 1, 1}; /* more shards than usable CPUs */
    struct rt_placement p = on("offline", RT_PLACEMENT_CUSTOM);

    p.cpus = list;
    p.ncpus = 3;
    EXPECT_PLAN(&p, 7, 0, 3);
    p.cpus = shared; /* the program's choice: a CPU named twice is shared */
    p.ncpus = 8;
    EXPECT_PLAN(&p, 1, 1, 1, 1, 1, 1, 1, 1);
    p.cpus = short_list;
    p.ncpus = 2;
    EXPECT_REFUSED(&p, 3, "names 2 CPUs for 3 shards");
    /* A longer list is refused as well: the CPUs past the last shard would be left unused. */
    p.cpus = list;
    p.ncpus = 3;
    EXPECT_REFUSED(&p, 2, "names 3 CPUs for 2 shards");
    p.cpus = with_offline;
    p.ncpus = 3;
    EXPECT_REFUSED(&p, 3, "shard 1's CPU 5", "not online or not allowed");
    p.cpus = NULL;
    EXPECT_REFUSED(&p, 3, "ncpus is 3 but its cpus is NULL");
}
END_TEST

START_TEST(unbound_binds_nothing_and_reads_nothing)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_UNBOUND, .sysfs_root = "/nonexistent"};
    int got[100];
    char why[WHY_LEN] = "";

    /* Any number of shards, more than there are CPUs too: the kernel spreads the threads. */
    ck_assert_int_eq(rt_placement_plan(&p, 100, got, why, sizeof(why)), 0);
    for (int k = 0; k < 100; k++)
        ck_assert_int_eq(got[k], RT_CPU_ANY);
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_UNBOUND), "unbound");
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_FENCED), "fenced");
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_SPREAD), "spread");
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_PACK), "pack");
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_CUSTOM), "custom");
    ck_assert_str_eq(rt_placement_name((enum rt_placement_kind)99), "unknown");
}
END_TEST

/* ------------------------------------------------------------ bad sysfs roots */

/* A scratch sysfs tree, built file by file, removed at the end of the test. */
static char scratch[64];

static void scratch_make(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/rt-topology-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(scratch));
}

/* Write `text` to scratch/path, making the directories on the way. */
static void scratch_write(const char *path, const char *text)
{
    char full[512];
    FILE *f;

    snprintf(full, sizeof(full), "%s/%s", scratch, path);
    for (char *s = strchr(full + strlen(scratch) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(full, 0755); /* EEXIST is fine */
        *s = '/';
    }
    f = fopen(full, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void scratch_remove(void)
{
    ck_assert_int_eq(nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Reading `scratch` fails with `err`, and the sentence says each of `words`. */
static void expect_read_error(int err, const char *const *words)
{
    struct rt_placement p = {
        .kind = RT_PLACEMENT_PACK, .sysfs_root = scratch, .allowed = every_cpu, .nallowed = 16};
    struct rt_cpu_info cpus[8];
    char why[WHY_LEN] = "";
    int got[2];
    int n = rt_topology_read(&p, cpus, 8, why, sizeof(why));

    ck_assert_msg(n == err, "read: %d, not %d (%s)", n, err, why);
    for (const char *const *w = words; *w; w++)
        ck_assert_msg(strstr(why, *w), "the message \"%s\" does not say \"%s\"", why, *w);
    /* A plan on that root fails the same way. */
    why[0] = '\0';
    ck_assert_int_eq(rt_placement_plan(&p, 1, got, why, sizeof(why)), err);
    ck_assert_msg(strstr(why, words[0]), "plan's message \"%s\"", why);
}

#define EXPECT_READ_ERROR(err, ...) \
    expect_read_error((err), (const char *const[]){__VA_ARGS__, NULL})

START_TEST(a_bad_sysfs_root_is_an_error_with_a_sentence)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_SPREAD, .sysfs_root = "/nonexistent/sys"};
    char why[WHY_LEN] = "";
    int got[2];

    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), -ENOENT);
    ck_assert_msg(strstr(why, "/nonexistent/sys/devices/system/cpu/online") &&
                      strstr(why, strerror(ENOENT)),
                  "%s", why);
    ck_assert_int_eq(rt_placement_plan(&p, 1, got, why, sizeof(why)), -ENOENT);

    /* A root too long for a path: said so, not cut short into some other path. */
    char long_root[600];
    memset(long_root, 'x', sizeof(long_root) - 1);
    long_root[sizeof(long_root) - 1] = '\0';
    p.sysfs_root = long_root;
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), -ENAMETOOLONG);
    ck_assert_msg(strstr(why, "cannot read the online CPUs"), "%s", why);

    scratch_make();
    scratch_write("devices/system/cpu/online", "zero\n");
    EXPECT_READ_ERROR(-EINVAL, "online CPUs", scratch);
    scratch_write("devices/system/cpu/online", "0-99999\n"); /* beyond a cpu_set_t */
    EXPECT_READ_ERROR(-EINVAL, "online CPUs");
    scratch_write("devices/system/cpu/online", "0-1\n");
    scratch_write("devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
    scratch_write("devices/system/cpu/cpu0/topology/core_id", "0\n");
    /* CPU 1 is online but has no topology/. */
    EXPECT_READ_ERROR(-ENOENT, "topology of CPU 1", scratch);
    scratch_write("devices/system/cpu/cpu1/topology/physical_package_id", "0\n");
    scratch_write("devices/system/cpu/cpu1/topology/core_id", "one\n");
    EXPECT_READ_ERROR(-EINVAL, "topology of CPU 1");
    scratch_write("devices/system/cpu/cpu1/topology/core_id", "1\n");
    p.sysfs_root = scratch;
    p.allowed = every_cpu;
    p.nallowed = 16;
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), 2);
    scratch_remove();
}
END_TEST

/* Write `len` bytes of `bytes` to scratch/path, which exists: for text with a NUL in it. */
static void scratch_write_bytes(const char *path, const char *bytes, size_t len)
{
    char full[512];
    FILE *f;

    snprintf(full, sizeof(full), "%s/%s", scratch, path);
    f = fopen(full, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
}

/*
 * Text a kernel never writes is refused, not read as something near it:
 * strtol alone takes blanks, a sign, "0x10" as 0 and "5abc" as 5, and a
 * line cut to fit a buffer can name another CPU ("1000" cut to "1"). An
 * empty list of online CPUs is no machine, not one whose CPUs we may not use. A FIFO
 * in a file's place is refused at once instead of hanging the reader. So is a
 * NUMA node entry whose number is not one, which was once read as node 0.
 */
START_TEST(sysfs_text_is_read_strictly)
{
    /*
     * A range that runs backwards ("1-0") is no CPU list, and CPU 1024 is one past a
     * cpu_set_t, alone or as a range's end: reading either into the set would write past it.
     */
    static const char *const bad_lists[] = {" 0-1\n", "+0-1\n", "0-+1\n",  "0- 1\n",
                                            "0,\n",   "0-1,\n", "\n",      "",
                                            "1-0\n",  "1024\n", "0-1024\n"};
    static const char *const bad_ints[] = {"0x10\n", " 1\n", "+1\n", "1abc\n", "1 \n", "-\n"};
    static const char *const bad_nodes[] = {"node7x", "node1000001", "node99999999999999999999"};
    const char *core1 = "devices/system/cpu/cpu1/topology/core_id";
    char full[512], *list;
    size_t len;

    scratch_make();
    scratch_write("devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
    scratch_write("devices/system/cpu/cpu0/topology/core_id", "0\n");
    scratch_write("devices/system/cpu/cpu1/topology/physical_package_id", "-1\n"); /* allowed */
    scratch_write(core1, "1\n");
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        scratch_write("devices/system/cpu/online", bad_lists[i]);
        EXPECT_READ_ERROR(-EINVAL, "online CPUs", "below 1024");
    }
    /* "0,0,...,0,1000\n": 4,099 bytes, more than the reader's 4 KiB; cut to fit, it ends in "1". */
    list = malloc(2048 * 2 + 8);
    ck_assert_ptr_nonnull(list);
    len = 0;
    for (int i = 0; i < 2047; i++)
        len += (size_t)sprintf(list + len, "0,");
    sprintf(list + len, "1000\n");
    scratch_write("devices/system/cpu/online", list);
    free(list);
    EXPECT_READ_ERROR(-EOVERFLOW, "online CPUs");

    scratch_write("devices/system/cpu/online", "0-1\n");
    for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        scratch_write(core1, bad_ints[i]);
        EXPECT_READ_ERROR(-EINVAL, "topology of CPU 1");
    }
    scratch_write_bytes(core1, "1\0junk\n", 7);
    EXPECT_READ_ERROR(-EINVAL, "topology of CPU 1");

    snprintf(full, sizeof(full), "%s/%s", scratch, core1);
    ck_assert_int_eq(unlink(full), 0);
    ck_assert_int_eq(mkdir(full, 0755), 0);
    EXPECT_READ_ERROR(-EISDIR, "topology of CPU 1");
    ck_assert_int_eq(rmdir(full), 0);
    ck_assert_int_eq(mkfifo(full, 0644), 0);
    EXPECT_READ_ERROR(-EINVAL, "topology of CPU 1");
    ck_assert_int_eq(unlink(full), 0);
    scratch_write(core1, "1\n");

    /* A NUMA node entry (a link in sysfs; a directory here) whose N is no node number. */
    for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++) {
        snprintf(full, sizeof(full), "%s/devices/system/cpu/cpu1/%s", scratch, bad_nodes[i]);
        ck_assert_int_eq(mkdir(full, 0755), 0);
        EXPECT_READ_ERROR(-EINVAL, "NUMA node of CPU 1");
        ck_assert_int_eq(rmdir(full), 0);
    }
    snprintf(full, sizeof(full), "%s/devices/system/cpu/cpu1/node3", scratch);
    ck_assert_int_eq(mkdir(full, 0755), 0);
    {
        struct rt_placement p = {.sysfs_root = scratch, .allowed = every_cpu, .nallowed = 16};
        struct rt_cpu_info cpus[2];

        ck_assert_int_eq(rt_topology_read(&p, cpus, 2, NULL, 0), 2);
        ck_assert_int_eq(cpus[0].node, 0);
        ck_assert_int_eq(cpus[1].node, 3);
    }
    scratch_remove();
}
END_TEST

/*
 * A core number is unique only within its package: two neighbours in the
 * sorted order with the same core id on different packages are two cores.
 * Five CPUs, package:core 0:0, 1:0, 1:1, 2:2, 2:2 (the last two siblings).
 * Every run of three spans two packages; {0, 1, 2} spans three cores (0:0,
 * 1:0, 1:1), {2, 3, 4} two, and PACK takes it. Counting the core ids alone
 * would see 0:0 and 1:0 as one core, a tie, and take the first run.
 */
START_TEST(pack_counts_equal_core_ids_on_two_packages_as_two_cores)
{
    static const char *const where[][2] = {
        {"0\n", "0\n"}, {"1\n", "0\n"}, {"1\n", "1\n"}, {"2\n", "2\n"}, {"2\n", "2\n"}};
    struct rt_placement p = {
        .kind = RT_PLACEMENT_PACK, .sysfs_root = scratch, .allowed = every_cpu, .nallowed = 16};
    char path[128];

    scratch_make();
    scratch_write("devices/system/cpu/online", "0-4\n");
    for (int c = 0; c < 5; c++) {
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/physical_package_id", c);
        scratch_write(path, where[c][0]);
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/core_id", c);
        scratch_write(path, where[c][1]);
    }
    EXPECT_PLAN(&p, 2, 3, 4);
    scratch_remove();
}
END_TEST

/*
 * A socket's nodes need not be numbered one after the other: here package 0
 * holds nodes 0 (CPUs 0-1) and 2 (CPUs 4-5), package 1 nodes 1 (CPUs 2-3)
 * and 3 (CPUs 6-7). PACK keeps to one package as long as it can: three
 * shards on 0, 1 and 4 (two nodes, one socket), four on 0, 1, 4 and 5.
 * Sorted by node first, the CPUs of package 1 came between, and three
 * shards got 0, 1 and 2, on two sockets.
 */
START_TEST(pack_keeps_to_a_socket_whose_nodes_are_numbered_apart)
{
    static const int package[] = {0, 0, 1, 1, 0, 0, 1, 1}, node[] = {0, 0, 1, 1, 2, 2, 3, 3};
    struct rt_placement p = {
        .kind = RT_PLACEMENT_PACK, .sysfs_root = scratch, .allowed = every_cpu, .nallowed = 16};
    char path[128], text[16];
    int cores_seen[2] = {0, 0};

    scratch_make();
    scratch_write("devices/system/cpu/online", "0-7\n");
    for (int c = 0; c < 8; c++) {
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/physical_package_id", c);
        snprintf(text, sizeof(text), "%d\n", package[c]);
        scratch_write(path, text);
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/topology/core_id", c);
        snprintf(text, sizeof(text), "%d\n", cores_seen[package[c]]++);
        scratch_write(path, text);
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/node%d/x", c, node[c]);
        scratch_write(path, ""); /* a directory nodeN: in sysfs, a link to the node */
    }
    EXPECT_PLAN(&p, 0, 1, 4);
    EXPECT_PLAN(&p, 0, 1, 4, 5);
    scratch_remove();
}
END_TEST

START_TEST(an_allowed_cpu_out_of_range_is_refused)
{
    static const int bad[] = {0, -1};
    struct rt_placement p = on("vm2", RT_PLACEMENT_SPREAD);
    char why[WHY_LEN] = "";

    p.allowed = bad;
    p.nallowed = 2;
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), -EINVAL);
    ck_assert_msg(strstr(why, "allowed CPU -1"), "%s", why);

    /* One past a cpu_set_t: the last CPU a list may name is 1023. */
    static const int too_high[] = {0, 1024};
    p.allowed = too_high;
    ck_assert_int_eq(rt_topology_read(&p, NULL, 0, why, sizeof(why)), -EINVAL);
    ck_assert_msg(strstr(why, "allowed CPU 1024"), "%s", why);
}
END_TEST

/* ------------------------------------------------------------ this machine, and the fixtures */

START_TEST(this_machine_offers_its_affinity_mask)
{
    struct rt_placement p = {.kind = RT_PLACEMENT_SPREAD};
    struct rt_cpu_info cpus[CPU_SETSIZE];
    int plan[CPU_SETSIZE];
    char why[WHY_LEN] = "";
    cpu_set_t mask;
    int n;

    ck_assert_int_eq(sched_getaffinity(0, sizeof(mask), &mask), 0);
    n = rt_topology_read(&p, cpus, CPU_SETSIZE, why, sizeof(why));
    ck_assert_msg(n == CPU_COUNT(&mask), "read %d CPUs (%s), the mask has %d", n, why,
                  CPU_COUNT(&mask));
    ck_assert_int_eq(rt_placement_plan(&p, (unsigned)n, plan, why, sizeof(why)), 0);
    for (int k = 0; k < n; k++) {
        ck_assert_msg(CPU_ISSET(plan[k], &mask), "shard %d on CPU %d, outside the mask", k,
                      plan[k]);
        for (int j = 0; j < k; j++)
            ck_assert_int_ne(plan[j], plan[k]);
    }
    ck_assert_int_eq(rt_placement_plan(&p, (unsigned)n + 1, plan, why, sizeof(why)), -EINVAL);
}
END_TEST

/* The committed trees are what make.sh writes: nobody edited one by hand and forgot the other. */
START_TEST(the_fixtures_are_what_make_sh_writes)
{
    char cmd[2048], dir[512];

    scratch_make();
    snprintf(dir, sizeof(dir), "%s", test_topology(""));
    /* Machine by machine: the fixtures' directory also holds make.sh itself. */
    snprintf(cmd, sizeof(cmd),
             "sh %smake.sh %s && for m in vm2 1s8c16t 2s2n_smt 2s4n_snc offline; do "
             "diff -r %s/$m %s$m >&2 || exit 1; done",
             dir, scratch, scratch, dir);
    ck_assert_msg(system(cmd) == 0, "the fixtures differ from what make.sh writes: %s", cmd);
    scratch_remove();
}
END_TEST

Suite *suite_placement(void)
{
    Suite *s = suite_create("placement");
    TCase *tc = test_case("placement");

    tcase_add_test(tc, topology_of_each_fake_machine);
    tcase_add_test(tc, offline_cpus_are_left_out);
    tcase_add_test(tc, a_short_output_array_still_gets_the_count);
    tcase_add_test(tc, spread_and_pack_on_the_vm);
    tcase_add_test(tc, spread_and_pack_on_one_socket_with_smt);
    tcase_add_test(tc, spread_and_pack_on_two_sockets_two_nodes_with_smt);
    tcase_add_test(tc, spread_and_pack_on_sockets_split_into_nodes);
    tcase_add_test(tc, spread_and_pack_skip_offline_cpus);
    tcase_add_test(tc, a_restricted_mask_is_respected);
    tcase_add_test(tc, pack_takes_the_tightest_run_of_a_restricted_set);
    tcase_add_test(tc, spread_keeps_siblings_apart_before_evening_the_nodes);
    tcase_add_test(tc, more_bound_shards_than_cpus_is_refused_with_the_numbers);
    tcase_add_test(tc, fenced_checks_its_cpus_and_binds_no_shard);
    tcase_add_test(tc, custom_puts_shard_k_on_cpu_k_and_checks_the_list);
    tcase_add_test(tc, unbound_binds_nothing_and_reads_nothing);
    tcase_add_test(tc, a_bad_sysfs_root_is_an_error_with_a_sentence);
    tcase_add_test(tc, sysfs_text_is_read_strictly);
    tcase_add_test(tc, pack_counts_equal_core_ids_on_two_packages_as_two_cores);
    tcase_add_test(tc, pack_keeps_to_a_socket_whose_nodes_are_numbered_apart);
    tcase_add_test(tc, an_allowed_cpu_out_of_range_is_refused);
    tcase_add_test(tc, this_machine_offers_its_affinity_mask);
    tcase_add_test(tc, the_fixtures_are_what_make_sh_writes);
    suite_add_tcase(s, tc);
    return s;
}
