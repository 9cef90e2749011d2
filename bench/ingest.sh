#!/usr/bin/env bash
# Ingest benchmark: tfmirror's worker fetching COUNT packages of SIZE_MB from a local
# registry (nginx serving a static, GnuPG-signed Provider Registry Protocol tree), against a
# plain `curl` download of the same archives in the same run, at the same concurrency.
# Prints MB/s for both, their ratio, and the worker's RSS before and at peak. Loopback only.
#
#   bench/ingest.sh            (env: COUNT=8 SIZE_MB=50 CONCURRENCY=4)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-8}
SIZE_MB=${SIZE_MB:-50}
CONCURRENCY=${CONCURRENCY:-4}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v gpg >/dev/null || need+=(gnupg)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q
BIN=$PWD/target/release/tfmirror

WORK=$(mktemp -d "$PWD/$OUT/ingest.XXXXXX")
REG_PORT=18483
source bench/registry.sh
start_signed_registry
NGX_PID=$(cat "$WORK/nginx.pid")
WORKER_PID=
cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true
  kill "$NGX_PID" 2>/dev/null || true
  cp "$WORK/worker.log" "$OUT/ingest-worker.log" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT


# Busy CPU time (user + system + irq, all cores, in clock ticks) from /proc/stat.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# Baseline: curl, same archives, same concurrency, written to disk.
mkdir -p "$WORK/curl"
cpu0=$(busy)
start=$(date +%s.%N)
ls "$WORK"/registry/files/*.zip | xargs -n1 basename | \
  xargs -P "$CONCURRENCY" -I{} curl -fsS -o "$WORK/curl/{}" "http://127.0.0.1:$REG_PORT/files/{}"
curl_s=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
curl_cpu=$(( $(busy) - cpu0 ))
rm -rf "$WORK/curl"

cat > "$WORK/tfmirror.hcl" <<HCL
data_dir = "$WORK/data"
upstream "registry.terraform.io" {
  url         = "http://127.0.0.1:$REG_PORT"
  concurrency = $CONCURRENCY
}
worker {
  concurrency      = $CONCURRENCY
  poll_interval_ms = 100
}
HCL
cat > "$WORK/providers.hcl" <<HCL
provider "hashicorp/bench" {
  versions  = [">= 1.0.0"]
  platforms = ["linux_amd64"]
}
HCL
RUST_LOG=warn "$BIN" --config "$WORK/tfmirror.hcl" migrate > /dev/null
RUST_LOG=info "$BIN" --config "$WORK/tfmirror.hcl" worker > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!
sleep 0.5
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$WORKER_PID/status")
cpu0=$(busy)
start=$(date +%s.%N)
RUST_LOG=warn "$BIN" --config "$WORK/tfmirror.hcl" load --wait "$WORK/providers.hcl" > "$WORK/load.log" 2>&1 || {
  cat "$WORK/load.log"; exit 1; }
tfm_s=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
tfm_cpu=$(( $(busy) - cpu0 ))
rss_peak=$(awk '/^VmHWM/ {print $2}' "/proc/$WORKER_PID/status")
grep -q "job 1: succeeded ($COUNT items: $COUNT succeeded" "$WORK/load.log" || { cat "$WORK/load.log"; exit 1; }

python3 - "$COUNT" "$SIZE_MB" "$curl_s" "$tfm_s" "$rss_before" "$rss_peak" "$curl_cpu" "$tfm_cpu" "$HZ" "$(nproc)" <<'PY' | tee "$OUT/ingest-results.txt"
import sys
count, size, curl_s, tfm_s, before, peak, curl_cpu, tfm_cpu, hz, cores = \
    int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:11])
total = count * size
def line(name, secs, cpu):
    print(f"{name:<20} {secs:7.2f} s  {total / secs:8.1f} MB/s  CPU {cpu / hz:6.2f} s"
          f" ({100 * cpu / hz / secs / cores:3.0f}% of {cores:.0f} cores)")
print(f"{count} packages x {size} MB from a local registry")
line("curl download", curl_s, curl_cpu)
line("tfmirror ingest", tfm_s, tfm_cpu)
print("  (tfmirror: verify signature + sha256, h1, store, record)")
print(f"tfmirror / curl throughput = {curl_s / tfm_s:.2f}")
print(f"worker RSS: {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak")
PY
