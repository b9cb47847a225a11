#!/usr/bin/env bash
# Run once by the postgres image's entrypoint (docker-entrypoint-initdb.d, as its bootstrap superuser) for
# compose.yaml: CycleLock's two roles, neither a superuser. UNTESTED HERE as a container init script; the same
# roles are created and checked against a real PostgreSQL by MigrationTests (owner and runtime role).
#   cyclelock_owner  owns the database and runs `migrate` (CREATEROLE: it sets the runtime role's defaults)
#   cyclelock_silo   what the silos log in as: reads and writes CycleLock's tables and runs its functions; cannot
#                    create or alter anything, rewrite the membership query texts, or call the epoch guard
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$CYCLELOCK_OWNER_PASSWORD" -v silo_password="$CYCLELOCK_SILO_PASSWORD" <<'SQL'
CREATE ROLE cyclelock_owner LOGIN CREATEROLE NOSUPERUSER PASSWORD :'owner_password';
CREATE ROLE cyclelock_silo LOGIN NOSUPERUSER PASSWORD :'silo_password';
CREATE DATABASE cyclelock OWNER cyclelock_owner;
REVOKE ALL ON DATABASE cyclelock FROM PUBLIC;
GRANT CONNECT ON DATABASE cyclelock TO cyclelock_silo;
SQL
