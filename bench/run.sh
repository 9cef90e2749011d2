#!/usr/bin/env bash
# Benchmark: tfmirror against nginx serving the same `terraform providers mirror` directory as
# static files, side by side in one run, on loopback only, over HTTPS by default (both servers
# with the same certificate and key, as clients talk to a mirror). Every load run is bounded
# in time.
#
# For index.json, a {version}.json (5 platforms), a large archive (GET, ARCHIVE_MB, each run
# ARCHIVE_DURATION long so that even 256 connections finish downloads) and the same archive
# (HEAD: Terraform 1.11 sends one before every archive GET; HEAD_REQUESTS of them per run
# through curl's parallel mode, since wrk cannot read the answer to a HEAD that carries a
# Content-Length and hey sends `host:port` as the TLS server name, which rustls refuses),
# at each connection count in CONNS, the two servers alternate round by round (the order flips every round, so neither
# always runs on a warmer or cooler machine) and the medians of ROUNDS rounds are printed:
# requests/s, p50, p90, p99 and transfer/s, then the ratios tfmirror/nginx. tfmirror's
# resident memory is read from /proc/PID/status (VmRSS before, VmHWM peak after).
#
# LOG=info (the default) runs both as deployed: tfmirror at its default log level (a line per
# request) and nginx with its access log, each to a file. LOG=off: tfmirror at warn, nginx
# without an access log.
#
#   bench/run.sh   (env: SCHEME=https DURATION=5s ROUNDS=3 ARCHIVE_MB=32 ARCHIVE_DURATION=10s
#                   HEAD_REQUESTS=20000 CONNS="16 64 256" TARGETS="index version archive head"
#                   LOG=info BIN=path-to-a-baseline-build AA=0, or 1 for nginx against itself)
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEME=${SCHEME:-https}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
ARCHIVE_MB=${ARCHIVE_MB:-32}
ARCHIVE_DURATION=${ARCHIVE_DURATION:-10s}
HEAD_REQUESTS=${HEAD_REQUESTS:-20000}
CONNS=${CONNS:-16 64 256}
TARGETS=${TARGETS:-index version archive head}
LOG=${LOG:-info}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
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

MIRROR="$OUT/mirror-${ARCHIVE_MB}mb"
python3 bench/make_mirror.py "$MIRROR" "$ARCHIVE_MB"
WORK=$(mktemp -d "$PWD/$OUT/run.XXXXXX")
DATA="$WORK/data"
"$BIN" --data-dir "$DATA" import "$MIRROR" > "$WORK/import.log"

TFM_PORT=18480
NGX_PORT=18481
# One certificate for both (P-256, as a mirror's usually is).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
TLS_HCL=""
NGX_SSL=""
NGX_TLS=""
if [ "$SCHEME" = https ]; then
  TLS_HCL="tls {
    cert_file = \"$WORK/cert.pem\"
    key_file  = \"$WORK/key.pem\"
  }"
  NGX_SSL=" ssl"
  NGX_TLS="ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
fi
cat > "$WORK/tfmirror.hcl" <<HCL
data_dir = "$DATA"
offline = true
server {
  listen = "127.0.0.1:$TFM_PORT"
  $TLS_HCL
}
worker {
  enabled = false
}
HCL
if [ "$LOG" = info ]; then TFM_LOG=info; NGX_ACCESS="access_log $WORK/access.log;"; else TFM_LOG=warn; NGX_ACCESS="access_log off;"; fi
RUST_LOG=$TFM_LOG "$BIN" --config "$WORK/tfmirror.hcl" serve > "$WORK/tfmirror.log" 2>&1 &
TFM_PID=$!

