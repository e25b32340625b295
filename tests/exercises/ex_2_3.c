/*
 * tests/exercises/ex_2_3.c - the check for chapter 2's exercise 3: a
 * source cache.
 *
 * The exercise keeps freed sources whose data[] is at most 64 bytes (a NOP,
 * a sleep, a connect, a short write) on a free list of the reactor's, up to
 * 64 of them, and hands them out again instead of calling malloc; teardown
 * frees the list. Nothing in the API changes, so the test watches the one
 * thing that does: rt__alloc_live(), the count of blocks the runtime has
 * allocated on this thread and not freed. With the cache, a finished NOP
 * leaves one block behind (its source, now cached), and a thousand more
 * NOPs one after the other still leave exactly one. The harness's leak
 * check, after the executor is destroyed, proves that teardown frees the
 * cache.
 */
#include "harness.h"

TEST_SINCE_PHASE(2);

struct reuse {
    struct rt_async async;
    struct rt_io io;
    long before; /* blocks alive before the first request */
    int i;
    intptr_t n;
};

static enum rt_poll reuse_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct reuse *f = (struct reuse *)self;

    ASYNC_BEGIN(f, cx, out);
    f->before = rt__alloc_live();
    rt_io_nop(&f->io);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_msg(rt__alloc_live() == f->before + 1,
                  "exercise 2.3 is not done yet: after one NOP, %ld block(s) more than before "
                  "are alive; a cache would keep the NOP's source (1 more)",
                  rt__alloc_live() - f->before);

    /* One at a time, each request takes the cached source and gives it back. */
    for (f->i = 0; f->i < 1000; f->i++) {
        rt_io_nop(&f->io);
        AWAIT(&f->io.future, &f->n);
        ck_assert_int_eq(f->n, 0);
    }
    ck_assert_int_eq(rt__alloc_live(), f->before + 1);

    /* A sleep's source (a 16-byte timespec) is small enough to come from the cache too. */
    rt_io_sleep(&f->io, 1000);
    AWAIT(&f->io.future, &f->n);
    ck_assert_int_eq(f->n, 0);
    ck_assert_int_eq(rt__alloc_live(), f->before + 1);
    ASYNC_RETURN(0);
    ASYNC_END;
}

static const struct rt_future_vtable reuse_vtable = {reuse_poll, rt_async_drop};

START_TEST(freed_sources_are_reused)
{
    struct reuse f = {.async = RT_ASYNC_INIT(&reuse_vtable)};

    ck_assert_int_eq(test_run(&f.async.future, sizeof(f)), 0);
}
END_TEST

Suite *suite_ex_2_3(void)
{
    Suite *s = suite_create("exercise 2.3");
    TCase *tc = test_case("a source cache");

    tcase_add_test(tc, freed_sources_are_reused);
    suite_add_tcase(s, tc);
    return s;
}
