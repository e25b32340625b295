#!/bin/sh
# Phase 1's showcase, run by `make demo`: each example with a line of narration.
# Usage: demo.sh BUILD_DIR   (build/phase1)
set -eu
b=$1
echo "== phase 1: futures, tasks and a single-threaded executor"

echo "-- naive: an executor in one short file, without wakers: every turn polls every unfinished future"
"$b/examples/naive"

echo "-- hello: one future, polled once by one executor; its output comes back from run()"
"$b/examples/hello"

echo "-- hello again with RT_TRACE=1: a line on stderr per runtime event (docs/tracing.md reads it)"
RT_TRACE=1 "$b/examples/hello"

echo "-- spawn_join: 1000 tasks fanned out with rt_spawn, fanned in through their join handles"
"$b/examples/spawn_join" 1000

echo "-- handwritten: the same async function as a hand-written state machine and with the macros"
"$b/examples/handwritten"

echo "-- pinned: one executor thread per allowed CPU, each pinned there, and the error for a CPU that is not"
"$b/examples/pinned"
