/*
 * common/alloc.c - see alloc.h.
 */
#include "common/alloc.h"
#include "common/fatal.h"

#include <stdlib.h>

static _Thread_local long live_blocks;

void *xmalloc(size_t size)
{
    void *ptr = malloc(size);
    if (!ptr)
        die("out of memory allocating %zu bytes", size);
    live_blocks++;
    return ptr;
}

void *xcalloc(size_t count, size_t size)
{
    void *ptr = calloc(count, size);
    if (!ptr)
        die("out of memory allocating %zu x %zu bytes", count, size);
    live_blocks++;
    return ptr;
}

void xfree(void *ptr)
{
    if (!ptr)
        return;
    live_blocks--;
    free(ptr);
}

long xalloc_live(void)
{
    return live_blocks;
}
