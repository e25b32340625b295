/*
 * rt.h - the runtime's public API, phase 3: futures, async functions, the
 * executor, join handles, executors pinned to a CPU, file, network and
 * timer I/O over io_uring, and (new in phase 3) yielding, preemption, task
 * queues with shares, and waking an executor from another thread.
 *
 * Include this one header. Public names start with rt_ (and the async macros
 * are ASYNC_BEGIN, AWAIT, ASYNC_RETURN, ASYNC_END); names with rt__ are
 * internal.
 */
#ifndef RT_H
#define RT_H

#include "future.h"
#include "async.h"
#include "join.h"
#include "executor.h"
#include "thread.h"
#include "io.h"
#include "file.h"
#include "net.h"
#include "timer.h"
#include "scheduling.h"

#endif /* RT_H */
