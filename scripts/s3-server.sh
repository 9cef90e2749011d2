#!/usr/bin/env bash
# Starts a throwaway SeaweedFS S3 server on loopback for the tests and prints its PID.
# Usage: scripts/s3-server.sh DATA_DIR   (stop it with: kill PID)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?data dir}
S3_PORT=${TFM_TEST_S3_PORT:-18333}
mkdir -p "$DATA"
cat > "$DATA/s3.json" <<'J'
{"identities":[{"name":"admin","credentials":[{"accessKey":"testaccesskey","secretKey":"testsecretkey123"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
J
if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then
  echo "port $S3_PORT is already in use; set TFM_TEST_S3_PORT to a free port" >&2
  exit 1
fi
.tools/venv/bin/weed mini -dir="$DATA/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.telemetry=false -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \
  -s3.port="$S3_PORT" -master.port=$((S3_PORT + 1000)) -volume.port=$((S3_PORT + 1007)) \
  -filer.port=$((S3_PORT + 555)) \
  -s3.config="$DATA/s3.json" -bucket=providers > "$DATA/weed.log" 2>&1 &
PID=$!
for _ in $(seq 1 120); do
  if grep -q "All enabled components are running" "$DATA/weed.log" 2>/dev/null; then
    echo "$PID"
    exit 0
  fi
  if ! kill -0 "$PID" 2>/dev/null; then break; fi
  sleep 0.5
done
echo "SeaweedFS did not start; its log:" >&2
tail -n 30 "$DATA/weed.log" >&2
kill "$PID" 2>/dev/null || true
exit 1
