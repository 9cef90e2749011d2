#!/usr/bin/env bash
# Benchmark: tfmirror against nginx serving the same `terraform providers mirror` directory as
# static files, side by side in one run, on loopback only. Every wrk run is bounded in time.
# Prints requests/s and p99 latency for index.json, {version}.json and a large archive, and
# tfmirror's RSS growth during 32 concurrent archive downloads.
#
#   bench/run.sh            (env: DURATION=5s ROUNDS=3 ARCHIVE_MB=120 CONNS=64)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ARCHIVE_MB=${ARCHIVE_MB:-120}
CONNS=${CONNS:-64}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# BIN=path measures another build (a baseline) instead of building this tree.
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=target/release/tfmirror
fi

MIRROR="$OUT/mirror"
python3 bench/make_mirror.py "$MIRROR" "$ARCHIVE_MB"
DATA=$(mktemp -d "$PWD/$OUT/data.XXXXXX")
"$BIN" --data-dir "$DATA" import "$MIRROR" > "$OUT/import.log"

TFM_PORT=18480
NGX_PORT=18481
RUST_LOG=warn "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$TFM_PORT" > "$OUT/tfmirror.log" 2>&1 &
TFM_PID=$!

NGX_DIR=$(mktemp -d "$PWD/$OUT/nginx.XXXXXX")
cat > "$NGX_DIR/nginx.conf" <<NGX
worker_processes 2;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  types { application/json json; application/zip zip; }
  client_body_temp_path $NGX_DIR; proxy_temp_path $NGX_DIR; fastcgi_temp_path $NGX_DIR;
  uwsgi_temp_path $NGX_DIR; scgi_temp_path $NGX_DIR;
  server {
    listen 127.0.0.1:$NGX_PORT;
    root $PWD/$MIRROR;
  }
}
NGX
"$NGINX" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log"
for _ in $(seq 1 50); do [ -s "$NGX_DIR/nginx.pid" ] && break; sleep 0.1; done
NGX_PID=$(cat "$NGX_DIR/nginx.pid")

cleanup() {
  kill "$TFM_PID" 2>/dev/null || true
  kill "$NGX_PID" 2>/dev/null || true
  rm -rf "$DATA" "$NGX_DIR"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$TFM_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

P=registry.terraform.io/hashicorp
declare -A PATHS=(
  [index]="$P/small/index.json"
  [version]="$P/small/2.0.0.json"
  [archive]="$P/big/terraform-provider-big_1.0.0_linux_amd64.zip"
)
# Both servers must answer the same bytes before they are compared.
for k in index version archive; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TFM_PORT/${PATHS[$k]}")
  [ "$code" = 200 ] || { echo "tfmirror answered $code for ${PATHS[$k]}" >&2; exit 1; }
done
cmp <(curl -s "http://127.0.0.1:$TFM_PORT/${PATHS[archive]}" | sha256sum) \
    <(curl -s "http://127.0.0.1:$NGX_PORT/${PATHS[archive]}" | sha256sum)

# wrk prints "Requests/sec" and, with --latency, the 99% percentile.
run_wrk() { # name port path conns
  local out="$OUT/wrk-$1.txt"
  wrk -t2 -c"$4" -d"$DURATION" --latency "http://127.0.0.1:$2/$3" > "$out"
  local rps p99 tput
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  tput=$(awk '/^Transfer\/sec/ {print $2}' "$out")
  echo "$rps $p99 $tput"
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$TFM_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$TFM_PID/status"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The machine is shared and noisy: alternate the two servers for ROUNDS rounds and report
# medians, so both see the same conditions.
ROUNDS=${ROUNDS:-3}
RSS_BEFORE=$(rss_kb)
printf '\n%-8s %-9s %12s %10s %12s   (median of %s rounds of %s)\n' target server "requests/s" p99 transfer/s "$ROUNDS" "$DURATION" | tee "$OUT/results.txt"
for k in index version archive; do
  conns=$CONNS
  [ "$k" = archive ] && conns=32
  : > "$OUT/t.txt"; : > "$OUT/n.txt"
  for _ in $(seq 1 "$ROUNDS"); do
    run_wrk "tfmirror-$k" "$TFM_PORT" "${PATHS[$k]}" "$conns" >> "$OUT/t.txt"
    run_wrk "nginx-$k" "$NGX_PORT" "${PATHS[$k]}" "$conns" >> "$OUT/n.txt"
  done
  for who in t n; do
    name=tfmirror; [ "$who" = n ] && name=nginx
    rps=$(awk '{print $1}' "$OUT/$who.txt" | median)
    p99=$(awk '{print $2}' "$OUT/$who.txt" | python3 -c "
import sys, statistics
def ms(v):
    for unit, f in (('us', 0.001), ('ms', 1.0), ('s', 1000.0)):
        if v.endswith(unit): return float(v[:-len(unit)]) * f
print(f'{statistics.median(ms(l.strip()) for l in sys.stdin):.2f}ms')")
    tput=$(awk '{print $3}' "$OUT/$who.txt" | sort | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-8s %-9s %12s %10s %12s\n' "$k" "$name" "$rps" "$p99" "$tput" | tee -a "$OUT/results.txt"
    eval "${who}_rps=$rps"
  done
  python3 -c "import sys; t,n=float(sys.argv[1]),float(sys.argv[2]); print(f'{sys.argv[3]:<8} tfmirror/nginx requests/s = {t/n:.2f}')" "$t_rps" "$n_rps" "$k" | tee -a "$OUT/results.txt"
done
RSS_PEAK=$(hwm_kb)
echo "tfmirror RSS before the runs: $((RSS_BEFORE / 1024)) MiB; peak (VmHWM) after $ROUNDS rounds of 32 concurrent ${ARCHIVE_MB} MB downloads: $((RSS_PEAK / 1024)) MiB; growth $(((RSS_PEAK - RSS_BEFORE) / 1024)) MiB" | tee -a "$OUT/results.txt"
