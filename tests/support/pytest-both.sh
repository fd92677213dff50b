#!/usr/bin/env bash
# Runs the whole pytest suite on SQLite and on a throwaway PostgreSQL at the same time, one run per core:
# `make test` must fit in 10 minutes on a 2-core machine, and one pytest process keeps only one core busy.
# SQLite's output streams live; PostgreSQL's is written to var/pytest-postgres.log and printed when both
# are done. Fails if either fails. Usage: tests/support/pytest-both.sh PYTHON [pytest args...]
set -uo pipefail
py=$1
shift
# Scratch databases (SQLite files, the Postgres cluster, the browser tests' servers) in RAM when the
# machine has it: nothing here must survive a power cut, and an fsync on disk costs 5-10% of the run.
# (Not a container's small default /dev/shm: at least 2 GB free, or the disk it is.)
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ] && [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -n 1)" -gt 2000000 ]; then
  export TMPDIR=/dev/shm
fi
mkdir -p var
log=var/pytest-postgres.log
echo "== pytest on PostgreSQL in the background (output: $log, printed below when done)"
# --durations: the slowest tests of each run are printed, so the next budget cut starts from numbers.
pg_order=()
[ $# -eq 0 ] && pg_order=(tests/e2e tests/integration)  # browser tests first: see below
tests/support/with-postgres.sh "$py" -m pytest --durations=15 "${pg_order[@]}" "$@" >"$log" 2>&1 &
pg=$!
trap 'kill $pg 2>/dev/null' INT TERM
echo "== pytest on SQLite"
# Its browser tests last: each suite's browser phase runs several processes (Chromium, live servers), and
# the two overlapping made both wait on each other; Postgres runs them first, in its usual order.
# tests/unit and tests/contract touch no database: they run once, here, so the two processes do not repeat
# 1,200 identical tests; the Postgres process has the package and container builds instead.
order=()
[ $# -eq 0 ] && order=(tests/unit tests/contract tests/integration tests/e2e)
env -u DATABASE_URL "$py" -m pytest --durations=15 "${order[@]}" "$@"
sqlite_status=$?
wait $pg
pg_status=$?
echo "== pytest on PostgreSQL (exit $pg_status)"
cat "$log"
echo "== pytest exit status: SQLite $sqlite_status, PostgreSQL $pg_status"
[ "$sqlite_status" = 0 ] && [ "$pg_status" = 0 ]
