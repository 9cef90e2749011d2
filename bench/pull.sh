#!/usr/bin/env bash
# Pull-through benchmark, loopback only, everything bounded in count and time:
#  1. cold archive fetch: for each of COUNT packages of SIZE_MB, a direct `curl` download from
#     the origin (nginx serving a GnuPG-signed registry tree) against a `curl` of the same
#     package through a pull-through tfmirror that has never seen it (discovery, download
#     info, signed SHA256SUMS, single-flight download, verification, storage, streaming);
#     target: mirror <= direct x 1.1 + 50 ms.
#  2. warm metadata: wrk on a stored provider's index.json and {version}.json, with the
#     in-memory cache on and off (cache.metadata_ttl_seconds = 0), side by side.
#
#   bench/pull.sh      (env: COUNT=5 SIZE_MB=50 DURATION=5s CONNS=64)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
SIZE_MB=${SIZE_MB:-50}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v gpg >/dev/null || need+=(gnupg)
command -v curl >/dev/null || need+=(curl)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q
BIN=$PWD/target/release/tfmirror

WORK=$(mktemp -d "$PWD/$OUT/pull.XXXXXX")
REG_PORT=18583
PULL_PORT=18584
CACHED_PORT=18585
UNCACHED_PORT=18586
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -s "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

source bench/registry.sh
start_signed_registry

# Starts `tfmirror serve` on PORT with extra HCL; waits (bounded) for /healthz.
serve() {
  local name=$1 port=$2 extra=$3
  mkdir -p "$WORK/$name"
  printf 'data_dir = "%s"\nserver {\n  listen = "127.0.0.1:%s"\n}\nworker {\n  enabled = false\n}\n%s\n' \
    "$WORK/$name/data" "$port" "$extra" > "$WORK/$name/tfmirror.hcl"
  RUST_LOG=warn "$BIN" --config "$WORK/$name/tfmirror.hcl" serve > "$WORK/$name/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/$name/log"; exit 1
}

serve pull "$PULL_PORT" "upstream \"registry.terraform.io\" {
  url          = \"http://127.0.0.1:$REG_PORT\"
  pull_through = true
}"

# 1. Cold archive fetches, direct and through the mirror, alternating per package.
timed() { curl -fsS -o /dev/null -w '%{time_total}\n' "$1"; }
: > "$WORK/cold.txt"
for i in $(seq 0 $((COUNT - 1))); do
  name="terraform-provider-bench_1.0.${i}_linux_amd64.zip"
  direct=$(timed "http://127.0.0.1:$REG_PORT/files/$name")
  mirror=$(timed "http://127.0.0.1:$PULL_PORT/registry.terraform.io/hashicorp/bench/$name")
  echo "$direct $mirror" >> "$WORK/cold.txt"
done
# The mirror must have stored every package, verified.
# (Clients finish once the bytes are verified; storing completes just after: wait, bounded.)
for i in $(seq 0 $((COUNT - 1))); do
  for try in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PULL_PORT/registry.terraform.io/hashicorp/bench/1.0.$i.json" \
      | grep -q '"h1:' && break
    [ "$try" = 100 ] && { echo "package 1.0.$i was not stored"; exit 1; }
    sleep 0.1
  done
done

# 2. Warm metadata on a stored provider, with and without the in-memory cache.
serve cached "$CACHED_PORT" ""
serve uncached "$UNCACHED_PORT" "cache {
  metadata_ttl_seconds = 0
}"
for name in cached uncached; do
  for i in $(seq 0 $((COUNT - 1))); do
    f="terraform-provider-bench_1.0.${i}_linux_amd64.zip"
    "$BIN" --config "$WORK/$name/tfmirror.hcl" add-package --namespace hashicorp --type bench \
      --version "1.0.$i" --platform linux_amd64 "$WORK/registry/files/$f" > /dev/null 2>&1
  done
done
wrk_rps() { wrk -t2 -c"$CONNS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
meta=()
for target in index.json 1.0.0.json; do
  for port in "$CACHED_PORT" "$UNCACHED_PORT"; do
    meta+=("$(wrk_rps "http://127.0.0.1:$port/registry.terraform.io/hashicorp/bench/$target")")
  done
done

python3 - "$SIZE_MB" "$WORK/cold.txt" "${meta[@]}" <<'PY' | tee "$OUT/pull-results.txt"
import statistics, sys
size = int(sys.argv[1])
rows = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
print(f"cold archive fetch, {len(rows)} packages x {size} MB (seconds)")
print(f"{'package':>8} {'direct':>8} {'mirror':>8} {'target':>8}  met")
for i, (d, m) in enumerate(rows):
    t = d * 1.1 + 0.05
    print(f"{i:>8} {d:8.3f} {m:8.3f} {t:8.3f}  {'yes' if m <= t else 'NO'}")
d = statistics.median(r[0] for r in rows)
m = statistics.median(r[1] for r in rows)
print(f"{'median':>8} {d:8.3f} {m:8.3f} {d * 1.1 + 0.05:8.3f}  {'yes' if m <= d * 1.1 + 0.05 else 'NO'}")
ic, iu, vc, vu = map(float, sys.argv[3:7])
print("warm metadata, requests/s (wrk)")
print(f"  index.json   cache on {ic:10.0f}   off {iu:10.0f}   x{ic / iu:.2f}")
print(f"  1.0.0.json   cache on {vc:10.0f}   off {vu:10.0f}   x{vc / vu:.2f}")
PY
