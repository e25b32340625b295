/*
 * common/alloc.c - see alloc.h.
 */
#include "common/alloc.h"
#include "common/fatal.h"

#include <stdint.h>
#include <stdlib.h>

static _Thread_local long live_blocks;

void *rt__malloc(size_t size)
{
    void *ptr = malloc(size);
    if (!ptr)
        rt__die("out of memory allocating %zu bytes", size);
    live_blocks++;
    return ptr;
}

void *rt__calloc(size_t count, size_t size)
{
    void *ptr;

    /* calloc() would refuse it too, but "out of memory" would be the wrong message. */
    if (size != 0 && count > SIZE_MAX / size)
        rt__die("allocating %zu x %zu bytes: the size overflows", count, size);
    ptr = calloc(count, size);
    if (!ptr)
        rt__die("out of memory allocating %zu x %zu bytes", count, size);
    live_blocks++;
    return ptr;
}

void rt__free(void *ptr)
{
    if (!ptr)
        return;
    live_blocks--;
    free(ptr);
}

long rt__alloc_live(void)
{
    return live_blocks;
}
