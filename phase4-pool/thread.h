/*
 * thread.h - executors on threads of their own, pinned to a CPU.
 *
 * Thread-per-core means one executor per CPU, each on a thread that the
 * kernel keeps on that CPU. rt_builder_spawn() starts such a thread: it makes
 * an executor there (as configured by the builder), runs one future to
 * completion on it, destroys it, and keeps the future's output for
 * rt_thread_join().
 */
#ifndef RT_THREAD_H
#define RT_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "future.h"

struct rt_thread;

/*
 * Start a thread with an executor built by `b` (NULL: defaults) and run the
 * `size` bytes of future at `f` (copied, not yet polled) on it. Returns 0
 * and the thread in *out, or -errno: -EINVAL for a CPU that does not exist
 * or is not in this process's allowed set, -EAGAIN if no thread can be made;
 * rt_last_error() says which.
 * The future is the thread's from this call on: if it never runs (either
 * error, here or in rt_thread_join), it is dropped, not leaked.
 */
int rt_builder_spawn(const struct rt_builder *b, const struct rt_future *f, size_t size,
                     struct rt_thread **out);

/*
 * Wait for the thread, store the future's output in *out (if out is not
 * NULL), and free the thread. Returns 0, or the -errno with which the
 * executor could not be created on that thread; rt_last_error(), on the
 * thread that joins, is then the explanation that thread had.
 */
int rt_thread_join(struct rt_thread *t, intptr_t *out);

/* Pin the calling thread to `cpu`. Returns 0, or -EINVAL (see rt_last_error()) as above. */
int rt_pin_current_thread(int cpu);

#endif /* RT_THREAD_H */
