/*
 * percore.h - per-core memory: each executor keeps the blocks its tasks,
 * requests and owned buffers give back, and hands them out again
 * (internal). New in phase 4.
 *
 * Seastar's idea in its simplest form. A task, a source or a buffer is made
 * and freed by one thread, its executor's, over and over; malloc serves that
 * pattern through paths built for any thread freeing anything (atomic
 * operations, a lock once its small per-thread cache overflows). So each
 * executor keeps its own free lists, one per size class, which only its
 * thread ever touches: taking a block is popping a list, giving it back is
 * pushing it, and no atomic operation is needed anywhere.
 *
 *   size classes   powers of two, 64 B to 64 KiB (PERCORE_MIN/MAX_SHIFT); a
 *                  block is malloc'd at its class's size, so any request of
 *                  that class can reuse it. Larger requests go to malloc and
 *                  back to free() every time.
 *   free lists     singly linked through the blocks' first word; last in,
 *                  first out, so the next task gets the block the last one
 *                  warmed in the CPU's cache.
 *   the bound      a class keeps at most PERCORE_CLASS_BYTES of free blocks
 *                  (4,096 blocks of 64 B, 64 of 4 KiB, 4 of 64 KiB); a block
 *                  given back to a full list goes to free(). See percore.c.
 *   sized free     the caller gives the size back with the block, as C++'s
 *                  sized delete does, so a block needs no header of its own:
 *                  a task or source remembers its size, an rt_buf its size.
 *
 * One thread. A struct rt_percore belongs to the thread that runs its
 * executor: blocks are taken and given back there only (tasks and sources
 * never cross threads, and an rt_buf must not either). Giving one back on
 * another thread stops the program with a message: it costs one compare.
 * The compare is of a thread-local byte's address, and a thread started
 * after another has ended may be given the same one: it catches the usual
 * mistake, not every one.
 *
 * Lifetime. The executor makes its per-core memory and closes it when it is
 * destroyed: the cached blocks are freed then. A block still out at that
 * moment (a join handle the program kept, an rt_buf not yet released, an
 * rt_io never polled) keeps the struct alive; given back later, it goes to
 * plain free(), and the last one frees the struct. So rt__alloc_live()
 * (common/alloc.h) is exact: cached blocks count as allocated until the
 * executor is destroyed, and nothing is left after that.
 *
 * Given back twice. A block given back while it is on top of its list,
 * that is, twice with no other block of its class given back in between,
 * stops the program with a message. It costs one compare, and it catches
 * the usual mistake, an rt_buf and a copy of it both released. A block
 * deeper in the list only AddressSanitizer sees.
 *
 * AddressSanitizer. A block on a free list is poisoned, so a task or a
 * source touched after it was freed is still reported (as a
 * use-after-poison), and so is a block given back twice. What ASan's own
 * allocator also catches and this cannot: a stale pointer into a block that
 * has been handed out again, since the block is reused at once instead of
 * waiting in ASan's quarantine.
 */
#ifndef RT_PERCORE_H
#define RT_PERCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "executor.h"

/*
 * With AddressSanitizer on (gcc defines __SANITIZE_ADDRESS__, clang answers
 * __has_feature), free blocks are poisoned: then every block goes through
 * percore.c's functions, which do that (see the end of this file).
 */
#if defined(__SANITIZE_ADDRESS__)
#define PERCORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PERCORE_ASAN 1
#endif
#endif

#define PERCORE_MIN_SHIFT   6  /* the smallest class: 64 B */
#define PERCORE_MAX_SHIFT   16 /* the largest class: 64 KiB */
#define PERCORE_CLASSES     (PERCORE_MAX_SHIFT - PERCORE_MIN_SHIFT + 1)
#define PERCORE_MAX_BLOCK   ((size_t)1 << PERCORE_MAX_SHIFT)
#define PERCORE_CLASS_BYTES ((size_t)256 << 10) /* the most one class keeps in free blocks */

/* The free blocks of one size class. */
struct percore_list {
    void *first;       /* a free block; its first word points at the next one, or NULL */
    unsigned len;      /* blocks on the list */
    unsigned max_len;  /* the bound: PERCORE_CLASS_BYTES / the class's block size */
    size_t block_size; /* bytes in each block: a power of two */
};

