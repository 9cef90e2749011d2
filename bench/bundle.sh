#!/usr/bin/env bash
# Air-gap bundle benchmark: a mirror fills itself with COUNT packages of SIZE_MB from a local
# GnuPG-signed registry (so every package carries its origin's signed SHA256SUMS), then
#   export:  `tfmirror export --all` (the bundle fsynced, then renamed into place)
#            against `tar -cf` of the same blob files followed by `sync`;
#   import:  `tfmirror import-bundle` into an empty, offline mirror (every signature, sha256
#            and h1 checked, every blob fsynced and stored, rows recorded)
#            against `tar -xf` of the baseline tar followed by `sync`.
# Prints seconds, MB/s, CPU seconds (user + system) and peak RSS (GNU time's maximum resident set size) of each, in the
# same run. Loopback only; everything it starts is stopped by PID.
#
#   bench/bundle.sh            (env: COUNT=8 SIZE_MB=136  -> 1.09 GB; BIN= a prebuilt binary)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-8}
SIZE_MB=${SIZE_MB:-136}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v gpg >/dev/null || need+=(gnupg)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/tfmirror
fi

WORK=$(mktemp -d "$PWD/$OUT/bundle.XXXXXX")
REG_PORT=18484
source bench/registry.sh
start_signed_registry
NGX_PID=$(cat "$WORK/nginx.pid")
WORKER_PID=
cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true
  kill "$NGX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/a.hcl" <<HCL
data_dir = "$WORK/a"
upstream "registry.terraform.io" {
  url = "http://127.0.0.1:$REG_PORT"
}
worker {
  concurrency      = 4
  poll_interval_ms = 100
}
HCL
cat > "$WORK/b.hcl" <<HCL
data_dir = "$WORK/b"
offline  = true
HCL
cat > "$WORK/providers.hcl" <<HCL
provider "hashicorp/bench" {
  versions  = [">= 1.0.0"]
  platforms = ["linux_amd64"]
}
HCL
RUST_LOG=warn "$BIN" --config "$WORK/a.hcl" migrate > /dev/null
RUST_LOG=warn "$BIN" --config "$WORK/a.hcl" worker > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!
RUST_LOG=warn timeout 600 "$BIN" --config "$WORK/a.hcl" load --wait "$WORK/providers.hcl" > "$WORK/load.log" 2>&1 || {
  cat "$WORK/load.log"; exit 1; }
kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true; WORKER_PID=
grep -q "succeeded ($COUNT items: $COUNT succeeded" "$WORK/load.log" || { cat "$WORK/load.log"; exit 1; }
RUST_LOG=warn "$BIN" --config "$WORK/a.hcl" signing-key > "$WORK/a.asc"
# Both sides read the blobs from memory.
find "$WORK/a" -name '*.zip' -exec cat {} + > /dev/null

# measure NAME CMD...: seconds and peak RSS (KiB) of CMD into $WORK/NAME.time.
measure() {
  local name=$1; shift
  sync  # nobody pays for what an earlier step left unwritten
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || {
    cat "$WORK/$name.log"; exit 1; }
}
BLOBS=$(dirname "$(find "$WORK/a" -name '*.zip' -print -quit)")
BLOBS=$(dirname "$BLOBS")
measure tar_c sh -c "tar -cf '$WORK/base.tar' -C '$BLOBS' . && sync -f '$WORK/base.tar'"
measure export env RUST_LOG=warn "$BIN" --config "$WORK/a.hcl" export "$WORK/all.bundle" --all
mkdir -p "$WORK/untar"
measure tar_x sh -c "tar -xf '$WORK/base.tar' -C '$WORK/untar' && sync -f '$WORK/untar'"
RUST_LOG=warn "$BIN" --config "$WORK/b.hcl" migrate > /dev/null
measure import env RUST_LOG=warn "$BIN" --config "$WORK/b.hcl" import-bundle "$WORK/all.bundle" --trusted-key "$WORK/a.asc"
grep -q "providers: $COUNT packages added" "$WORK/import.log" || { cat "$WORK/import.log"; exit 1; }
cp "$WORK/import.log" "$OUT/bundle-import.log"

python3 - "$WORK" "$(stat -c %s "$WORK/all.bundle")" "$(stat -c %s "$WORK/base.tar")" "$(nproc)" <<'PY' | tee "$OUT/bundle-results.txt"
import sys
work, bundle, tar, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def read(name):
    secs, rss, user, system = open(f"{work}/{name}.time").read().split()
    return float(secs), int(rss), float(user) + float(system)
print(f"bundle {bundle / 1e9:.2f} GB (tar of the same blobs {tar / 1e9:.2f} GB), {cores} cores")
print(f"{'step':<34} {'seconds':>8} {'MB/s':>8} {'CPU s':>6} {'peak RSS':>10}")
rows = [("export: tfmirror export --all", "export", bundle),
        ("export: tar -cf + sync", "tar_c", tar),
        ("import: tfmirror import-bundle", "import", bundle),
        ("import: tar -xf + sync", "tar_x", tar)]
for label, name, size in rows:
    secs, rss, cpu = read(name)
    print(f"{label:<34} {secs:8.2f} {size / 1e6 / max(secs, 0.01):8.1f} {cpu:6.2f} {rss / 1024:8.1f} MiB")
e, c, i, x = (read(n)[0] for n in ("export", "tar_c", "import", "tar_x"))
print(f"tfmirror / tar throughput: export {c / e:.2f}, import {x / i:.2f}")
PY
