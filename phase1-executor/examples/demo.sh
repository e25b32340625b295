#!/bin/sh
# Phase 1's showcase, run by `make demo`: each example with a line of narration.
# Usage: demo.sh BUILD_DIR   (build/phase1)
set -eu
b=$1
echo "== phase 1: futures, tasks and a single-threaded executor"
