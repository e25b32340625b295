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

void rt__async_fell_off(const struct rt_async *a, const char *file, int line)
{
    (void)a;
    rt__die("%s:%d: an async future reached ASYNC_END without ASYNC_RETURN", file, line);
}

void rt__async_bad_resume(const struct rt_async *a, const char *file, int line)
{
    if (a->line == -1)
        rt__die("%s:%d: an async future was polled again after it finished", file, line);
    rt__die("%s:%d: an async future was resumed at its AWAIT on line %d, but that AWAIT is not a "
            "case of ASYNC_BEGIN's switch: is it inside a switch statement of your own? "
            "(use if/else around an AWAIT)",
            file, line, a->line);
}
