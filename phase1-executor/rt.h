/*
 * rt.h - the runtime's public API, phase 1: futures, async functions, the
 * executor, join handles, and executors pinned to a CPU.
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

#endif /* RT_H */
