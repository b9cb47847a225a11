#!/usr/bin/env bash
# The benchmark command: its own PostgreSQL (a throwaway cluster in a temp folder, synchronous_commit on)
# unless CYCLELOCK_CONNECTION names one, a silo process, and every scenario against its baselines in the
# same run (the same SQL straight from Npgsql, DistributedLock.Postgres, pgbench, a no-op grain call).
#   bash bench/run.sh            full run (about 12 minutes on 2 cores); prints the table, writes JSON and the B6 plot
#   bash bench/run.sh --smoke    tiny sizes, no targets (CI)
#   bash bench/run.sh --only-renewal   B3 and B4 alone
#   bash bench/run.sh --only-changes   B1, B6 and B7 alone (ownership changes; a few minutes)
#   --silo-setting KEY=VALUE           run the silo with a setting, e.g. CycleLock:Locks:ChangeFlushesInFlight=4
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
cyclelock_require_dotnet
mode=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke|--only-renewal|--only-changes) mode+=("$1");;
    --silo-setting) mode+=("$1" "${2:?--silo-setting needs KEY=VALUE}"); shift;;
    *) echo "unknown argument: $1" >&2; exit 2;;
  esac
  shift
done
if [ -z "${CYCLELOCK_CONNECTION:-}" ]; then
  state=$(mktemp -d /tmp/cyclelock-bench-XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres "$state"
  cyclelock_start_local_pg "$state/pg"
  trap 'cyclelock_stop_local_pg "$state/pg"; rm -rf "$state"' EXIT
fi
if [ -z "${CYCLELOCK_NO_BUILD:-}" ]; then
  dotnet build bench/CycleLock.Benchmarks -c Release -v quiet -nologo >/dev/null
fi
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | head -n 1 || true)
pgtestfsync=$(command -v pg_test_fsync || ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | head -n 1 || true)
json=${CYCLELOCK_BENCH_JSON:-bench/results/latest.json}
mkdir -p "$(dirname "$json")"
dotnet bench/CycleLock.Benchmarks/bin/Release/net10.0/CycleLock.Benchmarks.dll \
  --connection "$CYCLELOCK_CONNECTION" --pgbench "${pgbench:-none}" --pg-test-fsync "${pgtestfsync:-none}" \
  --json "$json" --plot "$(dirname "$json")/b6-scaling.png" "${mode[@]}"
