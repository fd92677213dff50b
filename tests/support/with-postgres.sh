#!/usr/bin/env bash
# Runs "$@" against a throwaway PostgreSQL cluster (initdb + pg_ctl on a free loopback port, trust auth),
# exporting DATABASE_URL; the cluster is stopped and deleted afterwards, whatever the exit status.
# Tests run it without fsync (a throwaway cluster need not survive a crash); PG_DURABLE=1 keeps
# PostgreSQL's durable defaults (fsync, synchronous_commit), as `make bench` does, so the Postgres
# rows commit to disk as the SQLite rows do.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d "${TMPDIR:-/tmp}/saveflow-pg.XXXXXX")
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
nondurable="-c fsync=off -c synchronous_commit=off"
[ "${PG_DURABLE:-}" = 1 ] && nondurable=""
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $nondurable -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
echo "== throwaway PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
