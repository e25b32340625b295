/*
 * hello.c - the smallest program: one future, run to completion on one executor.
 *
 * A future is a plain struct whose first field is a struct rt_future. Making
 * one runs nothing; rt_executor_run() polls it until it is ready and returns
 * its output.
 *
 * Run: make phase1 && build/phase1/examples/hello
 */
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "rt.h"

struct greet {
    struct rt_future future; /* first, so a struct greet * is also a struct rt_future * */
    const char *who;         /* what the future needs, stored in it: poll has no other input */
};

static enum rt_poll greet_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct greet *f = (struct greet *)self;

    (void)cx; /* ready on the first poll, so it never needs to keep the waker */
    /* The output is an intptr_t: here printf's result, >= 0 or negative on error. */
    *out = printf("hello, %s\n", f->who);
    return RT_READY;
}

/* drop is NULL: a greet owns nothing that would need releasing. */
static const struct rt_future_vtable greet_vtable = {.poll = greet_poll, .drop = NULL};

int main(int argc, char **argv)
{
    struct greet f = {.future = {.vtable = &greet_vtable}, .who = "world"};
    struct rt_executor *ex;
    intptr_t out;
    int err;

    if (argc > 1)
        return args_none(argc, argv, "one future, run to completion on one executor");
    err = rt_executor_create(NULL, &ex);
    if (err < 0) {
        fprintf(stderr, "rt_executor_create: %s\n", strerror(-err));
        return 1;
    }
    printf("the future is made, but nothing has run yet\n");
    /* run() copies f into a task of its own, so our f is never polled (or moved after a poll). */
    out = rt_executor_run(ex, &f.future, sizeof(f));
    printf("rt_executor_run returned %ld (the bytes printed)\n", (long)out);
    rt_executor_destroy(ex);
    return 0;
}
