/*
 * rt.h - the runtime's public API, phase 4: futures, async functions, the
 * executor, join handles, executors pinned to a CPU, file, network and
 * timer I/O over io_uring, yielding, preemption, task queues with shares,
 * and (new in phase 4) a pool of executors placed on the machine's
 * topology, channels between them, and a mesh of channels for sharding.
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
#include "placement.h"
#include "channel.h"
#include "mesh.h"
#include "pool.h"

#endif /* RT_H */
