#!/usr/bin/env bash
# Catalogue scale: the same server on a large catalogue (PROVIDERS x VERSIONS x PLATFORMS
# packages, default 10,000 x 10 x 4 = 400,000) and, side by side as the baseline, on a small
# one (10 x 10 x 4), both on SQLite, over HTTPS, loopback only, every load run bounded in time:
#
#  1. start to ready: from the exec to the first 200 from /readyz (median of 3 starts);
#  2. idle RSS once ready, and RSS with the metadata cache full (index.json and a
#     {version}.json of every provider asked once), for cache.metadata_capacity_mb = CACHE_MB;
#  3. {version}.json of random providers: cached (warm cache, TTL one hour) and uncached
#     (cache.metadata_ttl_seconds = 0: every request reads the database), p50/p99 and
#     requests/s at 4 and 64 connections;
#  4. the admin API's provider list: a search (`q`) and a page deep into the list.
#
# Targets (issue 17): ready in under 1 s, uncached p99 under 5 ms, memory bounded by the
# configuration, not by the catalogue.
#
#   bench/scale.sh   (env: PROVIDERS=10000 VERSIONS=10 PLATFORMS=4 CACHE_MB=64 DURATION=5s
#                     BIN=path-to-a-baseline-build)
set -euo pipefail
cd "$(dirname "$0")/.."
PROVIDERS=${PROVIDERS:-10000}
VERSIONS=${VERSIONS:-10}
PLATFORMS=${PLATFORMS:-4}
CACHE_MB=${CACHE_MB:-64}
DURATION=${DURATION:-5s}
OUT=bench/out/scale
mkdir -p "$OUT"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=target/release/tfmirror
fi

WORK=$(mktemp -d "$PWD/$OUT/run.XXXXXX")
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  PIDS=()
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
PASSWORD=bench-password-$RANDOM-$RANDOM

# A migrated database with the catalogue written straight into it, and an admin.
catalogue() { # name providers
  local dir="$WORK/$1"
  "$BIN" --data-dir "$dir" migrate > /dev/null
  python3 bench/make_catalog.py "$2" "$VERSIONS" "$PLATFORMS" > "$WORK/$1.sql"
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.close()" \
    "$dir/tfmirror.db" "$WORK/$1.sql"
  rm "$WORK/$1.sql"
  TFM_ADMIN_PASSWORD=$PASSWORD "$BIN" --data-dir "$dir" create-admin --username bench > /dev/null
}
config() { # name port ttl -> path of its configuration
  local f="$WORK/$1-$2.hcl"
  cat > "$f" <<HCL
data_dir = "$WORK/$1"
offline = true
server {
  listen = "127.0.0.1:$2"
  tls {
    cert_file = "$WORK/cert.pem"
    key_file  = "$WORK/key.pem"
  }
}
worker {
  enabled = false
}
cache {
  metadata_ttl_seconds = $3
  metadata_capacity_mb = $CACHE_MB
}
HCL
  echo "$f"
}
start() { # name port ttl; writes "seconds pid" to $WORK/started (not in a subshell: PIDS)
  python3 bench/ready.py "https://127.0.0.1:$2" "$WORK/$1-$2.log" -- \
    env RUST_LOG=warn "$BIN" --config "$(config "$1" "$2" "$3")" serve > "$WORK/started"
  local pid
  read -r _ pid < "$WORK/started"
  PIDS+=("$pid")
}
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
wrk_p() { # conns url [lua] -> "rps p50 p90 p99 bytes/s"
  if [ -n "${3:-}" ]; then
    PROVIDERS=$NPROV VERSIONS=$VERSIONS wrk -t2 -c"$1" -d"$DURATION" --latency -s "$3" "$2" > "$WORK/wrk.txt"
  else
    wrk -t2 -c"$1" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$2" > "$WORK/wrk.txt"
  fi
  python3 bench/loadstat.py wrk "$WORK/wrk.txt"
}