struct rt_percore {
    struct percore_list lists[PERCORE_CLASSES]; /* lists[i]: blocks of 64 << i bytes */
    const void *owner;            /* the thread that may use it (see rt__percore_adopt_thread) */
    unsigned long outstanding;    /* blocks handed out and not given back: they keep it alive */
    bool closed;                  /* its executor is gone: see rt__percore_close() */
    struct rt_memory_stats stats; /* executor.h; cached_* are counted when read */

    /* I/O memory: registered with the executor's ring, for owned buffers (see below) */
    char *io_memory;                               /* NULL: none */
    size_t io_size;                                /* its bytes */
    size_t io_cut;                                 /* bytes cut into blocks so far */
    struct percore_list io_lists[PERCORE_CLASSES]; /* its free blocks, by class */
};

/* New per-core memory, owned by the calling thread; an executor makes one when it is created. */
struct rt_percore *rt__percore_new(void);

/* From now on, `pc` belongs to the calling thread: the executor runs here. */
void rt__percore_adopt_thread(struct rt_percore *pc);

/*
 * The executor is being destroyed: free the cached blocks, and `pc` once
 * nothing is out. Until then, the blocks that come back wait on their lists,
 * where a second release of one is found, and go with the last.
 */
void rt__percore_close(struct rt_percore *pc);

/* The counters, with the cached blocks and bytes counted now. */
void rt__percore_stats(const struct rt_percore *pc, struct rt_memory_stats *out);

/* The executor's per-core memory (provided by executor.c). */
struct rt_percore *rt__executor_percore(struct rt_executor *ex);

/* ------------------------------------------------- taking and giving back */

/*
 * Taking a block from a list that has one, and giving one back to a list
 * with room, take a few instructions each, fewer than a call to another file
 * would: so they are inlined into the task and source code that calls them.
 * Everything else (an empty or a full list, a block too big for the lists, a
 * closed `pc`, a block given back on the wrong thread, AddressSanitizer's
 * poisoning) is percore.c's, out of line.
 */
void *rt__percore_alloc_slow(struct rt_percore *pc, size_t size);
void rt__percore_free_slow(struct rt_percore *pc, void *block, size_t size);

/* One byte per thread; its address names the thread (see `owner`). */
extern _Thread_local char rt__percore_thread;

/*
 * The list for blocks of `size` bytes (at most PERCORE_MAX_BLOCK): the
 * smallest power of two that holds them, 64 at least. __builtin_clzl (a GNU
 * extension gcc and clang share) counts the leading zero bits, so 64 minus
 * it is the bit width of size - 1.
 */
static inline unsigned rt__percore_class(size_t size)
{
    if (size <= ((size_t)1 << PERCORE_MIN_SHIFT))
        return 0;
    return (unsigned)(64 - __builtin_clzl(size - 1)) - PERCORE_MIN_SHIFT;
}

static inline struct percore_list *rt__percore_list(struct rt_percore *pc, size_t size)
{
    return &pc->lists[rt__percore_class(size)];
}

/*
 * A block of at least `size` bytes (aligned like malloc's), from `pc`'s free
 * lists when one of its class is there, else from malloc. `pc` may be NULL:
 * then it is plain rt__malloc() (a request prepared outside any executor).
 * Its contents are garbage, as malloc's are.
 */
static inline void *rt__percore_alloc(struct rt_percore *pc, size_t size)
{
#ifndef PERCORE_ASAN
    if (pc && size <= PERCORE_MAX_BLOCK) {
        struct percore_list *l = rt__percore_list(pc, size);
        void *block = l->first;

        if (block) {
            memcpy(&l->first, block, sizeof(void *)); /* the link in its first word */
            l->len--;
            pc->outstanding++;
            pc->stats.reused++;
            return block;
        }
    }
#endif
    return rt__percore_alloc_slow(pc, size);
}

/*
 * Give back a block that rt__percore_alloc(pc, size) returned, with the same
 * `pc` and `size`. On the owner thread only; stops the program otherwise.
 */
