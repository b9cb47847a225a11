#!/usr/bin/env bash
# bash bench/console-100k.sh — the operator console with 100 000 held leases: rows written straight into a scratch database (the console reads only the
# database), a silo on it, and the console's requests timed with curl (first paint = page + first data requests).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
cyclelock_require_dotnet
[ -n "${CYCLELOCK_NO_BUILD:-}" ] || dotnet build src/Silo -c Release -v quiet -nologo >/dev/null
export PATH="$(cyclelock_pg_bin):$PATH"
dir=$(mktemp -d /tmp/cyclelock-console-XXXXXX); chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
trap 'kill "${silo:-0}" 2>/dev/null || true; cyclelock_stop_local_pg "$dir/pg"; rm -rf "$dir"' EXIT
cyclelock_start_local_pg $dir/pg >/dev/null
port=$(cat $dir/pg/port)
conn="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
dotnet src/Silo/bin/Release/net10.0/CycleLock.Silo.dll migrate --CycleLock:ConnectionString="$conn" >/dev/null
psql -q "host=127.0.0.1 port=$port user=postgres dbname=postgres" <<SQL
INSERT INTO cyclelock.lease (service_id, name, state, epoch, holder_id, holder_label, key_hash, acquired_at, renewed_at, expires_at, ttl)
SELECT 'm100k', 'jobs/' || lpad(i::text, 6, '0'), 'held', i, gen_random_uuid(), 'worker-' || (i % 64), '\x00', now(), now(),
       now() + (30 + (i % 30)) * interval '1 second', interval '60 seconds'
FROM generate_series(1, 100000) i;
INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label)
SELECT 'm100k', 'jobs/' || lpad(i::text, 6, '0'), i, 'granted', false, gen_random_uuid(), 'worker-' || (i % 64) FROM generate_series(1, 100000) i;
ANALYZE;
SQL
web=$(cyclelock_free_port)
CycleLock__ConnectionString="$conn" CycleLock__Silo__ServiceId=m100k CycleLock__Web__Url=http://127.0.0.1:$web \
  CycleLock__Silo__GatewayPort=$(cyclelock_free_port) CycleLock__Silo__SiloPort=$(cyclelock_free_port) \
  dotnet src/Silo/bin/Release/net10.0/CycleLock.Silo.dll > $dir/silo.log 2>&1 &
silo=$!
for _ in $(seq 1 120); do cyclelock_http_ok $web /health && break; sleep 0.5; done
t() { curl -s -o /dev/null -w "%{http_code} %{time_total}s %{size_download}B" "http://127.0.0.1:$web$1"; }
names=$(seq -f 'name=jobs/%06g' 1 50 | paste -sd'&')
for round in 1 2 3; do
  echo "round $round"
  echo "  /leases (the page)                 $(t /leases)"
  echo "  /leases/page (first 50 of 100 000) $(t '/leases/page?size=50')"
  echo "  /leases/summary                    $(t /leases/summary)"
  echo "  /leases/timeline (50 lanes)        $(t "/leases/timeline?$names")"
  echo "  /leases/page state=jeopardy        $(t '/leases/page?state=jeopardy&size=50')"
  echo "  /leases/page sort=time-left        $(t '/leases/page?sort=time-left&size=50')"
  echo "  /leases/page holder=worker-7 p100  $(t '/leases/page?holder=worker-7&page=20&size=50')"
  echo "  /leases/page prefix=jobs/0999      $(t '/leases/page?prefix=jobs/0999&size=50')"
  echo "  old /leases/data (1000 rows)       $(t '/leases/data')"
done
