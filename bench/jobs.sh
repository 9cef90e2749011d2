#!/usr/bin/env bash
# Benchmark: a definitions job of COUNT items (default 20, SIZE_MB each) fetched from a
# GnuPG-signed registry (nginx, loopback) by one replica's worker, then by three replicas'
# workers sharing one PostgreSQL queue and one blob directory; wall time of
# `tfmirror load --wait` for each, ROUNDS times, alternating.
#
# REG_LIMIT_RATE caps each origin download (nginx limit_rate, per connection; default 20m,
# 20 MB/s, as from a real registry's CDN): jobs are then bound by the origin, not by this
# machine's two cores, as they are in production. REG_LIMIT_RATE=0: no cap.
#
#   bench/jobs.sh      (env: COUNT=20 SIZE_MB=10 ROUNDS=3 REG_LIMIT_RATE=20m)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-20}
SIZE_MB=${SIZE_MB:-10}
ROUNDS=${ROUNDS:-3}
export REG_LIMIT_RATE=${REG_LIMIT_RATE:-20m}
OUT=bench/out/jobs
mkdir -p "$OUT"

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v gpg >/dev/null || need+=(gnupg)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=target/release/tfmirror
fi
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | head -n 1)

WORK=$(mktemp -d "$PWD/$OUT/run.XXXXXX")
REG_PORT=18683
PG_PORT=18684
PIDS=()
PG_PID=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -s "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
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

source bench/registry.sh
start_signed_registry
# The server runs as `postgres`, which must reach its directory: under /tmp.
PG_DIR=$(mktemp -d /tmp/tfmirror-bench-pg.XXXXXX)
PG_PID=$(scripts/pg-server.sh "$PG_DIR" "$PG_PORT")
PG=postgres://postgres@127.0.0.1:$PG_PORT

VERSIONS=$(seq 0 $((COUNT - 1)) | sed 's/.*/"1.0.&"/' | paste -sd, -)
printf 'provider "hashicorp/bench" {\n  versions  = [%s]\n  platforms = ["linux_amd64"]\n}\n' "$VERSIONS" > "$WORK/defs.hcl"

config() { # dir port db
  mkdir -p "$1"
  printf 'data_dir = "%s"\nserver {\n  listen = "127.0.0.1:%s"\n}\ndatabase {\n  url = "%s"\n}\nstorage {\n  local {\n    path = "%s"\n  }\n}\nupstream "registry.terraform.io" {\n  url = "http://127.0.0.1:%s"\n}\nworker {\n  poll_interval_ms = 200\n}\n' \
    "$1/data" "$2" "$3" "$(dirname "$1")/blobs" "$REG_PORT" > "$1/tfmirror.hcl"
}

round() { # replicas round
  local n=$1 r=$2 db="bench_${1}_$2" dir="$WORK/r$1-$2"
  "$PSQL" -q "$PG/postgres" -c "CREATE DATABASE $db"
  local pids=()
  for i in $(seq 1 "$n"); do
    config "$dir/$i" $((18690 + i)) "$PG/$db"
    RUST_LOG=warn "$BIN" --config "$dir/$i/tfmirror.hcl" serve > "$dir/$i/log" 2>&1 &
    pids+=($!); PIDS+=($!)
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$((18690 + i))/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  local start end
  start=$(date +%s.%N)
  "$BIN" --config "$dir/1/tfmirror.hcl" load --wait "$WORK/defs.hcl" > "$dir/load.log" 2>&1 \
    || { cat "$dir/load.log" >&2; exit 1; }
  end=$(date +%s.%N)
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  rm -rf "$dir/blobs"
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$end"
}

: > "$WORK/one.txt"; : > "$WORK/three.txt"
for r in $(seq 1 "$ROUNDS"); do
  round 1 "$r" >> "$WORK/one.txt"
  round 3 "$r" >> "$WORK/three.txt"
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one=$(median < "$WORK/one.txt"); three=$(median < "$WORK/three.txt")
{
  echo "job of $COUNT items of $SIZE_MB MB, origin at $REG_LIMIT_RATE per connection (median of $ROUNDS rounds):"
  echo "  one replica's worker:     $one s   ($(paste -sd' ' "$WORK/one.txt"))"
  echo "  three replicas' workers:  $three s   ($(paste -sd' ' "$WORK/three.txt"))"
  python3 -c "import sys; print(f'  speed-up: {float(sys.argv[1]) / float(sys.argv[2]):.2f}x')" "$one" "$three"
} | tee "$OUT/results.txt"
