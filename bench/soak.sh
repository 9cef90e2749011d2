#!/usr/bin/env bash
# Soak: 500 concurrent clients for 60 s on loopback, mixing network-mirror metadata and
# archives, registry-protocol documents and admin reads (bench/soak.lua), after a warm-up.
# Reports requests/s, p50/p90/p99, errors (socket errors and non-2xx/3xx answers, which
# must be zero) and tfmirror's RSS after the warm-up and at the end (which must stay within
# 10%). Bounded in time; stops what it starts by PID.
#
#   bench/soak.sh         (env: CONNS=500 DURATION=60s WARMUP=15s ARCHIVE_MB=8 ROUNDS=1 BIG=1)
#
# ROUNDS=N measures N runs of DURATION one after another and prints RSS after each (to see
# whether memory levels off); BIG=0 leaves the large archive out of the mix.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-500}
DURATION=${DURATION:-60s}
WARMUP=${WARMUP:-15s}
ARCHIVE_MB=${ARCHIVE_MB:-8}
ROUNDS=${ROUNDS:-1}
BIG=${BIG:-1}
OUT=bench/out
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

cargo build --release --locked -q --bin tfmirror
BIN=${CARGO_TARGET_DIR:-target}/release/tfmirror

MIRROR="$OUT/soak-mirror"
python3 bench/make_mirror.py "$MIRROR" "$ARCHIVE_MB"
DATA=$(mktemp -d "$PWD/$OUT/soak-data.XXXXXX")
"$BIN" --data-dir "$DATA" import "$MIRROR" > "$OUT/soak-import.log"
PASSWORD="soak admin password $(date +%s)"
TFM_ADMIN_PASSWORD="$PASSWORD" "$BIN" --data-dir "$DATA" create-admin --username soak >/dev/null

PORT=18490
RUST_LOG=warn "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" > "$OUT/soak-tfmirror.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"soak\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export TOKEN
BIG_ARCHIVE=""
[ "$BIG" = 0 ] || BIG_ARCHIVE=/registry.terraform.io/hashicorp/big/terraform-provider-big_1.0.0_linux_amd64.zip
export BIG_ARCHIVE

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$PID/status"; }
URL="http://127.0.0.1:$PORT"
wrk -t2 -c"$CONNS" -d"$WARMUP" -s bench/soak.lua "$URL" > "$OUT/soak-warmup.txt"
RSS_WARM=$(rss_kb)
THREADS_WARM=$(threads)
for round in $(seq 1 "$ROUNDS"); do
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/soak.lua "$URL" > "$OUT/soak.txt"
  echo "round $round of $ROUNDS: RSS $(( $(rss_kb) / 1024 )) MiB"
done
RSS_END=$(rss_kb)
echo "threads after warm-up $THREADS_WARM, at the end $(threads)" | tee "$OUT/soak-threads.txt"

python3 - "$OUT/soak.txt" "$RSS_WARM" "$RSS_END" "$CONNS" "$DURATION" <<'PY' | tee "$OUT/soak-results.txt"
import re, sys
text = open(sys.argv[1]).read()
warm, end = int(sys.argv[2]), int(sys.argv[3])
def pct(p):
    m = re.search(rf"^\s+{p}%\s+(\S+)", text, re.M)
    return m.group(1) if m else "?"
rps = re.search(r"^Requests/sec:\s+(\S+)", text, re.M).group(1)
total = re.search(r"(\d+) requests in", text).group(1)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(non2xx.group(1)) if non2xx else 0
growth = (end - warm) / warm * 100
print(f"soak (last round): {sys.argv[4]} connections for {sys.argv[5]}: {total} requests, {rps} requests/s")
print(f"latency p50 {pct(50)}, p90 {pct(90)}, p99 {pct(99)}")
print(f"errors: {socket_errors} socket errors, {bad} non-2xx/3xx answers")
print(f"RSS after warm-up {warm // 1024} MiB, at the end {end // 1024} MiB ({growth:+.1f}%)")
ok = socket_errors == 0 and bad == 0 and abs(growth) <= 10
print("PASS" if ok else "FAIL: errors or RSS growth over 10%")
sys.exit(0 if ok else 1)
PY
