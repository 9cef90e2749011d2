#!/usr/bin/env bash
# Benchmark: the same mirror on SQLite and on PostgreSQL, side by side in one run, on
# loopback only, every wrk run bounded in time.
#  1. cached index.json and {version}.json: requests/s and p99, SQLite vs PostgreSQL
#     (target: PostgreSQL within 10%);
#  2. uncached {version}.json (cache.metadata_ttl_seconds = 0) with PROVIDERS x VERSIONS
#     packages stored (default 1,000 x 10 = 10,000; target: p99 under 5 ms), random
#     providers per request.
#
#   bench/db.sh            (env: DURATION=5s ROUNDS=3 CONNS=64 PROVIDERS=1000 VERSIONS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
export PROVIDERS=${PROVIDERS:-1000} VERSIONS=${VERSIONS:-10}
OUT=bench/out/db
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=target/release/tfmirror
fi
PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb | head -n 1)")
PSQL="$PG_BIN/psql"; command -v psql >/dev/null && PSQL=psql

WORK=$(mktemp -d "$PWD/$OUT/run.XXXXXX")
PG_PORT=18482
PIDS=()
PG_PID=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    alive=0
    for p in "${PIDS[@]}" $PG_PID; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$WORK" "${PG_DIR:-}"
}
trap cleanup EXIT
# The server runs as `postgres`, which must reach its directory: under /tmp.
PG_DIR=$(mktemp -d /tmp/tfmirror-bench-pg.XXXXXX)
PG_PID=$(scripts/pg-server.sh "$PG_DIR" "$PG_PORT")
PG=postgres://postgres@127.0.0.1:$PG_PORT
"$PSQL" -q "$PG/postgres" -c "CREATE DATABASE cached" -c "CREATE DATABASE catalogue"

python3 bench/make_mirror.py "$WORK/mirror" 1 > /dev/null
# Cached: the small mirror, imported into each backend.
"$BIN" --data-dir "$WORK/sqlite" import "$WORK/mirror" > /dev/null
TFM_DATABASE_URL="$PG/cached" "$BIN" --data-dir "$WORK/pg-data" import "$WORK/mirror" > /dev/null
# Uncached: the catalogue, written straight into each migrated database.
python3 bench/make_catalog.py "$PROVIDERS" "$VERSIONS" > "$WORK/catalogue.sql"
"$BIN" --data-dir "$WORK/sqlite-cat" migrate > /dev/null
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.close()" \
  "$WORK/sqlite-cat/tfmirror.db" "$WORK/catalogue.sql"
TFM_DATABASE_URL="$PG/catalogue" "$BIN" --data-dir "$WORK/pg-cat" migrate > /dev/null
"$PSQL" -q "$PG/catalogue" -f "$WORK/catalogue.sql" > /dev/null
printf 'cache {\n  metadata_ttl_seconds = 0\n}\n' > "$WORK/uncached.hcl"

serve() { # name port [env...] -- args
  local name=$1 port=$2; shift 2
  env "$@" RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$port" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}
NO_UPSTREAM=$WORK/offline.hcl
printf 'offline = true\n' > "$NO_UPSTREAM"
serve sqlite 18490 TFM_CONFIG="$NO_UPSTREAM" TFM_DATA_DIR="$WORK/sqlite"
serve postgres 18491 TFM_CONFIG="$NO_UPSTREAM" TFM_DATA_DIR="$WORK/pg-data" TFM_DATABASE_URL="$PG/cached"
printf 'offline = true\ncache {\n  metadata_ttl_seconds = 0\n}\n' > "$WORK/uncached.hcl"
serve sqlite-uncached 18492 TFM_CONFIG="$WORK/uncached.hcl" TFM_DATA_DIR="$WORK/sqlite-cat"
serve postgres-uncached 18493 TFM_CONFIG="$WORK/uncached.hcl" TFM_DATA_DIR="$WORK/pg-cat" TFM_DATABASE_URL="$PG/catalogue"

P=registry.terraform.io/hashicorp/small
for port in 18490 18491; do
  for path in "$P/index.json" "$P/2.0.0.json"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$path")
    [ "$code" = 200 ] || { echo "port $port answered $code for $path" >&2; exit 1; }
  done
done
cmp <(curl -s "http://127.0.0.1:18490/$P/2.0.0.json") <(curl -s "http://127.0.0.1:18491/$P/2.0.0.json")
for port in 18492 18493; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/registry.terraform.io/bench/p7/1.0.3.json")
  [ "$code" = 200 ] || { echo "port $port answered $code for the catalogue" >&2; exit 1; }
done

run_wrk() { # out port path-or-script [conns]
  local out=$1 port=$2 target=$3 conns=${4:-$CONNS}
  if [ "${target##*.}" = lua ]; then
    wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$target" "http://127.0.0.1:$port" > "$out"
  else
    wrk -t2 -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$port/$target" > "$out"
  fi
  awk '/^Requests\/sec/ {r=$2} $1 == "99%" {p=$2} END {print r, p}' "$out"
}
summary() { # file with "rps p99" lines -> "median_rps median_p99_ms"
  python3 -c "
import sys, statistics
def ms(v):
    for unit, f in (('us', 0.001), ('ms', 1.0), ('s', 1000.0)):
        if v.endswith(unit): return float(v[:-len(unit)]) * f
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(f'{statistics.median(float(r[0]) for r in rows):.0f} {statistics.median(ms(r[1]) for r in rows):.2f}')" "$1"
}

printf '\n%-22s %-9s %12s %10s   (median of %s rounds of %s, %s connections)\n' target backend "requests/s" p99 "$ROUNDS" "$DURATION" "$CONNS" | tee "$OUT/results.txt"
compare() { # label sqlite-port postgres-port target [conns]
  : > "$WORK/s.txt"; : > "$WORK/p.txt"
  for _ in $(seq 1 "$ROUNDS"); do
    run_wrk "$WORK/wrk.txt" "$2" "$4" "${5:-}" >> "$WORK/s.txt"
    run_wrk "$WORK/wrk.txt" "$3" "$4" "${5:-}" >> "$WORK/p.txt"
  done
  read -r s_rps s_p99 <<< "$(summary "$WORK/s.txt")"
  read -r p_rps p_p99 <<< "$(summary "$WORK/p.txt")"
  printf '%-22s %-9s %12s %8sms\n' "$1" sqlite "$s_rps" "$s_p99" | tee -a "$OUT/results.txt"
  printf '%-22s %-9s %12s %8sms\n' "$1" postgres "$p_rps" "$p_p99" | tee -a "$OUT/results.txt"
  python3 -c "import sys; print(f'{sys.argv[1]:<22} postgres/sqlite requests/s = {float(sys.argv[2])/float(sys.argv[3]):.2f}')" "$1" "$p_rps" "$s_rps" | tee -a "$OUT/results.txt"
}
compare "cached index.json" 18490 18491 "$P/index.json"
compare "cached 2.0.0.json" 18490 18491 "$P/2.0.0.json"
# Uncached, every request reads the database: at CONNS connections the p99 is queueing
# (Little's law: latency = connections / throughput), so the latency of one request is
# measured at 2 and 4 connections too (wrk needs a connection per thread).
for c in 2 4 "$CONNS"; do
  compare "uncached, $c conns" 18492 18493 bench/random_version.lua "$c"
done
echo "catalogue: $PROVIDERS providers x $VERSIONS versions = $((PROVIDERS * VERSIONS)) packages" | tee -a "$OUT/results.txt"
