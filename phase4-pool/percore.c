/*
 * percore.c - per-core memory: free lists of blocks, one per size class,
 * that only the executor's own thread touches. New in phase 4; percore.h
 * explains the design.
 *
 * The bound. A list keeps at most PERCORE_CLASS_BYTES (256 KiB) of free
 * blocks, so an executor caches at most 11 x 256 KiB = 2.75 MiB however
 * many tasks it once had alive: after a burst of 100,000 tasks, all but
 * 2,048 of their 128-byte blocks go back to malloc as they finish. The bound
 * is in bytes, not blocks, because the classes span three orders of
 * magnitude: 1,024 blocks of each would be 64 KiB of 64-byte blocks but 64
 * MiB of 64 KiB buffers. And 256 KiB is far above what a steady workload
 * cycles through (the benchmarks keep 64 tasks, 256 requests or 32 4 KiB
 * buffers alive at a time), so in the steady state no block goes to malloc.
 *
 * The common cases, a block taken from a list or given back to one, are
 * percore.h's inline functions; the functions here do everything, and the
 * inline ones call them for the rest.
 */
#include "percore.h"

#include <sanitizer/asan_interface.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "common/fatal.h"

_Thread_local char rt__percore_thread; /* see percore.h */

struct rt_percore *rt__percore_new(void)
{
    struct rt_percore *pc = rt__calloc(1, sizeof(*pc));

    for (unsigned i = 0; i < PERCORE_CLASSES; i++) {
        pc->lists[i].block_size = (size_t)1 << (PERCORE_MIN_SHIFT + i);
        pc->lists[i].max_len = (unsigned)(PERCORE_CLASS_BYTES >> (PERCORE_MIN_SHIFT + i));
        pc->io_lists[i].block_size = pc->lists[i].block_size;
    }
    pc->owner = &rt__percore_thread;
    return pc;
}

void rt__percore_adopt_thread(struct rt_percore *pc)
{
    pc->owner = &rt__percore_thread;
}

/* Under ASan: let the caller use the first `size` bytes; the rest of the block stays poisoned. */
static void *hand_out(void *block, size_t size, size_t block_size)
{
    ASAN_POISON_MEMORY_REGION(block, block_size);
    ASAN_UNPOISON_MEMORY_REGION(block, size);
    return block;
}

void *rt__percore_alloc_slow(struct rt_percore *pc, size_t size)
{
    struct percore_list *l;
    void *block;

    if (!pc)
        return rt__malloc(size);
    pc->outstanding++;
    if (size > PERCORE_MAX_BLOCK) {
        pc->stats.allocated++;
        return rt__malloc(size);
    }
    l = rt__percore_list(pc, size);
    block = l->first;
    if (!block) {
        pc->stats.allocated++;
        return hand_out(rt__malloc(l->block_size), size, l->block_size);
    }
    ASAN_UNPOISON_MEMORY_REGION(block, sizeof(void *));
    memcpy(&l->first, block, sizeof(void *)); /* the link in its first word */
    l->len--;
    pc->stats.reused++;
    return hand_out(block, size, l->block_size);
}

/*
 * Free the blocks on the lists: malloc's to free(), the I/O memory's with
 * the mapping (they only leave their lists).
 */
static void free_lists(struct rt_percore *pc)
{
    for (unsigned i = 0; i < PERCORE_CLASSES; i++) {
        struct percore_list *l = &pc->lists[i];

        while (l->first) {
            void *block = l->first;

            ASAN_UNPOISON_MEMORY_REGION(block, l->block_size);
            memcpy(&l->first, block, sizeof(void *));
            rt__free(block);
        }
        l->len = 0;
        pc->io_lists[i].first = NULL;
        pc->io_lists[i].len = 0;
    }
}

/* `pc` and its I/O memory, once its executor is gone and nothing is out. */
static void destroy(struct rt_percore *pc)
{
    free_lists(pc);
    if (pc->io_memory) {
        ASAN_UNPOISON_MEMORY_REGION(pc->io_memory, pc->io_size);
        munmap(pc->io_memory, pc->io_size);
    }
    rt__free(pc);
}

/* A block given back that no list keeps: to free(); a closed `pc` goes with its last block. */
static void release(struct rt_percore *pc, void *block, size_t size)
{
    ASAN_UNPOISON_MEMORY_REGION(block, size);
    rt__free(block);
    pc->stats.released++;
    if (pc->closed && pc->outstanding == 0)
        destroy(pc);
}

/* A block given back on another thread than its executor's stops the program. */
static void check_owner(const struct rt_percore *pc)
{
    if (pc->owner != &rt__percore_thread)
        rt__die("a task, request or rt_buf was freed on another thread than its executor's; "
                "they belong to one thread: release an rt_buf where it was read");
}

/*
 * Was `block`, of list `l`'s class, given back already? Under ASan a block
 * on a list is poisoned, wherever it is in the list. Without ASan, only the
 * block on top of its list is checked while the executor lives, the one
 * given back last; the fast path sends it here. That is the usual double
 * free, one right after the other (glibc's malloc makes the same check).
 * Once the executor is gone (`closed`), its lists hold only the blocks that
 * were out then and have come back since, few, and the whole list is
 * searched.
 */
