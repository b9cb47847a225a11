#!/usr/bin/env bash
# The main job on one machine: PostgreSQL on loopback (a throwaway cluster in a local folder unless
# CYCLELOCK_CONNECTION names one), the schema, one silo with the Orleans Dashboard, and a small demo
# worker fleet contending for two locks while the grain timers renew their leases.
#   bash deploy/run-local.sh          run the demo, then stop everything
#   bash deploy/run-local.sh --keep   leave PostgreSQL, the silo and the dashboard running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
keep=false; [ "${1:-}" = "--keep" ] && keep=true

cyclelock_require_dotnet
gateway=${CYCLELOCK_GATEWAY_PORT:-30000}
silo_port=${CYCLELOCK_SILO_PORT:-11111}
dashboard=${CYCLELOCK_DASHBOARD_URL:-http://127.0.0.1:8080}
state=${CYCLELOCK_LOCAL_DIR:-/tmp/cyclelock-local}
mkdir -p "$state"

if [ -z "${CYCLELOCK_CONNECTION:-}" ]; then
  bin=$(cyclelock_pg_bin)
  pgdir="$state/pg"
  if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    rm -rf "$pgdir"; mkdir -p "$pgdir"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$pgdir"
    cyclelock_as_pg "$bin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  port=$(cat "$pgdir/port" 2>/dev/null || true)
  if ! cyclelock_as_pg "$bin/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
    port=$(cyclelock_free_port)
    echo "$port" > "$pgdir/port.tmp" && mv "$pgdir/port.tmp" "$pgdir/port"
    cyclelock_as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir -c fsync=off -c synchronous_commit=on" start >/dev/null
  fi
  export CYCLELOCK_CONNECTION="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
  echo "PostgreSQL: 127.0.0.1:$port (data in $pgdir)"
fi

echo "Building..."
dotnet build CycleLock.slnx -c Release -v quiet -nologo >/dev/null

CycleLock__ConnectionString="$CYCLELOCK_CONNECTION" CycleLock__Silo__GatewayPort="$gateway" CycleLock__Silo__SiloPort="$silo_port" \
  dotnet src/Silo/bin/Release/net10.0/CycleLock.Silo.dll --urls "$dashboard" > "$state/silo.log" 2>&1 &
silo=$!
stop() {
  kill "$silo" 2>/dev/null || true; wait "$silo" 2>/dev/null || true
  if [ -n "${bin:-}" ]; then cyclelock_as_pg "$bin/pg_ctl" -D "$state/pg/data" -m fast stop >/dev/null 2>&1 || true; fi
}
$keep || trap stop EXIT

for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$gateway") 2>/dev/null; then break; fi
  if ! kill -0 "$silo" 2>/dev/null; then echo "The silo exited; its log:"; cat "$state/silo.log"; exit 1; fi
  sleep 0.5
done
echo "Silo up: gateway 127.0.0.1:$gateway, dashboard $dashboard/dashboard (log: $state/silo.log)"

cli=src/Client/Cli/bin/Release/net10.0/cyclelock.dll
echo "Demo fleet: three workers, two locks (TTL 12 s, renew period 2 s)"
dotnet "$cli" demo --gateway "$gateway" --lock demo/nightly-report --label worker-1 --hold 8 --wait 30 &
w1=$!
sleep 0.5
dotnet "$cli" demo --gateway "$gateway" --lock demo/nightly-report --label worker-2 --hold 8 --wait 30 &
w2=$!
dotnet "$cli" demo --gateway "$gateway" --lock demo/hourly-sync --label worker-3 --hold 8 --wait 30 &
w3=$!
status=0
wait $w1 || status=$?
wait $w2 || status=$?
wait $w3 || status=$?
if $keep; then
  echo "Still running: dashboard $dashboard/dashboard; silo pid $silo. Stop with: kill $silo"
fi
exit $status
