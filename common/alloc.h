/*
 * common/alloc.h - counted allocation.
 *
 * Every allocation the runtime makes goes through rt__malloc()/rt__free(), which
 * keep a per-thread count of blocks allocated and not yet freed. A test ends
 * by checking that count is back to zero: a cheap, always-on proof that a
 * path freed what it allocated (AddressSanitizer's leak checker proves the
 * same thing more thoroughly in `make test SAN=1`).
 *
 * The count is per thread, not global, so counting costs no atomic operation.
 * That is right for this runtime because an object is almost always freed by
 * the thread that allocated it: tasks never move between executors. Where a
 * block does cross threads (a future handed to rt_builder_spawn() that owns
 * memory), one thread's count goes up and another's down; the tests check
 * the count only on threads where that cannot happen, and AddressSanitizer's
 * leak check covers the rest.
 *
 * Running out of memory is fatal here, as it is in Rust's standard library: a
 * runtime that must return -ENOMEM from every spawn is harder to read and no
 * more useful in practice.
 */
#ifndef COMMON_ALLOC_H
#define COMMON_ALLOC_H

#include <stddef.h>

void *rt__malloc(size_t size); /* never returns NULL */
void *rt__calloc(size_t count, size_t size);
void rt__free(void *ptr); /* NULL is allowed, as with free() */

/* Blocks this thread allocated with rt__malloc/rt__calloc and has not freed. */
long rt__alloc_live(void);

#endif /* COMMON_ALLOC_H */
