#!/usr/bin/env bash
# floor_ratio.sh: rbgw's CPU per call over the do-nothing relay floors, in one run.
#
#   unix-unix  / floor-unix   rbgw --listen=unix --upstream=unix  vs bench/floor_relay.c
#   unix-http  / floor-http   rbgw --listen=unix --upstream=http  vs floor_relay --upstream-http
#
# for 1 and 16 connections: connectors.sh's cpu section on just these four paths (the path
# order flipping every round), which prints the per-path table and then one line per pair and
# connection count, e.g.
#
#   ratio c16 unix-http/floor-http: cpu_us=1.210 perf_task_us=1.198 (target <= 1.25)
#
# (median over rounds of the per-round ratio; cpu_us is utime+stime from /proc, in 10 ms ticks,
# perf_task_us is perf stat's task-clock, finer).  Defaults: CPU_ROUNDS=5, CPU_CALLS=60000,
# about 4 minutes on the project machine.  Every variable of connectors.sh applies (BUILD_DIR,
# RBGW, CONNS_LIST, LAYOUTS, NO_BUILD=1, ...).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export SECTIONS=cpu
export PATHS=${PATHS:-unix-unix floor-unix unix-http floor-http}
export CPU_ROUNDS=${CPU_ROUNDS:-5}
export CPU_CALLS=${CPU_CALLS:-60000}
exec "$SRC/bench/connectors.sh"