echo "writing the catalogues: $PROVIDERS x $VERSIONS x $PLATFORMS packages, and 10 x $VERSIONS x $PLATFORMS"
catalogue large "$PROVIDERS"
catalogue small 10

RESULTS=$OUT/results.txt
{
  echo "bench/scale.sh: HTTPS, SQLite, cache.metadata_capacity_mb = $CACHE_MB, $(date -u +%F)"
  echo
  echo "| measure | small catalogue ($((10 * VERSIONS * PLATFORMS)) packages) | large catalogue ($((PROVIDERS * VERSIONS * PLATFORMS)) packages) |"
  echo "| --- | ---: | ---: |"
} | tee "$RESULTS"
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3" | tee -a "$RESULTS"; }

declare -A R
for cat in small large; do
  NPROV=10; [ "$cat" = large ] && NPROV=$PROVIDERS
  times=()
  for _ in 1 2 3; do
    start "$cat" 18700 3600
    read -r secs _ < "$WORK/started"
    times+=("$secs")
    stop_all
  done
  R[$cat,ready]=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
  start "$cat" 18700 3600
  read -r _ pid < "$WORK/started"
  sleep 2
  R[$cat,idle]=$(rss_mb "$pid")
  python3 bench/warm.py 127.0.0.1 18700 "$NPROV" "$VERSIONS" > /dev/null
  R[$cat,full]=$(rss_mb "$pid")
  for c in 4 64; do
    read -r rps p50 _ p99 _ <<< "$(wrk_p "$c" https://127.0.0.1:18700 bench/random_version.lua)"
    R[$cat,cached$c]=$(printf '%.0f req/s, p50 %.2f ms, p99 %.2f ms' "$rps" "$p50" "$p99")
  done
  TOKEN=$(curl -ksS -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
    https://127.0.0.1:18700/api/v1/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  read -r rps p50 _ p99 _ <<< "$(wrk_p 16 "https://127.0.0.1:18700/api/v1/providers?q=p7&per_page=50")"
  R[$cat,search]=$(printf '%.0f req/s, p50 %.2f ms, p99 %.2f ms' "$rps" "$p50" "$p99")
  last=$(( (NPROV + 49) / 50 ))
  read -r rps p50 _ p99 _ <<< "$(wrk_p 16 "https://127.0.0.1:18700/api/v1/providers?page=$last&per_page=50")"
  R[$cat,page]=$(printf '%.0f req/s, p50 %.2f ms, p99 %.2f ms (page %s)' "$rps" "$p50" "$p99" "$last")
  R[$cat,after]=$(rss_mb "$pid")
  stop_all
  start "$cat" 18701 0
  for c in 4 64; do
    read -r rps p50 _ p99 _ <<< "$(wrk_p "$c" https://127.0.0.1:18701 bench/random_version.lua)"
    R[$cat,uncached$c]=$(printf '%.0f req/s, p50 %.2f ms, p99 %.2f ms' "$rps" "$p50" "$p99")
  done
  stop_all
done
row "start to ready (median of 3)" "${R[small,ready]} s" "${R[large,ready]} s"
row "RSS idle, once ready" "${R[small,idle]} MiB" "${R[large,idle]} MiB"
row "RSS with every provider's documents asked for" "${R[small,full]} MiB" "${R[large,full]} MiB"
row "RSS after the load runs below" "${R[small,after]} MiB" "${R[large,after]} MiB"
for c in 4 64; do
  row "cached {version}.json, $c conns" "${R[small,cached$c]}" "${R[large,cached$c]}"
done
for c in 4 64; do
  row "uncached {version}.json, $c conns" "${R[small,uncached$c]}" "${R[large,uncached$c]}"
done
row "admin provider list, search q=p7, 16 conns" "${R[small,search]}" "${R[large,search]}"
row "admin provider list, last page, 16 conns" "${R[small,page]}" "${R[large,page]}"
