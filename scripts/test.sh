#!/usr/bin/env bash
# The one command that runs every check and test (the README's test command; .ci/run calls it).
# Installs what the tests need into .tools/, starts a throwaway SeaweedFS S3 server on
# loopback, runs fmt, clippy and the whole nextest suite, and stops the server by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-tools.sh

S3_PORT=${TFM_TEST_S3_PORT:-18333}
S3_DIR=$(mktemp -d "$PWD/.tools/s3run.XXXXXX")
S3_PID=$(scripts/s3-server.sh "$S3_DIR")
cleanup() {
  kill "$S3_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$S3_PID" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$S3_DIR"
}
trap cleanup EXIT
export TFM_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo nextest"
cargo nextest run --locked --no-fail-fast
