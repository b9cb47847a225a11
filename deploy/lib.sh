# Shared helpers for the deploy scripts (sourced, not run).

# Prints the directory holding initdb/pg_ctl, installing PostgreSQL from Debian packages when missing (as root).
cyclelock_pg_bin() {
  local dir
  # Through symlinks (initdb on PATH may be a link into the server's bin folder, which also holds psql and pg_ctl).
  for dir in $(command -v initdb 2>/dev/null | xargs -r readlink -f | xargs -r dirname) /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries (initdb, pg_ctl) are missing: run 'sudo apt-get install -y postgresql' (Debian) or set the connection string." >&2
    return 1
  fi
  echo "Installing PostgreSQL from Debian packages..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  echo "PostgreSQL installed but initdb was not found." >&2
  return 1
}

# Fails with a clear message when the .NET 10 SDK is missing.
cyclelock_require_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is required: see https://learn.microsoft.com/dotnet/core/install/linux-debian (package dotnet-sdk-10.0)." >&2
    return 1
  fi
}

# Runs a command as the postgres user when we are root (initdb and postgres refuse to run as root).
cyclelock_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

cyclelock_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# Makes sure pgbouncer and psql are installed (Debian packages pgbouncer, postgresql-client; as root).
cyclelock_require_pgbouncer() {
  if { command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; } && command -v psql >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "PgBouncer and psql are needed by the pooler fault tests: run 'sudo apt-get install -y pgbouncer postgresql-client'." >&2
    return 1
  fi
  echo "Installing PgBouncer from Debian packages..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer postgresql-client >&2
}

# Debian's chromium for the lease-view test (driven headless through the DevTools protocol; no browser
# download). Installed when missing and running as root.
cyclelock_require_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium is needed by the lease view test: run 'sudo apt-get install -y chromium'." >&2
    return 1
  fi
  echo "Installing Chromium from Debian packages..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}

# True when GET http://127.0.0.1:PORT/PATH answers 200 (bash only: curl may not be installed).
cyclelock_http_ok() {
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    IFS= read -r -t 5 status <&3 || exit 1
    case "$status" in *" 200 "*) exit 0 ;; *) exit 1 ;; esac ) 2>/dev/null
}

# Starts (or reuses) a PostgreSQL cluster in DIR on a free loopback port, synchronous_commit on, and
# exports CYCLELOCK_CONNECTION. Runs it as the postgres user when root.
cyclelock_start_local_pg() {
  local pgdir=$1 bin port
  bin=$(cyclelock_pg_bin)
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
      -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir -c synchronous_commit=on -c max_connections=200" start >/dev/null
  fi
  export CYCLELOCK_CONNECTION="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
  echo "PostgreSQL: 127.0.0.1:$port (data in $pgdir)"
}

cyclelock_stop_local_pg() {
  cyclelock_as_pg "$(cyclelock_pg_bin)/pg_ctl" -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}
