/*
 * async.c - the two functions behind the macros in async.h.
 */
#include "async.h"

#include "common/fatal.h"

void rt_async_drop(struct rt_future *self)
{
    struct rt_async *a = (struct rt_async *)self;

    /* Dropping a future suspended in an AWAIT drops the child it waits for, as Rust does. */
    if (a->awaiting) {
        rt_future_drop(a->awaiting);
        a->awaiting = NULL;
    }
}

void rt__async_bad_resume(const struct rt_async *a, const char *file, int line)
{
    if (a->line == -1)
        die("%s:%d: an async future was polled again after it finished", file, line);
    die("%s:%d: an async future reached ASYNC_END without ASYNC_RETURN", file, line);
}
