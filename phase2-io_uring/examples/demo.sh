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
"$b/examples/echo_client" --port "$port" --connections 8 --messages 1000

echo "-- SIGINT to the server: the signal completes a read on a signalfd, and it shuts down cleanly"
kill -INT "$server"
status=0
wait "$server" || status=$?
server=
sed 1d server.out # its last words, after the "listening" line
exit "$status"