static inline void rt__percore_free(struct rt_percore *pc, void *block, size_t size)
{
#ifndef PERCORE_ASAN
    if (pc && size <= PERCORE_MAX_BLOCK && !pc->closed && pc->owner == &rt__percore_thread) {
        struct percore_list *l = rt__percore_list(pc, size);

        /* Not the block on top: that one was given back already (percore.c says so). */
        if (l->len < l->max_len && pc->outstanding > 0 && block != l->first) {
            memcpy(block, &l->first, sizeof(void *)); /* the link in its first word */
            l->first = block;
            l->len++;
            pc->outstanding--;
            pc->stats.recycled++;
            return;
        }
    }
#endif
    rt__percore_free_slow(pc, block, size);
}

/* ------------------------------------------------------------ I/O memory */

/*
 * Phase 4's owned buffers come from memory registered with the executor's
 * ring (IORING_REGISTER_BUFFERS), so that a read into one is a READ_FIXED:
 * the kernel has the pages already, and skips looking them up on every
 * request. An executor whose builder asks for it (io_memory, executor.h)
 * registers it when it is made (executor.c); without it, or when the
 * kernel refuses it (RLIMIT_MEMLOCK), every buffer comes from the lists
 * above.
 *
 * It is cut into blocks of the same size classes, on demand, each aligned
 * to its size up to 4 KiB; a block, once cut, stays in its class and goes
 * back to io_lists[], never to free(). When it is all cut and a class's
 * list is empty, a buffer comes from the ordinary lists (or malloc), and
 * its read is a plain READ. Only buffers come from it: a task or a source
 * would take room that reads need.
 *
 * It is mapped (mmap) rather than malloc'd, so that it starts a page, and it
 * is unmapped with the struct, when the executor is gone and its last block
 * is back: rt__alloc_live() counts the struct, which is enough to see a leak.
 */

/* Make `size` bytes of I/O memory (a multiple of the page size). Returns it, or NULL. */
void *rt__percore_io_memory_new(struct rt_percore *pc, size_t size);

/* The ring refused it: give it back. Only before any buffer was cut from it. */
void rt__percore_io_memory_drop(struct rt_percore *pc);

/* Is `block` in `pc`'s I/O memory? `pc` may be NULL. Then its reads are READ_FIXED. */
static inline bool rt__percore_registered(const struct rt_percore *pc, const void *block)
{
    uintptr_t at = (uintptr_t)block, base;

    if (!pc || !pc->io_memory)
        return false;
    base = (uintptr_t)pc->io_memory;
    return at >= base && at - base < pc->io_size;
}

void *rt__percore_alloc_buf_slow(struct rt_percore *pc, size_t size);
void rt__percore_free_buf_slow(struct rt_percore *pc, void *block, size_t size);

/* A buffer of `size` bytes at least: from the I/O memory while it has room, else as above. */
static inline void *rt__percore_alloc_buf(struct rt_percore *pc, size_t size)
{
#ifndef PERCORE_ASAN
    if (pc && size <= PERCORE_MAX_BLOCK) {
        struct percore_list *l = &pc->io_lists[rt__percore_class(size)];
        void *block = l->first;

        if (block) {
            memcpy(&l->first, block, sizeof(void *));
            l->len--;
            pc->outstanding++;
            pc->stats.registered++;
            return block;
        }
    }
#endif
    return rt__percore_alloc_buf_slow(pc, size);
}

/* Give back a buffer from rt__percore_alloc_buf(). */
static inline void rt__percore_free_buf(struct rt_percore *pc, void *block, size_t size)
{
#ifndef PERCORE_ASAN
    if (rt__percore_registered(pc, block) && !pc->closed && pc->owner == &rt__percore_thread) {
        struct percore_list *l = &pc->io_lists[rt__percore_class(size)];

        if (block != l->first) { /* on top: given back already */
            memcpy(block, &l->first, sizeof(void *));
            l->first = block;
            l->len++;
            pc->outstanding--;
            return;
        }
    }
#endif
    rt__percore_free_buf_slow(pc, block, size);
}

#endif /* RT_PERCORE_H */