cat > "$WORK/nginx.conf" <<NGX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 4096; }
http {
  $NGX_ACCESS
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/json json; application/zip zip; }
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server {
    listen 127.0.0.1:$NGX_PORT$NGX_SSL;
    $NGX_TLS
    root $PWD/$MIRROR;
  }
}
NGX
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/error.log"
for _ in $(seq 1 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
NGX_PID=$(cat "$WORK/nginx.pid")

cleanup() {
  kill "$TFM_PID" 2>/dev/null || true
  kill "$NGX_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$TFM_PID" 2>/dev/null || kill -0 "$NGX_PID" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

TFM="$SCHEME://127.0.0.1:$TFM_PORT"
NGX="$SCHEME://127.0.0.1:$NGX_PORT"
# AA=1: an A/A run, nginx measured against itself in the same alternation (the rows named
# tfmirror are nginx too): how far ratios stray when nothing differs, the noise floor.
if [ "${AA:-0}" = 1 ]; then TFM=$NGX; fi
for _ in $(seq 1 100); do
  curl -kfsS "$TFM/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

P=registry.terraform.io/hashicorp
declare -A PATHS=(
  [index]="$P/small/index.json"
  [version]="$P/small/2.0.0.json"
  [archive]="$P/big/terraform-provider-big_1.0.0_linux_amd64.zip"
  [head]="$P/big/terraform-provider-big_1.0.0_linux_amd64.zip"
)
# Both servers must answer, and the archive must be the same bytes, before they are compared.
for k in index version archive; do
  for base in "$TFM" "$NGX"; do
    code=$(curl -k -s -o /dev/null -w '%{http_code}' "$base/${PATHS[$k]}")
    [ "$code" = 200 ] || { echo "$base answered $code for ${PATHS[$k]}" >&2; exit 1; }
  done
done
cmp <(curl -ks "$TFM/${PATHS[archive]}" | sha256sum) <(curl -ks "$NGX/${PATHS[archive]}" | sha256sum)

# One bounded load run; prints "rps p50 p90 p99 bytes/s".
load() { # target base conns
  local out="$WORK/load.txt"
  if [ "$1" = head ]; then
    # HEAD_REQUESTS over $3 kept-alive HTTP/1.1 connections, each request's time recorded.
    python3 -c "import sys; print(''.join(f'url = \"{sys.argv[1]}\"\noutput = \"/dev/null\"\n' for _ in range(int(sys.argv[2]))))" \
      "$2/${PATHS[$1]}" "$HEAD_REQUESTS" > "$WORK/urls.cfg"
    local t0 t1
    t0=$(date +%s.%N)
    curl -ksS --http1.1 -I --parallel --parallel-immediate --parallel-max "$3" -K "$WORK/urls.cfg" \
      -w '%{time_total} %{http_code}\n' > "$out" 2>/dev/null
    t1=$(date +%s.%N)
    python3 bench/loadstat.py curl "$out" "$(python3 -c "print($t1 - $t0)")"
  else
    local d=$DURATION
    [ "$1" = archive ] && d=$ARCHIVE_DURATION
    # A whole archive at 256 connections takes seconds: wrk would count it a timeout at 2 s.
    wrk -t2 -c"$3" -d"$d" --timeout 60s --latency "$2/${PATHS[$1]}" > "$out"
    python3 bench/loadstat.py wrk "$out"
  fi
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$TFM_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$TFM_PID/status"; }

RSS_BEFORE=$(rss_kb)
RESULTS="$OUT/results.txt"
{
  echo "bench/run.sh: $SCHEME, LOG=$LOG, median of $ROUNDS alternating rounds of $DURATION, $(date -u +%F)"
  if [ "${AA:-0}" = 1 ]; then echo "A/A run: both columns are the same nginx"; fi
  echo
  echo "| target | conns | server | requests/s | p50 ms | p90 ms | p99 ms | MB/s |"
  echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
} | tee "$RESULTS"
RATIOS=()
for k in $TARGETS; do
  for c in $CONNS; do
    : > "$WORK/t.txt"; : > "$WORK/n.txt"
    for r in $(seq 1 "$ROUNDS"); do
      if [ $((r % 2)) = 1 ]; then
        load "$k" "$TFM" "$c" >> "$WORK/t.txt"; load "$k" "$NGX" "$c" >> "$WORK/n.txt"
      else
        load "$k" "$NGX" "$c" >> "$WORK/n.txt"; load "$k" "$TFM" "$c" >> "$WORK/t.txt"
      fi
    done
    read -r t_rps t_p50 t_p90 t_p99 t_bps <<< "$(python3 bench/loadstat.py median "$WORK/t.txt")"
    read -r n_rps n_p50 n_p90 n_p99 n_bps <<< "$(python3 bench/loadstat.py median "$WORK/n.txt")"
    for who in t n; do
      name=tfmirror; [ "$who" = n ] && name=nginx
      eval "rps=\$${who}_rps p50=\$${who}_p50 p90=\$${who}_p90 p99=\$${who}_p99 bps=\$${who}_bps"
      printf '| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.0f |\n' \
        "$k" "$c" "$name" "$rps" "$p50" "$p90" "$p99" "$(python3 -c "print($bps / 1e6)")" | tee -a "$RESULTS"
    done
    RATIOS+=("$(python3 -c "
import sys
t_rps, n_rps, t_p99, n_p99 = map(float, sys.argv[3:])
r = t_rps / n_rps if n_rps else 0
p = t_p99 / n_p99 if n_p99 else 0
print(f'| {sys.argv[1]} | {sys.argv[2]} | {r:.2f} | {p:.2f} |')" "$k" "$c" "$t_rps" "$n_rps" "$t_p99" "$n_p99")")
  done
done
{
  echo
  echo "tfmirror/nginx (requests/s: above 1 is tfmirror faster; p99: below 1 is tfmirror's tail shorter)"
  echo
  echo "| target | conns | requests/s | p99 |"
  echo "| --- | ---: | ---: | ---: |"
  printf '%s\n' "${RATIOS[@]}"
  echo
  RSS_PEAK=$(hwm_kb)
  echo "tfmirror RSS before the runs: $((RSS_BEFORE / 1024)) MiB; peak (VmHWM): $((RSS_PEAK / 1024)) MiB"
} | tee -a "$RESULTS"
