#!/usr/bin/env bash
# Runs every test. The test run starts its own throwaway PostgreSQL (initdb + pg_ctl on a free loopback
# port; the shared one can be CYCLELOCK_TEST_CONNECTION instead) and, for the pooler fault tests, its own
# PostgreSQL and PgBouncer; this script only makes sure the server binaries, PgBouncer, psql, Chromium (the lease view test) and the .NET
# SDK are there (installing the Debian packages when run as root).
# Ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh

cyclelock_require_dotnet
bin=$(cyclelock_pg_bin)
export PATH="$bin:$PATH"
cyclelock_require_pgbouncer
cyclelock_require_chromium

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet test CycleLock.slnx -c Release --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" --results-directory "$results" || status=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); passed=$((passed + ${p:-0}))
  f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p'); failed=$((failed + ${f:-0}))
  n=$(echo "$counters" | sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p'); skipped=$((skipped + ${n:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