static bool given_back(const struct rt_percore *pc, const struct percore_list *l, const void *block)
{
#ifdef PERCORE_ASAN
    (void)pc;
    (void)l;
    return __asan_address_is_poisoned(block);
#else
    const void *b = l->first;

    if (!pc->closed)
        return b == block;
    for (; b && b != block; memcpy(&b, b, sizeof(void *)))
        ;
    return b == block;
#endif
}

/* Put `block` on top of list `l`, the link in its first word; under ASan, poisoned whole. */
static void push(struct percore_list *l, void *block)
{
    /* The link goes in the first word, which a block of fewer bytes was not given (ASan). */
    ASAN_UNPOISON_MEMORY_REGION(block, sizeof(void *));
    memcpy(block, &l->first, sizeof(void *));
    l->first = block;
    l->len++;
    ASAN_POISON_MEMORY_REGION(block, l->block_size);
}

/* One block fewer out, unless it was not out (`twice`): then the program stops. */
static void count_back(struct rt_percore *pc, bool twice)
{
    if (twice)
        rt__die("a block of per-core memory was given back twice (a task, request or rt_buf "
                "freed twice)");
    ASSERT(pc->outstanding > 0);
    pc->outstanding--;
}

void rt__percore_free_slow(struct rt_percore *pc, void *block, size_t size)
{
    struct percore_list *l;

    if (!pc) {
        rt__free(block);
        return;
    }
    check_owner(pc);
    if (size > PERCORE_MAX_BLOCK) { /* never on a list: malloc's own checks are all there is */
        count_back(pc, false);
        release(pc, block, size);
        return;
    }
    l = rt__percore_list(pc, size);
    count_back(pc, given_back(pc, l, block));
    if (pc->closed) {
        /* Kept on its list until the last block is back, so that a second release is seen. */
        push(l, block);
        if (pc->outstanding == 0)
            destroy(pc);
        return;
    }
    if (l->len == l->max_len) {
        release(pc, block, l->block_size);
        return;
    }
    push(l, block);
    pc->stats.recycled++;
}

void rt__percore_close(struct rt_percore *pc)
{
    free_lists(pc); /* the cache: nothing will take from it again */
    pc->closed = true;
    if (pc->outstanding == 0)
        destroy(pc);
}

void rt__percore_stats(const struct rt_percore *pc, struct rt_memory_stats *out)
{
    *out = pc->stats;
    out->outstanding = pc->outstanding;
    out->cached_blocks = 0;
    out->cached_bytes = 0;
    for (unsigned i = 0; i < PERCORE_CLASSES; i++) {
        out->cached_blocks += pc->lists[i].len;
        out->cached_bytes += pc->lists[i].len * pc->lists[i].block_size;
    }
}

/* ------------------------------------------------------------ I/O memory */

void *rt__percore_io_memory_new(struct rt_percore *pc, size_t size)
{
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (mem == MAP_FAILED)
        return NULL;
    ASAN_POISON_MEMORY_REGION(mem, size); /* uncut: nobody's to touch */
    pc->io_memory = mem;
    pc->io_size = size;
    pc->io_cut = 0;
    pc->stats.io_memory = size;
    return mem;
}

void rt__percore_io_memory_drop(struct rt_percore *pc)
{
    ASSERT(pc->io_cut == 0);
    ASAN_UNPOISON_MEMORY_REGION(pc->io_memory, pc->io_size);
    munmap(pc->io_memory, pc->io_size);
    pc->io_memory = NULL;
    pc->io_size = 0;
    pc->stats.io_memory = 0;
}

/*
 * A new block of `l`'s class cut from the I/O memory, or NULL when it has no
 * room. Aligned to its size, up to 4 KiB: a 4 KiB buffer then lies in one
 * page, so its read has one page to fill, not two.
 */
static void *cut(struct rt_percore *pc, const struct percore_list *l)
{
    size_t align = l->block_size < 4096 ? l->block_size : 4096;
    size_t at = (pc->io_cut + align - 1) & ~(align - 1);

    if (at > pc->io_size || pc->io_size - at < l->block_size)
        return NULL;
    pc->io_cut = at + l->block_size;
    return pc->io_memory + at;
}

void *rt__percore_alloc_buf_slow(struct rt_percore *pc, size_t size)
{
    struct percore_list *l;
    void *block;

    if (!pc || !pc->io_memory || size > PERCORE_MAX_BLOCK)
        return rt__percore_alloc(pc, size);
    l = &pc->io_lists[rt__percore_class(size)];
    block = l->first;
    if (block) {
        ASAN_UNPOISON_MEMORY_REGION(block, sizeof(void *));
        memcpy(&l->first, block, sizeof(void *));
        l->len--;
    } else {
        block = cut(pc, l);
        if (!block)
            return rt__percore_alloc(pc, size); /* all cut: an ordinary block, a plain READ */
    }
    pc->outstanding++;
    pc->stats.registered++;
    return hand_out(block, size, l->block_size);
}

void rt__percore_free_buf_slow(struct rt_percore *pc, void *block, size_t size)
{
    struct percore_list *l;

    if (!rt__percore_registered(pc, block)) {
        rt__percore_free(pc, block, size);
        return;
    }
    check_owner(pc);
    l = &pc->io_lists[rt__percore_class(size)];
    count_back(pc, given_back(pc, l, block));
    push(l, block); /* closed: kept there until the last block is back, as in free_slow() */
    if (pc->closed && pc->outstanding == 0)
        destroy(pc);
}
