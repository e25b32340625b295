/*
 * tests/exercises/ex_4_1.c - Exercise 4.1: RT_PLACEMENT_CORES, one shard per physical core.
 *
 * The exercise: add RT_PLACEMENT_CORES to enum rt_placement_kind (after the
 * others) and to rt_placement_plan(). It places shards as SPREAD does (one
 * per NUMA node first, then per package, then per core), each on a CPU of
 * its own, but never two on the SMT siblings of one core: asking for more
 * shards than the usable CPUs have cores is -EINVAL, with a sentence that
 * says how many shards were asked for and how many cores there are
 * ("9 shards ... 8 cores"). rt_placement_name() calls it "cores".
 *
 * Checked on the fake machines of tests/fixtures/topology/ (see make.sh
 * there), with every expected list worked out by hand. Watch the
 * restricted mask and 2s2n_smt: a core is a core id *within a package*.
 * Until the exercise is done this file does not compile:
 * RT_PLACEMENT_CORES is undeclared.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"

TEST_SINCE_PHASE(4);

#define WHY_LEN 256

static const int every_cpu[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static struct rt_placement cores_on(const char *machine, const int *allowed, size_t nallowed)
{
    return (struct rt_placement){.kind = RT_PLACEMENT_CORES,
                                 .sysfs_root = test_topology(machine),
                                 .allowed = allowed,
                                 .nallowed = nallowed};
}

static void expect_plan(const char *machine, const int *allowed, size_t nallowed, unsigned shards,
                        const int *want)
{
    struct rt_placement p = cores_on(machine, allowed, nallowed);
    int got[64];
    char why[WHY_LEN] = "";
    int err = rt_placement_plan(&p, shards, got, why, sizeof(why));

    ck_assert_msg(err == 0, "cores, %u shards on %s: %s (%s)", shards, machine, strerror(-err),
                  why);
    for (unsigned k = 0; k < shards; k++)
        ck_assert_msg(got[k] == want[k], "cores, %u shards on %s: shard %u on CPU %d, not %d",
                      shards, machine, k, got[k], want[k]);
}

static void expect_refused(const char *machine, const int *allowed, size_t nallowed,
                           unsigned shards, const char *asked, const char *cores)
{
    struct rt_placement p = cores_on(machine, allowed, nallowed);
    int got[64];
    char why[WHY_LEN] = "";
    int err = rt_placement_plan(&p, shards, got, why, sizeof(why));

    ck_assert_msg(err == -EINVAL, "cores, %u shards on %s: %d, not -EINVAL", shards, machine, err);
    ck_assert_msg(strstr(why, asked) && strstr(why, cores),
                  "cores, %u shards on %s: the message \"%s\" should say \"%s\" and \"%s\"", shards,
                  machine, why, asked, cores);
}

#define ALL every_cpu, 16

START_TEST(one_shard_per_core_on_two_sockets)
{
    /* 2s2n_smt: CPUs 0-3 package 0 cores 0-3, 4-7 package 1 cores 0-3; 8-15 their siblings. */
    const int eight[] = {0, 4, 1, 5, 2, 6, 3, 7};

    expect_plan("2s2n_smt", ALL, 8, eight);
    expect_plan("2s2n_smt", ALL, 3, eight);
    expect_refused("2s2n_smt", ALL, 9, "9 shards", "8 cores");
}
END_TEST

START_TEST(one_shard_per_core_on_one_socket)
{
    /* 1s8c16t: CPU k and k + 8 are the siblings of core k. */
    const int eight[] = {0, 1, 2, 3, 4, 5, 6, 7};

    expect_plan("1s8c16t", ALL, 8, eight);
    expect_refused("1s8c16t", ALL, 16, "16 shards", "8 cores");
}
END_TEST

START_TEST(offline_cpus_and_lone_siblings)
{
    /* offline: CPUs 0, 1, 3, 4, 6, 7; 0 and 4 share core 0, 3 and 7 core 3; 1, 6 are alone. */
    const int four[] = {0, 1, 3, 6};

    expect_plan("offline", ALL, 4, four);
    expect_refused("offline", ALL, 5, "5 shards", "4 cores");
}
END_TEST

START_TEST(a_restricted_mask_counts_cores_per_package)
{
    /* CPUs 0 and 8 are one core of package 0; CPU 4 is core 0 of package 1: two cores. */
    const int allowed[] = {0, 8, 4};
    const int two[] = {0, 4};

    expect_plan("2s2n_smt", allowed, 3, 2, two);
    expect_refused("2s2n_smt", allowed, 3, 3, "3 shards", "2 cores");
}
END_TEST

START_TEST(the_vm_and_the_name)
{
    const int two[] = {0, 1};

    expect_plan("vm2", ALL, 2, two);
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_CORES), "cores");
    ck_assert_str_eq(rt_placement_name(RT_PLACEMENT_SPREAD), "spread");
}
END_TEST

Suite *suite_ex_4_1(void)
{
    Suite *s = suite_create("ex_4_1");
    TCase *tc = test_case("ex_4_1");

    tcase_add_test(tc, one_shard_per_core_on_two_sockets);
    tcase_add_test(tc, one_shard_per_core_on_one_socket);
    tcase_add_test(tc, offline_cpus_and_lone_siblings);
    tcase_add_test(tc, a_restricted_mask_counts_cores_per_package);
    tcase_add_test(tc, the_vm_and_the_name);
    suite_add_tcase(s, tc);
    return s;
}
