#!/bin/sh
# Phase 2's showcase, run by `make demo`: the I/O examples, each with a line of narration.
# Usage: demo.sh BUILD_DIR   (build/phase2)
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

echo "== phase 2: file, network and timer I/O over io_uring"

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
"$b/examples/echo_client" --port "$port" --connections 8 --messages 1000

echo "-- SIGINT to the server: the signal completes a read on a signalfd, and it shuts down cleanly"
kill -INT "$server"
status=0
wait "$server" || status=$?
server=
sed 1d server.out # its last words, after the "listening" line
[ "$status" -eq 0 ] || exit "$status"

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
port=
tries=0
while [ -z "$port" ]; do # until it prints the port it listens on (at most 5 s)
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ] || ! kill -0 "$server" 2>/dev/null; then
        echo "kv_server did not start:"
        cat kv.out
        exit 1
    fi
    sleep 0.1
    port=$(sed -n 's/.* listening on .* port \([0-9][0-9]*\),.*/\1/p' kv.out)
done
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
echo "-- MSET and MGET fan out to both shards (apple and fig on one, cherry and grape on the other)"
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
kill -INT "$server"
status=0
wait "$server" || status=$?
server=
sed 1d kv.out
exit "$status"
