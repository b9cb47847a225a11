#!/usr/bin/env bash
# The benchmark command: its own PostgreSQL (a throwaway cluster in a temp folder, synchronous_commit on)
# unless CYCLELOCK_CONNECTION names one, a silo process, and every scenario against its baselines in the
# same run (the same SQL straight from Npgsql, DistributedLock.Postgres, pgbench, a no-op grain call).
#   bash bench/run.sh            full run (a few minutes on 2 cores); prints the table, writes JSON
#   bash bench/run.sh --smoke    tiny sizes, no targets (CI)
#   bash bench/run.sh --only-renewal   B3 and B4 alone
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
cyclelock_require_dotnet
mode=()
for a in "$@"; do case "$a" in --smoke|--only-renewal) mode+=("$a");; *) echo "unknown argument: $a" >&2; exit 2;; esac; done
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
json=${CYCLELOCK_BENCH_JSON:-bench/results/latest.json}
mkdir -p "$(dirname "$json")"
dotnet bench/CycleLock.Benchmarks/bin/Release/net10.0/CycleLock.Benchmarks.dll \
  --connection "$CYCLELOCK_CONNECTION" --pgbench "${pgbench:-none}" --json "$json" "${mode[@]}"
