#!/bin/sh
# Phase 3's showcase, run by `make demo`: first what phase 3 adds, task queues (priorities,
# shares) and the doorbell (waking an executor from another thread), then phase 2's I/O examples
# and an echo server that sleeps in the kernel when it has nothing to do.
# Usage: demo.sh BUILD_DIR   (build/phase3)
# Phase 1's examples are built into BUILD_DIR too; phase 1's demo is the one that runs them.
set -eu
b=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd) # absolute: we work in a temp directory
tmp=$(mktemp -d)
server=

# However the script ends (an error, Ctrl-C), stop the server if it runs and remove the temp files.
# shellcheck disable=SC2317  # only called by the trap, which shellcheck 0.9 does not follow
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM # a signal ends the script through the EXIT trap
cd "$tmp" # short names in what the examples print

# The CPU time process $1 has used so far, in ms: /proc/PID/schedstat's first field counts ns on a
# CPU (its main thread's, which is where the executor runs); without it, /proc/PID/stat's ticks.
cpu_ms() {
    if [ -r "/proc/$1/schedstat" ]; then
        awk '{ printf "%d", $1 / 1000000 }' "/proc/$1/schedstat"
    else
        awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
    fi
}

# Print how much CPU time process $1 used in one second of doing nothing ($2 says when).
idle_cpu() {
    before=$(cpu_ms "$1")
    sleep 1
    after=$(cpu_ms "$1")
    echo "echo_server, idle $2: $((after - before)) ms of CPU time in 1 s (phase 2's spins: up to 1000)"
}

echo "== phase 3: parking, preemption, task queues with shares"

echo "-- priorities: a task waking every 1 ms beside two CPU hogs, in one queue, then in two queues"
"$b/examples/priorities"

echo "-- shares: two CPU-bound tasks in task queues with shares 200 and 100 split the thread 2:1"
"$b/examples/shares"

echo "-- doorbell: another thread wakes a parked executor (rt_executor_notify); RT_TRACE=1 shows how"
"$b/examples/doorbell"

echo "-- cat: every open, read, write and close goes through the ring; a missing file is skipped"
printf 'one\ntwo\n' >a.txt
printf 'three\n' >b.txt
"$b/examples/cat" a.txt missing.txt b.txt || echo "(exit status $?, as cat's)"

echo "-- cp: 5 MB of random bytes by 8 tasks with a chunk each in flight, then fsync; cmp checks"
dd if=/dev/urandom of=random bs=1000 count=5243 2>/dev/null
"$b/examples/cp" random copy
cmp random copy && echo "cmp: the copy is identical"

echo "-- sleep_sort: a task per number sleeps that many ms, so they wake in order; then rt_timeout"
"$b/examples/sleep_sort"

echo "-- timeout: a recv under a 10 ms deadline; nothing comes, so the recv is cancelled; then data does"
"$b/examples/timeout"

echo "-- echo_server in the background on a port the kernel picks, and echo_client against it"
"$b/examples/echo_server" --port 0 >server.out 2>&1 &
server=$!
port=
tries=0
while [ -z "$port" ]; do # until the server prints the port it listens on (at most 5 s)
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ] || ! kill -0 "$server" 2>/dev/null; then
        echo "echo_server did not start:"
        cat server.out
        exit 1
    fi
    sleep 0.1
    port=$(sed -n 's/.* listening on .* port \([0-9][0-9]*\)$/\1/p' server.out)
done
cat server.out
idle_cpu "$server" "before any client"
"$b/examples/echo_client" --port "$port" --connections 8 --messages 1000
idle_cpu "$server" "after the clients left"

echo "-- SIGINT to the server: the signal completes a read on a signalfd, and it shuts down cleanly"
kill -INT "$server"
status=0
wait "$server" || status=$?
server=
sed 1d server.out # its last words, after the "listening" line
exit "$status"
