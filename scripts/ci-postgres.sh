#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages, starts a cluster on 127.0.0.1:5432 and creates the test
# database. Prints the URL to export as AMCS_TEST_DATABASE_URL (the integration tests' PostgreSQL run).
# Usage: eval "$(bash scripts/ci-postgres.sh)"   (as root; idempotent)
set -euo pipefail
PGUSER_NAME=${AMCS_PG_USER:-amcs}
PGPASS=${AMCS_PG_PASSWORD:-amcs}
PGDB=${AMCS_PG_DB:-amcs_test}
{
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi
  VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$VERSION main$"; then
    pg_createcluster "$VERSION" main -p 5432 -- --auth-local=trust --auth-host=scram-sha-256
  fi
  if ! pg_lsclusters -h | grep "^$VERSION main" | grep -q online; then
    pg_ctlcluster "$VERSION" main start -o "-c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off"
  fi
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 1
  done
  su postgres -c "psql -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PGUSER_NAME') THEN
    CREATE ROLE $PGUSER_NAME LOGIN PASSWORD '$PGPASS';
  END IF;
END \$\$;
SQL
  if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = '$PGDB'\"" | grep -q 1; then
    su postgres -c "createdb -O $PGUSER_NAME $PGDB"
  fi
} >&2
echo "export AMCS_TEST_DATABASE_URL=postgresql://$PGUSER_NAME:$PGPASS@127.0.0.1:5432/$PGDB"
