#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the tests and prints its PID (the
# postmaster's). Installs Debian's PostgreSQL with apt when no `initdb` is found.
# Usage: scripts/pg-server.sh DIR [PORT]   (stop it with: kill -INT PID)
# The server trusts loopback connections as `postgres`: postgres://postgres@127.0.0.1:PORT
set -euo pipefail
DIR=${1:?directory}
PORT=${2:-${TFM_TEST_PG_PORT:-15432}}

find_bin() {
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
}
BIN=$(find_bin)
if [ -z "$BIN" ]; then
  echo "== apt-get install postgresql" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  BIN=$(find_bin)
fi
[ -n "$BIN" ] || { echo "no PostgreSQL binaries (initdb) found or installable" >&2; exit 1; }

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is already in use; set TFM_TEST_PG_PORT to a free port" >&2
  exit 1
fi
mkdir -p "$DIR"
# initdb refuses to run as root: the server runs as `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres -N >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
fi
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/pg.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
  start >"$DIR/pg_ctl.log" 2>&1 || { cat "$DIR/pg_ctl.log" "$DIR/pg.log" >&2; exit 1; }
head -n 1 "$DIR/data/postmaster.pid"
