#!/bin/sh
# Phase 4's showcase, run by `make demo`: phase 2's and phase 3's examples (as phase 3's demo has
# them), then the pool: where shards go, a round trip between two cores, an echo server sharded per
# core, and the capstone key-value server spoken to by redis-cli.
# Usage: demo.sh BUILD_DIR   (build/phase4)
# Phase 1's examples are built into BUILD_DIR too; phase 1's demo is the one that runs them.
set -eu
b=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd) # absolute: we work in a temp directory
fixtures=$(cd "$(dirname "$0")/../../tests/fixtures/topology" && pwd) # the fake machines
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

# wait_for_port NAME FILE: print the port NAME (in the background, $server) wrote to FILE
# in its "listening on ... port N" line (N may end the line or be followed by a comma),
# waiting at most 5 s; on failure, show FILE and end the script.
wait_for_port() {
    tries=0
    port=
    while [ -z "$port" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 50 ] || ! kill -0 "$server" 2>/dev/null; then
            echo "$1 did not start:" >&2
            cat "$2" >&2
            exit 1
        fi
        sleep 0.1
        port=$(sed -n -e 's/.* listening on .* port \([0-9][0-9]*\)$/\1/p' \
            -e 's/.* listening on .* port \([0-9][0-9]*\),.*/\1/p' "$2")
    done
    echo "$port"
}

# stop_server FILE: SIGINT to $server, wait for it, and show what it said after its first line.
stop_server() {
    kill -INT "$server"
    status=0
    wait "$server" || status=$?
    server=
    sed 1d "$1"
    [ "$status" -eq 0 ] || exit "$status"
}

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
stop_server server.out

echo "== phase 4: a pool of executors, one per core, talking through channels"

echo "-- pool_hello: one executor per CPU of this machine (spread), each saying where it runs"
"$b/examples/pool_hello" --placement spread

echo "-- pool_hello on a fake machine with 2 sockets = 2 NUMA nodes, 4 cores each, 2 threads per core:"
echo "   where 6 shards go with max-spread (one per node, then per core; SMT siblings last) ..."
"$b/examples/pool_hello" --sysfs-root "$fixtures/2s2n_smt" --shards 6 --placement spread
echo "   ... and with max-pack (both siblings of a core, then the next core, then the next socket)"
"$b/examples/pool_hello" --sysfs-root "$fixtures/2s2n_smt" --shards 6 --placement pack

echo "-- ping_pong: two shards pass a number over two channels; each parks while it waits ..."
"$b/examples/ping_pong" --rounds 5000
echo "   ... and spinning up to 200 us before parking: nobody sleeps, two CPUs stay busy"
"$b/examples/ping_pong" --rounds 5000 --spin 200000

echo "-- sharded_echo: every shard listens on the same port (SO_REUSEPORT); echo_client against it"
"$b/examples/sharded_echo" --port 0 >sharded.out 2>&1 &
server=$!
port=$(wait_for_port sharded_echo sharded.out)
cat sharded.out
"$b/examples/echo_client" --port "$port" --connections 16 --messages 1000

echo "-- SIGINT: shard 0 reads it and tells the others through the mesh; connections per shard:"
stop_server sharded.out

# ------------------------------------------------------------------ the capstone: kv_server
# kv_server (examples/kv_server/) with two shards, and a short redis-cli session against it.
echo
echo "== phase 4 capstone: kv_server, one shard per core, spoken to by redis-cli as if it were Redis"
if ! command -v redis-cli >/dev/null 2>&1; then
    echo "(redis-cli is not installed: apt-get install redis-tools, and run the demo again)"
    exit 0
fi
"$b/examples/kv_server" --port 0 --shards 2 --placement unbound >kv.out 2>&1 &
server=$!
port=$(wait_for_port kv_server kv.out)
cat kv.out
cli() { # show the command as redis-cli's prompt would, then its reply
    echo "127.0.0.1:$port> $*"
    redis-cli -p "$port" --no-raw "$@"
}
echo "-- each key lives on one shard (greeting on one, counter on the other, by rt_shard_of);"
echo "   a command for a key the other shard owns goes through the mesh"
cli SET greeting hello
cli GET greeting
cli SET counter 41
cli INCR counter
echo "-- MSET and MGET fan out to both shards (apple and cherry on one, fig and grape on the other)"
echo "   and gather the replies, in order"
cli MSET apple red cherry dark fig green grape white
cli MGET apple cherry fig grape nosuch
echo "-- a key with 1 s to live (SET ... EX): TTL, then gone; DBSIZE sums the shards' counts"
cli SET session token EX 1
cli TTL session
cli DBSIZE
sleep 1.2
cli GET session
cli DBSIZE
echo "-- errors are Redis's own, byte for byte"
cli INCR greeting
cli SET k v EX 0
echo "-- SIGINT: every connection closed, every shard joined"
stop_server kv.out
